// What an operator may see and change on a running node, shared by the admin API and the web
// console: roles (viewer < operator < admin), the user's tenant inside the policy's read rules,
// statements signed with the node's issuer key, and submissions recorded under the user's name.
import type { Writable } from 'node:stream';
import type { AdminCertificateAuthority } from './certificates.ts';
import { type AdminRole, ADMIN_ROLES, LOCAL_OPERATOR } from '../auth/index.ts';
import { IcsError } from '../errors.ts';
import { AuthenticationRequired, type Caller, type HttpContext, originOf } from '../http/index.ts';
import type { IngestContext, IngestOutcome } from '../ingest/index.ts';
import type { PolicyEngine } from '../policy/index.ts';
import { certify, type CodeStatement, codeStatement, type Issuer, issuerFingerprint, type KeyRecord, parseKeyRecord, revokeCertification, signCode } from '../record/index.ts';
import { resolveReference } from '../store/index.ts';
import type { StoredRecord } from '../store/types.ts';
import type { SyncService } from '../sync/index.ts';
import { type StatementRequest, statementInput } from './statements.ts';

/** What the admin API and the console need of the node besides the host's store, policy and ingest. */
export interface AdminComponents {
  /** The node's issuer key (a file decrypted, or a token key). */
  readonly issuerKey: () => Promise<Issuer>;
  /** Reloads the policy file; on error the old policy stays and the error is answered. */
  readonly reloadPolicy: () => Promise<void>;
  /** The sync service, when the node syncs (libp2p listener on). */
  readonly sync?: () => Pick<SyncService, 'peers' | 'syncNow'> | undefined;
  /** The node's CA, when it has one: revocations and approvals by hand. */
  readonly certificateAuthority?: AdminCertificateAuthority;
  /** Changes the policy's trusted issuers (node/trust.ts), then reloads it; undone when the reload refuses. */
  readonly trust?: {
    add(publicKey: Uint8Array, request: { roles: string[]; name?: string; domains?: string[] }): Promise<object>;
    remove(fingerprint: string): Promise<object>;
  };
  /** Writes a backup of the node's data directory and store (node/backup.ts) to `out`. */
  readonly backup?: (out: Writable, options: { includePassphrase: boolean }) => Promise<{ readonly store: { readonly entries: number; readonly bytes: number } }>;
}

export interface StatementBody extends StatementRequest {
  readonly expiresInSeconds?: number;
  readonly userId?: string;
}

/** Who made a change, for the history: the caller, from this address (the local operator may name its OS user). */
export interface Actor {
  readonly caller: Caller;
  readonly ip: string;
  /** The OS user the CLI names for the local operator. */
  readonly operator?: string;
}

/** Longest operating-system user name the CLI may name for the history. */
const MAX_OPERATOR_NAME = 64;

export const userName = (caller: Caller) => (caller.principal.kind === 'user' ? caller.principal.name : '');

/** Who made a change, as the history and the CA's files name them: the user, or the local operator with the OS user the CLI gave. */
export function actorName(actor: Actor): string {
  const { caller, operator } = actor;
  const local = userName(caller) === LOCAL_OPERATOR && operator !== undefined && /^[A-Za-z0-9._-]+$/.test(operator) && operator.length <= MAX_OPERATOR_NAME;
  return local ? `${LOCAL_OPERATOR}:${operator}` : userName(caller);
}

export class AdminOperations {
  constructor(
    private readonly ctx: HttpContext,
    readonly components: AdminComponents,
  ) {}

  /** The caller, if their role reaches `needed`: UNAUTHENTICATED for anonymous callers, POLICY_REJECTED below it. */
  authorize(caller: Caller, needed: AdminRole): Caller {
    if (caller.principal.kind === 'anonymous' || caller.role === undefined) throw new AuthenticationRequired('the admin API needs credentials');
    if (ADMIN_ROLES.indexOf(caller.role) < ADMIN_ROLES.indexOf(needed)) {
      throw new IcsError('POLICY_REJECTED', `this needs the ${needed} role (the user ${userName(caller)} is ${caller.role})`);
    }
    return caller;
  }

  /** Domains the caller administers: their tenant, within what the policy lets them read. */
  administers(caller: Caller, engine: PolicyEngine): (domain: string) => boolean {
    if (userName(caller) === LOCAL_OPERATOR) return () => true;
    const tenant = caller.domains === undefined ? undefined : new Set(caller.domains);
    return (domain) => (tenant === undefined || tenant.has(domain)) && engine.canRead(domain, caller.principal);
  }

  /** The record a reference names among those the caller administers (others: 404, unseen). */
  resolve(reference: string, caller: Caller, engine: PolicyEngine): Promise<StoredRecord> {
    const mine = this.administers(caller, engine);
    return resolveReference(this.ctx.components.store, reference, { visible: (stored) => stored.domains.some(mine), revive: (stored) => this.ctx.cache.revive(stored) });
  }

