// Console sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure under TLS) maps
// to the signed-in user and the session's CSRF token, which every form carries back. Kept in
// memory (a restart signs everyone out), bounded, idle ones expire. Failed logins slow down —
// growing delays per account and per address — rather than lock anyone out, so that nobody can
// keep the administrator out by failing on purpose.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Caller } from '../http/index.ts';

export const SESSION_COOKIE = 'ics_console';
/** A session unused this long ends. */
const IDLE_MS = 30 * 60_000;
/** And any session after this long. */
const MAX_AGE_MS = 12 * 3600_000;
/** Sessions held at most (the oldest unused go first). */
const MAX_SESSIONS = 10_000;

export interface Session {
  readonly id: string;
  readonly caller: Caller;
  readonly csrf: string;
  readonly created: number;
  used: number;
}

export class Sessions {
  readonly #sessions = new LRUCache<string, Session>({ max: MAX_SESSIONS });

  create(caller: Caller): Session {
    const now = Date.now();
    const session: Session = { id: randomBytes(32).toString('base64url'), caller, csrf: randomBytes(32).toString('base64url'), created: now, used: now };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session of a cookie value, or undefined (unknown, idle or too old: dropped). */
  get(id: string | undefined): Session | undefined {
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = Date.now();
    if (now - session.used > IDLE_MS || now - session.created > MAX_AGE_MS) {
      this.#sessions.delete(id);
      return undefined;
    }
    session.used = now;
    return session;
  }

  end(id: string): void {
    this.#sessions.delete(id);
  }

  /** True when `token` is the session's CSRF token (constant time). */
  static csrfMatches(session: Session, token: unknown): boolean {
    if (typeof token !== 'string') return false;
    const a = Buffer.from(token);
    const b = Buffer.from(session.csrf);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

/** Longest delay a failed login imposes on the next attempt (per account and per address). */
const MAX_DELAY_MS = 8_000;
/** Failures are forgotten after this long without one. */
const FAILURE_MEMORY_MS = 15 * 60_000;

/** Growing delays after failed logins: 0, 0.25, 0.5, 1, 2 … 8 s, per account and per address. */
export class LoginThrottle {
  readonly #failures = new LRUCache<string, number>({ max: 50_000, ttl: FAILURE_MEMORY_MS });

  /** How long to wait before checking this attempt. */
  delayMs(account: string, address: string): number {
    const n = Math.max(this.#failures.get(`u:${account}`) ?? 0, this.#failures.get(`a:${address}`) ?? 0);
    return n === 0 ? 0 : Math.min(MAX_DELAY_MS, 250 * 2 ** (n - 1));
  }

  failed(account: string, address: string): void {
    for (const key of [`u:${account}`, `a:${address}`]) this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
  }

  succeeded(account: string, address: string): void {
    this.#failures.delete(`u:${account}`);
    this.#failures.delete(`a:${address}`);
  }
}
