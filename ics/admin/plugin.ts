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
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { eventJson } from '../http/describe.ts';
import type { AdminRole } from '../auth/index.ts';
import { IcsError } from '../errors.ts';
import { type Caller, callerOf, type HttpContext, type HttpPlugin, outcomeJson } from '../http/index.ts';
import type { IngestOutcome } from '../ingest/index.ts';
import { armor, decodePublicKeyArmor } from '../record/index.ts';
import type { SyncService } from '../sync/index.ts';
import { type Actor, actorName, type AdminComponents, AdminOperations, type StatementBody, userName } from './operations.ts';
import { AdminCertificates, type CertificateFilter, revocationJson } from './certificates.ts';
import { adminSchemas } from './schemas.ts';

/** Certificates one list answers by default, and at most. */
const DEFAULT_CERTIFICATES = 100;
const MAX_CERTIFICATES = 1000;
/** `expiring` looks ahead ten years at most. */
const MAX_WITHIN_SECONDS = 10 * 365 * 86_400;

export function adminPlugin(components: AdminComponents): HttpPlugin {
  return {
    name: 'admin',
    landing: '<p>Admin API (authenticated): <code>/ics/v1/admin/…</code></p>\n',
    register: (scope, host) => registerAdminRoutes(scope, host, components),
  };
}

