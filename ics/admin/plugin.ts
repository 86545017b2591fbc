// The admin API (`/ics/v1/admin/…`), a plugin of the HTTP host: what an operator changes on a
// running node — statements signed with the node's issuer key (status, certify, withdraw),
// devices registered from their public keys, records signed elsewhere, a policy reload — and
// what they look at to do it. The CLI uses it when a node runs on its data directory (with
// the local operator's token); users authenticate with their passwords, over HTTPS.
//
// Who may do what: viewer reads, operator also writes statements, admin also reloads the
// policy (auth/authenticator.ts). A user's tenant (`domains`) bounds what the API shows and
// changes for them, inside the policy's read rules: a record outside it is answered 404, as
// if it did not exist. Each write is recorded in the record's history with the user's name.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type AdminRole, ADMIN_ROLES, LOCAL_OPERATOR } from '../auth/index.ts';
import { IcsError } from '../errors.ts';
import { AuthenticationRequired, type Caller, callerOf, type HttpContext, type HttpPlugin, originOf, outcomeJson } from '../http/index.ts';
import type { IngestContext, IngestOutcome } from '../ingest/index.ts';
import type { PolicyEngine } from '../policy/index.ts';
import {
  armor,
  certify,
  decodePublicKeyArmor,
  type Issuer,
  issuerFingerprint,
  type KeyRecord,
  parseKeyRecord,
  revokeCertification,
} from '../record/index.ts';
import { eventJson } from '../api/describe.ts';
import { resolveReference } from '../store/index.ts';
import type { StoredRecord } from '../store/types.ts';
import type { SyncService } from '../sync/index.ts';
import { adminSchemas } from './schemas.ts';
import { type StatementRequest, statementInput } from './statements.ts';

/** What the admin API needs of the node besides the host's store, policy and ingest. */
export interface AdminComponents {
  /** The node's issuer key (a file decrypted, or a token key). */
  readonly issuerKey: () => Promise<Issuer>;
  /** Reloads the policy file; on error the old policy stays and the error is answered. */
  readonly reloadPolicy: () => Promise<void>;
  /** The sync service, when the node syncs (libp2p listener on). */
  readonly sync?: () => Pick<SyncService, 'peers' | 'syncNow'> | undefined;
}

/** Longest operating-system user name the CLI may name for the history (`ics-operator` header). */
const MAX_OPERATOR_NAME = 64;

export function adminPlugin(components: AdminComponents): HttpPlugin {
  return {
    name: 'admin',
    landing: '<p>Admin API (authenticated): <code>/ics/v1/admin/…</code></p>\n',
    register: (scope, host) => registerAdminRoutes(scope, host, components),
  };
}

interface StatementBody extends StatementRequest {
  readonly expiresInSeconds?: number;
  readonly userId?: string;
}