  async keyRecord(stored: StoredRecord): Promise<KeyRecord> {
    const record = await this.ctx.cache.revive(stored);
    if (record.type !== 'key') throw new IcsError('BAD_REQUEST', `${record.id} is a code record: statements on code are made with its signatures (/ics/v1/code)`);
    return record;
  }

  /** The node certifies the record (a key) or signs its statement (code) with the statement asked for. */
  async state(actor: Actor, reference: string, body: StatementBody): Promise<IngestOutcome> {
    const engine = this.ctx.components.policy();
    const stored = await this.resolve(reference, actor.caller, engine);
    const found = await this.ctx.cache.revive(stored);
    const issuer = await this.components.issuerKey();
    if (found.type === 'code') {
      const input = statementInput(engine, body, issuerFingerprint(issuer));
      const signed = await signCode(found.statement, issuer, input, { record: found, ...(body.expiresInSeconds !== undefined && { expiresInSeconds: body.expiresInSeconds }) });
      return this.submit(actor, engine, signed.bytes);
    }
    const signed = await certify(found, issuer, statementInput(engine, body, issuerFingerprint(issuer)), {
      ...(body.userId !== undefined && { userId: body.userId }),
      ...(body.expiresInSeconds !== undefined && { expiresInSeconds: body.expiresInSeconds }),
    });
    return this.submit(actor, engine, signed.bytes);
  }

  /** The node withdraws its certifications of the record. */
  async withdraw(actor: Actor, reference: string, body: { reason?: string; userId?: string }): Promise<IngestOutcome> {
    const engine = this.ctx.components.policy();
    const record = await this.keyRecord(await this.resolve(reference, actor.caller, engine));
    const signed = await revokeCertification(record, await this.components.issuerKey(), {
      ...(body.userId !== undefined && { userId: body.userId }),
      ...(body.reason !== undefined && { reason: body.reason }),
    });
    return this.submit(actor, engine, signed.bytes);
  }

  /** A code statement (name, version, digests) signed by the node: a new code record, or a signature more on it. */
  async publishCode(actor: Actor, subject: { name: string; version: string; sha256?: string; sha512?: string }, body: StatementBody): Promise<IngestOutcome> {
    const engine = this.ctx.components.policy();
    const statement: CodeStatement = codeStatement(subject.name, subject.version, {
      ...(subject.sha256 !== undefined && { sha256: subject.sha256.toLowerCase() }),
      ...(subject.sha512 !== undefined && { sha512: subject.sha512.toLowerCase() }),
    });
    const issuer = await this.components.issuerKey();
    const record = await signCode(statement, issuer, statementInput(engine, body, issuerFingerprint(issuer)), {
      ...(body.expiresInSeconds !== undefined && { expiresInSeconds: body.expiresInSeconds }),
    });
    return this.submit(actor, engine, record.bytes);
  }

  /** A device from its public key, certified by the node. */
  async register(actor: Actor, publicKey: Uint8Array, urn: string, body: StatementBody): Promise<IngestOutcome> {
    const engine = this.ctx.components.policy();
    const { record } = await parseKeyRecord(publicKey);
    if (!record.userIds.some((u) => u.userId === urn)) throw new IcsError('BAD_REQUEST', `the public key has no user ID ${urn}`);
    const issuer = await this.components.issuerKey();
    const signed = await certify(record, issuer, statementInput(engine, body, issuerFingerprint(issuer)), {
      userId: urn,
      ...(body.expiresInSeconds !== undefined && { expiresInSeconds: body.expiresInSeconds }),
    });
    return this.submit(actor, engine, signed.bytes);
  }

  /** A record as any submission, in the caller's tenant only, recorded under their name. */
  async submit(actor: Actor, engine: PolicyEngine, bytes: Uint8Array): Promise<IngestOutcome> {
    const release = await this.ctx.writes.acquire();
    let outcome: IngestOutcome;
    try {
      outcome = await this.ctx.components.ingest.submit(bytes, this.#contextOf(actor, engine));
    } finally {
      release();
    }
    this.ctx.metrics.submitted.inc({ via: 'admin', action: outcome.action });
    for (const d of outcome.dropped) this.ctx.metrics.dropped.inc({ reason: d.reason });
    this.ctx.logger.info({ user: userName(actor.caller), id: outcome.id, action: outcome.action, signaturesAdded: outcome.signaturesAdded }, 'admin: record changed');
    return outcome;
  }

  #contextOf(actor: Actor, engine: PolicyEngine): IngestContext {
    const { caller } = actor;
    const name = actorName(actor);
    const named = name === userName(caller) ? caller : { ...caller, principal: { kind: 'user' as const, name } };
    return { source: 'admin', origin: originOf(named, actor.ip), readable: this.administers(caller, engine) };
  }
}