async function registerAdminRoutes(app: FastifyInstance, ctx: HttpContext, components: AdminComponents): Promise<void> {
  const { store, policy } = ctx.components;
  const ops = new AdminOperations(ctx, components);
  const require = (request: FastifyRequest, needed: AdminRole) => ops.authorize(callerOf(request), needed);
  const actorOf = (request: FastifyRequest, caller: Caller): Actor => {
    const operator = request.headers['ics-operator'];
    return { caller, ip: request.ip, ...(typeof operator === 'string' && { operator }) };
  };
  const answer = (outcome: IngestOutcome) => outcomeJson(outcome);

  app.get('/ics/v1/admin/whoami', { schema: adminSchemas.whoami }, async (request) => {
    const caller = require(request, 'viewer');
    return { name: userName(caller), role: caller.role, domains: caller.domains ?? null };
  });

  app.get('/ics/v1/admin/records/:ref', { schema: adminSchemas.record }, async (request) => {
    const caller = require(request, 'viewer');
    const engine = policy();
    const stored = await ops.resolve((request.params as { ref: string }).ref, caller, engine);
    const record = await ctx.cache.revive(stored);
    return { id: stored.id, kind: record.type, digest: stored.digest, domains: stored.domains.filter(ops.administers(caller, engine)), armored: armor(record.type === 'code' ? 'message' : 'publicKey', stored.bytes) };
  });

  // The history with who made each change (the public history leaves origins out).
  app.get('/ics/v1/admin/records/:ref/history', { schema: adminSchemas.record }, async (request) => {
    const caller = require(request, 'viewer');
    const { id } = await ops.resolve((request.params as { ref: string }).ref, caller, policy());
    return { id, events: (await store.history(id)).map((e) => eventJson(e, true)) };
  });

  app.post('/ics/v1/admin/records/:ref/statements', { schema: adminSchemas.statement }, async (request) => {
    const caller = require(request, 'operator');
    return answer(await ops.state(actorOf(request, caller), (request.params as { ref: string }).ref, request.body as StatementBody));
  });

  app.post('/ics/v1/admin/records/:ref/withdrawals', { schema: adminSchemas.withdrawal }, async (request) => {
    const caller = require(request, 'operator');
    return answer(await ops.withdraw(actorOf(request, caller), (request.params as { ref: string }).ref, (request.body ?? {}) as { reason?: string; userId?: string }));
  });

  app.post('/ics/v1/admin/devices', { schema: adminSchemas.device }, async (request) => {
    const caller = require(request, 'operator');
    const { urn, publicKey, ...statement } = request.body as StatementBody & { urn: string; publicKey: string };
    const bytes = decodePublicKeyArmor(publicKey) ?? Buffer.from(publicKey, 'base64');
    return answer(await ops.register(actorOf(request, caller), bytes, urn, statement));
  });

  app.post('/ics/v1/admin/code', { schema: adminSchemas.code }, async (request) => {
    const caller = require(request, 'operator');
    const { name, version, sha256, sha512, ...statement } = request.body as StatementBody & { name: string; version: string; sha256?: string; sha512?: string };
    return answer(await ops.publishCode(actorOf(request, caller), { name, version, ...(sha256 !== undefined && { sha256 }), ...(sha512 !== undefined && { sha512 }) }, statement));
  });

  // Records signed elsewhere (a countersigning key the operator holds): stored as any
  // submission, in the caller's tenant only, recorded under their name.
  app.post('/ics/v1/admin/records', { schema: adminSchemas.submit }, async (request) => {
    const caller = require(request, 'operator');
    const bytes = decodePublicKeyArmor((request.body as { armored: string }).armored);
    if (!bytes) throw new IcsError('BAD_REQUEST', 'armored: one ASCII-armored public key block (the record)');
    return answer(await ops.submit(actorOf(request, caller), policy(), bytes));
  });

  function syncService(): Pick<SyncService, 'peers' | 'syncNow'> {
    const sync = components.sync?.();
    if (!sync) throw new IcsError('NOT_FOUND', 'this node does not sync (its p2p listener is off, or another process on its database holds the sync role)');
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
    ctx.logger.info({ user: userName(caller), peer: peer ?? 'all' }, 'admin: sync now');
    return report;
  });

  /** An admin of every domain: what changes the whole node (its trust, a backup of all of it) is theirs alone. */
  const requireWholeNode = (request: FastifyRequest, what: string): Caller => {
    const caller = require(request, 'admin');
    if (caller.domains) throw new IcsError('POLICY_REJECTED', `${what} concerns every domain: the user ${userName(caller)} administers only ${caller.domains.join(', ')}`);
    return caller;
  };

  // The policy's trusted issuers (node/trust.ts): a change is written to the policy file and
  // applied by a reload, or undone when the reload refuses it.
  app.get('/ics/v1/admin/trust', { schema: adminSchemas.whoami }, async (request) => {
    require(request, 'viewer');
    return { issuers: policy().policy.trust.issuers.map((i) => ({ name: i.name, fingerprint: i.fingerprint, roles: i.roles, ...(i.domains && { domains: i.domains }) })) };
  });

  app.post('/ics/v1/admin/trust', { schema: adminSchemas.trust }, async (request) => {
    const caller = requireWholeNode(request, 'trust');
    const trust = components.trust;
    if (!trust) throw new IcsError('NOT_FOUND', 'this node changes its trust from its policy file only');
    const { publicKey, ...wanted } = request.body as { publicKey: string; roles: string[]; name?: string; domains?: string[] };
    const bytes = decodePublicKeyArmor(publicKey) ?? Buffer.from(publicKey, 'base64');
    const entry = await trust.add(bytes, wanted);
    ctx.logger.warn({ user: userName(caller), entry }, 'admin: issuer trusted');
    return entry;
  });

  app.post('/ics/v1/admin/trust/:fingerprint/removal', { schema: adminSchemas.untrust }, async (request) => {
    const caller = requireWholeNode(request, 'trust');
    const trust = components.trust;
    if (!trust) throw new IcsError('NOT_FOUND', 'this node changes its trust from its policy file only');
    const removed = await trust.remove((request.params as { fingerprint: string }).fingerprint);
    ctx.logger.warn({ user: userName(caller), removed }, 'admin: issuer no longer trusted');
    return removed;
  });

  // A consistent snapshot of the store and the data directory's files as one gzip'd tar
  // (node/backup.ts), streamed: the node keeps serving and writing while it is taken.
  app.get('/ics/v1/admin/backup', { schema: adminSchemas.backup }, async (request, reply) => {
    const caller = requireWholeNode(request, 'a backup');
    const backup = components.backup;
    if (!backup) throw new IcsError('NOT_FOUND', 'this node takes no backups over its API');
    const includePassphrase = (request.query as { passphrase?: string }).passphrase === 'include';
    const body = new PassThrough();
    const started = Date.now();
    backup(body, { includePassphrase }).then(
      (manifest) => ctx.logger.info({ user: userName(caller), entries: manifest.store.entries, bytes: manifest.store.bytes, ms: Date.now() - started, includePassphrase }, 'admin: backup taken'),
      (error: unknown) => {
        ctx.logger.error({ user: userName(caller), err: error }, 'admin: backup failed');
        // The client sees the stream cut short, and its check of the file fails.
        body.destroy(error as Error);
      },
    );
    const stamp = new Date().toISOString().replace(/[-:]|\.\d+/g, '');
    return reply
      .header('content-type', 'application/gzip')
      .header('content-disposition', `attachment; filename="ics-backup-${stamp}.tar.gz"`)
      .header('cache-control', 'no-store')
      .send(body);
  });

  // Certificates the node's CA issued, of records in the caller's tenant; enrolments waiting
  // for approval; revocation and approval by hand (admin/certificates.ts).
  const certificates = new AdminCertificates(store, ops, components.certificateAuthority);
  app.get('/ics/v1/admin/certificates', { schema: adminSchemas.certificates }, async (request) => {
    const caller = require(request, 'viewer');
    const q = request.query as { record?: string; filter?: CertificateFilter; withinSeconds?: string; limit?: string };
    return certificates.list(caller, policy(), {
      ...(q.record !== undefined && { record: q.record }),
      ...(q.filter !== undefined && { filter: q.filter }),
      ...(q.withinSeconds !== undefined && { withinSeconds: Math.min(Number(q.withinSeconds), MAX_WITHIN_SECONDS) }),
      limit: Math.min(Number(q.limit ?? DEFAULT_CERTIFICATES), MAX_CERTIFICATES),
    });
  });

  app.get('/ics/v1/admin/certificates/:serial', { schema: adminSchemas.certificate }, async (request) => {
    const caller = require(request, 'viewer');
    return certificates.get((request.params as { serial: string }).serial, caller, policy());
  });

  app.post('/ics/v1/admin/certificates/:serial/revocation', { schema: adminSchemas.revocation }, async (request) => {
    const caller = require(request, 'operator');
    const reason = (request.body as { reason?: string } | null)?.reason ?? 'unspecified';
    const done = await certificates.revoke((request.params as { serial: string }).serial, reason, caller, policy(), actorName(actorOf(request, caller)));
    return revocationJson(done);
  });

  app.get('/ics/v1/admin/enrolments', { schema: adminSchemas.enrolments }, async (request) => {
    const caller = require(request, 'viewer');
    return { pending: await certificates.pending(caller, policy()) };
  });

  app.post('/ics/v1/admin/enrolments/:ref/approval', { schema: adminSchemas.approval }, async (request) => {
    const caller = require(request, 'operator');
    return certificates.approve((request.params as { ref: string }).ref, caller, policy(), actorName(actorOf(request, caller)));
  });

  app.post('/ics/v1/admin/policy/reload', { schema: adminSchemas.reload }, async (request) => {
    const caller = require(request, 'admin');
    await components.reloadPolicy();
    const engine = policy();
    ctx.logger.info({ user: userName(caller) }, 'admin: policy reloaded');
    return { reloaded: true, domains: engine.domainNames() };
  });
}