async function registerAdminRoutes(app: FastifyInstance, ctx: HttpContext, components: AdminComponents): Promise<void> {
  const { store, policy, ingest } = ctx.components;

  /** The caller, if their role reaches `needed`; 401 for anonymous callers, 403 below it. */
  function require(request: FastifyRequest, needed: AdminRole): Caller {
    const caller = callerOf(request);
    if (caller.principal.kind === 'anonymous' || caller.role === undefined) throw new AuthenticationRequired('the admin API needs credentials');
    if (ADMIN_ROLES.indexOf(caller.role) < ADMIN_ROLES.indexOf(needed)) {
      throw new IcsError('POLICY_REJECTED', `this needs the ${needed} role (the user ${caller.principal.kind === 'user' ? caller.principal.name : ''} is ${caller.role})`);
    }
    return caller;
  }

  /** Domains the caller administers: their tenant, within what the policy lets them read. */
  function administers(caller: Caller, engine: PolicyEngine): (domain: string) => boolean {
    if (caller.principal.kind === 'user' && caller.principal.name === LOCAL_OPERATOR) return () => true;
    const tenant = caller.domains === undefined ? undefined : new Set(caller.domains);
    return (domain) => (tenant === undefined || tenant.has(domain)) && engine.canRead(domain, caller.principal);
  }

  /** The record a reference names among those the caller administers (others: 404, unseen). */
  function resolve(reference: string, caller: Caller, engine: PolicyEngine): Promise<StoredRecord> {
    const mine = administers(caller, engine);
    return resolveReference(store, reference, { visible: (stored) => stored.domains.some(mine), revive: (stored) => ctx.cache.revive(stored) });
  }

  /** Who the history names: the user (and, for the local operator, the OS user the CLI names) at the client address. */
  function contextOf(request: FastifyRequest, caller: Caller, engine: PolicyEngine): IngestContext {
    const operator = request.headers['ics-operator'];
    const named =
      caller.principal.kind === 'user' && caller.principal.name === LOCAL_OPERATOR && typeof operator === 'string' && /^[A-Za-z0-9._-]+$/.test(operator) && operator.length <= MAX_OPERATOR_NAME
        ? { ...caller, principal: { kind: 'user' as const, name: `${LOCAL_OPERATOR}:${operator}` } }
        : caller;
    return { source: 'admin', origin: originOf(named, request.ip), readable: administers(caller, engine) };
  }

  async function submit(request: FastifyRequest, caller: Caller, engine: PolicyEngine, bytes: Uint8Array): Promise<ReturnType<typeof outcomeJson>> {
    const release = await ctx.writes.acquire();
    let outcome: IngestOutcome;
    try {
      outcome = await ingest.submit(bytes, contextOf(request, caller, engine));
    } finally {
      release();
    }
    ctx.metrics.submitted.inc({ via: 'admin', action: outcome.action });
    for (const d of outcome.dropped) ctx.metrics.dropped.inc({ reason: d.reason });
    const principal = caller.principal.kind === 'user' ? caller.principal.name : 'anonymous';
    ctx.logger.info({ user: principal, id: outcome.id, action: outcome.action, signaturesAdded: outcome.signaturesAdded }, 'admin: record changed');
    return outcomeJson(outcome);
  }

  async function keyRecord(stored: StoredRecord): Promise<KeyRecord> {
    const record = await ctx.cache.revive(stored);
    if (record.type !== 'key') throw new IcsError('BAD_REQUEST', `${record.id} is a code record: statements on code are made with its signatures (/ics/v1/code)`);
    return record;
  }

  app.get('/ics/v1/admin/whoami', { schema: adminSchemas.whoami }, async (request) => {
    const caller = require(request, 'viewer');
    return { name: caller.principal.kind === 'user' ? caller.principal.name : '', role: caller.role, domains: caller.domains ?? null };
  });

  app.get('/ics/v1/admin/records/:ref', { schema: adminSchemas.record }, async (request) => {
    const caller = require(request, 'viewer');
    const engine = policy();
    const stored = await resolve((request.params as { ref: string }).ref, caller, engine);
    const record = await ctx.cache.revive(stored);
    return { id: stored.id, kind: record.type, digest: stored.digest, domains: stored.domains.filter(administers(caller, engine)), armored: armor(record.type === 'code' ? 'message' : 'publicKey', stored.bytes) };
  });

  // The history with who made each change (the public history leaves origins out).
  app.get('/ics/v1/admin/records/:ref/history', { schema: adminSchemas.record }, async (request) => {
    const caller = require(request, 'viewer');
    const { id } = await resolve((request.params as { ref: string }).ref, caller, policy());
    return { id, events: (await store.history(id)).map((e) => eventJson(e, true)) };
  });

  app.post('/ics/v1/admin/records/:ref/statements', { schema: adminSchemas.statement }, async (request) => {
    const caller = require(request, 'operator');
    const engine = policy();
    const body = request.body as StatementBody;
    const record = await keyRecord(await resolve((request.params as { ref: string }).ref, caller, engine));
    const issuer = await components.issuerKey();
    const signed = await certify(record, issuer, statementInput(engine, body, issuerFingerprint(issuer)), {
      ...(body.userId !== undefined && { userId: body.userId }),
      ...(body.expiresInSeconds !== undefined && { expiresInSeconds: body.expiresInSeconds }),
    });
    return submit(request, caller, engine, signed.bytes);
  });

  app.post('/ics/v1/admin/records/:ref/withdrawals', { schema: adminSchemas.withdrawal }, async (request) => {
    const caller = require(request, 'operator');
    const engine = policy();
    const body = (request.body ?? {}) as { reason?: string; userId?: string };
    const record = await keyRecord(await resolve((request.params as { ref: string }).ref, caller, engine));
    const signed = await revokeCertification(record, await components.issuerKey(), { ...(body.userId !== undefined && { userId: body.userId }), ...(body.reason !== undefined && { reason: body.reason }) });
    return submit(request, caller, engine, signed.bytes);
  });

  app.post('/ics/v1/admin/devices', { schema: adminSchemas.device }, async (request) => {
    const caller = require(request, 'operator');
    const engine = policy();
    const body = request.body as StatementBody & { urn: string; publicKey: string };
    const bytes = decodePublicKeyArmor(body.publicKey) ?? Buffer.from(body.publicKey, 'base64');
    const { record } = await parseKeyRecord(bytes);
    if (!record.userIds.some((u) => u.userId === body.urn)) throw new IcsError('BAD_REQUEST', `the public key has no user ID ${body.urn}`);
    const issuer = await components.issuerKey();
    const signed = await certify(record, issuer, statementInput(engine, body, issuerFingerprint(issuer)), {
      userId: body.urn,
      ...(body.expiresInSeconds !== undefined && { expiresInSeconds: body.expiresInSeconds }),
    });
    return submit(request, caller, engine, signed.bytes);
  });

  // Records signed elsewhere (a countersigning key the operator holds): stored as any
  // submission, in the caller's tenant only, recorded under their name.
  app.post('/ics/v1/admin/records', { schema: adminSchemas.submit }, async (request) => {
    const caller = require(request, 'operator');
    const body = request.body as { armored: string };
    const bytes = decodePublicKeyArmor(body.armored);
    if (!bytes) throw new IcsError('BAD_REQUEST', 'armored: one ASCII-armored public key block (the record)');
    return submit(request, caller, policy(), bytes);
  });

  function syncService(): Pick<SyncService, 'peers' | 'syncNow'> {
    const sync = components.sync?.();
    if (!sync) throw new IcsError('NOT_FOUND', 'this node does not sync (its p2p listener is off)');
    return sync;
  }

  app.get('/ics/v1/admin/peers', { schema: adminSchemas.whoami }, async (request) => {
    require(request, 'viewer');
    return { peers: syncService().peers() };
  });

  // Reconciles now rather than at the next interval: after a status change an operator wants
  // out at once, or to see whether a peer answers at all.
  app.post('/ics/v1/admin/sync', { schema: adminSchemas.syncNow }, async (request) => {
    const caller = require(request, 'operator');
    const peer = (request.body as { peer?: string } | null)?.peer;
    const report = await syncService().syncNow(peer);
    ctx.logger.info({ user: caller.principal.kind === 'user' ? caller.principal.name : '', peer: peer ?? 'all' }, 'admin: sync now');
    return report;
  });

  app.post('/ics/v1/admin/policy/reload', { schema: adminSchemas.reload }, async (request) => {
    const caller = require(request, 'admin');
    await components.reloadPolicy();
    const engine = policy();
    ctx.logger.info({ user: caller.principal.kind === 'user' ? caller.principal.name : '' }, 'admin: policy reloaded');
    return { reloaded: true, domains: engine.domainNames() };
  });
}
