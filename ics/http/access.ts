// Who is asking (HTTP basic auth, RFC 7617) and what they may read and write. What a caller
// may read is the policy's read rule (policy/read-rule.ts): a record in no domain the caller
// may read is answered as if it did not exist (404), so that private domains do not leak
// which ids they hold.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { type AdminRole, type Authenticator, LOCAL_OPERATOR, type LocalOperatorToken } from '../auth/index.ts';
import { type Filed, mayRead, type PolicyEngine, type Principal } from '../policy/index.ts';
import { AUTH_CACHE_ENTRIES, AUTH_CACHE_TTL_MS } from './limits.ts';

export interface Caller {
  readonly principal: Principal;
  /** May submit records when writes require authentication. */
  readonly write: boolean;
  /** What the admin API lets the caller do; absent: nothing (anonymous). */
  readonly role?: AdminRole;
  /** The caller's tenant (domains the admin API shows and changes); absent: every domain. */
  readonly domains?: readonly string[];
}

/** The local operator (the data directory's admin.token): every right, every domain. */
const LOCAL_CALLER: Caller = Object.freeze({ principal: Object.freeze({ kind: 'user' as const, name: LOCAL_OPERATOR }), write: true, role: 'admin' as const });

export const ANONYMOUS: Caller = Object.freeze({ principal: Object.freeze({ kind: 'anonymous' as const }), write: false });

/** Credentials were sent but are wrong or malformed, or a write needs them: answered 401. */
export class AuthenticationRequired extends Error {
  override readonly name = 'AuthenticationRequired';
}

/** Longest Authorization header accepted (a name of ≤ 63 characters and a password of ≤ 1 KiB, base64). */
const MAX_AUTHORIZATION_LENGTH = 2048;

export class Access {
  readonly #authenticator: Authenticator | undefined;
  readonly #localToken: LocalOperatorToken | undefined;
  /** sha256(header) → caller and expiry: successful checks only, so a wrong guess always costs scrypt. */
  readonly #cache = new LRUCache<string, { caller: Caller; until: number }>({ max: AUTH_CACHE_ENTRIES });
  /** sha256(header) → its check in progress: clients sending the same credentials at once share one scrypt. */
  readonly #checking = new Map<string, Promise<Caller>>();

  constructor(authenticator: Authenticator | undefined, localToken?: LocalOperatorToken) {
    this.#authenticator = authenticator;
    this.#localToken = localToken;
  }

  get authenticates(): boolean {
    return this.#authenticator !== undefined || this.#localToken !== undefined;
  }

  /** True for a bearer header: the local operator's token (the only bearer tokens there are). */
  static isBearer(header: string): boolean {
    return /^Bearer /i.test(header);
  }

  /** The caller for a header that passed its check within AUTH_CACHE_TTL_MS (no scrypt), if any. */
  known(header: string): Caller | undefined {
    if (this.#authenticator === undefined || header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
    const hit = this.#cache.get(createHash('sha256').update(header).digest('base64'));
    return hit && hit.until > Date.now() ? hit.caller : undefined;
  }

  /**
   * The caller for an Authorization header. No header: anonymous. Without an authenticator
   * credentials are ignored (the node has no users). Wrong or malformed: AuthenticationRequired.
   */
  async caller(header: string | undefined): Promise<Caller> {
    if (header === undefined || !this.authenticates) return ANONYMOUS;
    if (header.length > MAX_AUTHORIZATION_LENGTH) throw new AuthenticationRequired('credentials too long');
    if (Access.isBearer(header)) {
      if (this.#localToken?.matches(header)) return LOCAL_CALLER;
      const token = /^Bearer +([A-Za-z0-9_-]{1,256}) *$/i.exec(header)?.[1];
      const user = token === undefined ? undefined : this.#authenticator?.authenticateToken?.(token);
      if (!user) throw new AuthenticationRequired('unknown bearer token');
      return { principal: user.principal, write: user.write, role: user.role, ...(user.domains && { domains: user.domains }) };
    }
    if (this.#authenticator === undefined) return ANONYMOUS;
    const key = createHash('sha256').update(header).digest('base64');
    const now = Date.now();
    const hit = this.#cache.get(key);
    if (hit && hit.until > now) return hit.caller;
    let check = this.#checking.get(key);
    if (!check) {
      check = this.#check(header, key, now).finally(() => this.#checking.delete(key));
      this.#checking.set(key, check);
    }
    return check;
  }

  async #check(header: string, key: string, now: number): Promise<Caller> {
    if (this.#authenticator === undefined) return ANONYMOUS;
    const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
    if (!match?.[1]) throw new AuthenticationRequired('only HTTP basic authentication is supported');
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new AuthenticationRequired('malformed basic credentials');
    const user = await this.#authenticator.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (!user) throw new AuthenticationRequired('wrong user name or password');
    const caller: Caller = { principal: user.principal, write: user.write, role: user.role, ...(user.domains && { domains: user.domains }) };
    this.#cache.set(key, { caller, until: now + AUTH_CACHE_TTL_MS });
    return caller;
  }

  /** The read rule (policy/read-rule.ts): one of the record's domains is readable by `principal` under `engine`. */
  canRead(stored: Filed, engine: PolicyEngine, principal: Principal): boolean {
    return mayRead(engine, principal, stored);
  }
}
