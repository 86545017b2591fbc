// The JSON API plugin of the HTTP host (`/ics/v1/…`, DESIGN §5) for what HKP cannot carry:
// records by id with their history, the verdict a gateway asks for at runtime, code records
// (publish a statement with detached signatures, add signatures, status, lookup by artifact
// digest), node status, and submissions with a JSON answer. Read rules as for HKP: a record
// the caller may not read is answered 404. Its problems are JSON, the host's default.
import type { FastifyInstance } from 'fastify';
import { IcsError } from '../errors.ts';
import {
  answerSubmission,
  type Caller,
  callerOf,
  type HttpContext,
  type HttpPlugin,
  ingestSubmission,
  noInputSchema,
  outcomeJson,
  RESULT_LIMIT,
  requireWriter,
  storeFigures,
  submissionOf,
  TOKEN_SCAN_CAP,
} from '../http/index.ts';
import type { IngestOutcome } from '../ingest/index.ts';
import { nextExpiry, type PolicyEngine, type Principal } from '../policy/index.ts';
import { armor, type CodeRecord, type CodeStatement, codeRecordBytes, DEFAULT_LIMITS, dearmor, decodePublicKeyArmor } from '../record/index.ts';
import { resolveReference } from '../store/index.ts';
import type { StoredRecord } from '../store/types.ts';
import { registerChangeStream } from './changes.ts';
import { LogAnswers, registerLogRoutes } from './log.ts';
import { certificateEventsJson, eventJson, recordJson, verdictJson } from '../http/describe.ts';
import {
  addCodeSignaturesSchema,
  codeByDigestSchema,
  codeRecordSchema,
  publishCodeSchema,
  recordSchema,
  submitRecordsSchema,
  verifySchema,
} from './schemas.ts';
import type { ApiComponents, ApiInit } from './types.ts';
import { VerdictCache } from './verdicts.ts';

export const DEFAULT_API_INIT: ApiInit = Object.freeze({ resultLimit: RESULT_LIMIT, writesRequireAuth: false });

const LANDING = `<p>JSON API: <a href="/ics/v1/status">/ics/v1/status</a>, <code>/ics/v1/records/{id}</code>, <code>/ics/v1/verify/{id}</code>, <code>/ics/v1/code</code>, <code>/ics/v1/changes</code> (server-sent events); metrics: <a href="/metrics">/metrics</a></p>
`;

/** The JSON API with `changes` to DEFAULT_API_INIT; bad tuning is CONFIG_INVALID. */
export function apiPlugin(changes: Partial<ApiInit> = {}, components: ApiComponents = {}): HttpPlugin {
  const init: ApiInit = { ...DEFAULT_API_INIT, ...changes };
  if (!Number.isInteger(init.resultLimit) || init.resultLimit < 1) {
    throw new IcsError('CONFIG_INVALID', 'api: resultLimit must be an integer ≥ 1', { details: { errors: ['resultLimit must be an integer ≥ 1'] } });
  }
  return { name: 'api', landing: LANDING, register: (scope, host) => registerRoutes(scope, host, init, components) };
}

const PacketTag = { signature: 2, publicKey: 6, literalData: 11 } as const;

/** Lower-case form of an id accepted by CODE_ID_PATTERN. */
export function normaliseId(id: string): string {
  return id.toLowerCase();
}

/** Tag of the first packet (RFC 4880 §4.2: new or old format header), or undefined. */
function firstPacketTag(bytes: Uint8Array): number | undefined {
  const ctb = bytes[0];
  if (ctb === undefined || (ctb & 0x80) === 0) return undefined;
  return ctb & 0x40 ? ctb & 0x3f : (ctb >> 2) & 0x0f;
}

const principalName = (p: Principal) => (p.kind === 'user' ? p.name : p.kind === 'peer' ? p.peerId : 'anonymous');

/** The parsed body; none at all (no Content-Type, nothing sent) is a bad request. */
function bodyOf<T>(body: unknown): T {
  if (body === undefined || body === null) throw new IcsError('BAD_REQUEST', 'this endpoint needs a request body');
  return body as T;
}

/** Detached signatures as sent: armored `PGP SIGNATURE` blocks or base64 of the binary packets. */
async function signaturePackets(texts: readonly string[]): Promise<Uint8Array[]> {
  return Promise.all(
    texts.map(async (text, i) => {
      const trimmed = text.trim();
      let bytes: Uint8Array;
      if (trimmed.startsWith('-----BEGIN PGP SIGNATURE-----')) bytes = await dearmor(trimmed, DEFAULT_LIMITS);
      else if (/^[A-Za-z0-9+/\s]+={0,2}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
      else throw new IcsError('BAD_REQUEST', `signatures[${i}] is neither an armored PGP SIGNATURE nor base64`);
      if (firstPacketTag(bytes) !== PacketTag.signature) throw new IcsError('RECORD_MALFORMED', `signatures[${i}] is not an OpenPGP signature`);
      return bytes;
    }),
  );
}

async function registerRoutes(app: FastifyInstance, ctx: HttpContext, init: ApiInit, components: ApiComponents): Promise<void> {
  const { store, policy, ingest } = ctx.components;
  const verdicts = new VerdictCache(ctx.cache, components.verdicts);

  /** The stored record if the caller may read it; NOT_FOUND otherwise (also when it exists but is private). */
  async function readable(id: string, caller: Caller, engine: PolicyEngine): Promise<StoredRecord> {
    const stored = await store.get(id);
    if (!stored || !ctx.access.canRead(stored, engine, caller.principal)) throw new IcsError('NOT_FOUND', `no record ${id}`);
    return stored;
  }

  /**
   * The record a reference names (fingerprint, key id, code id or exact user ID, as `ics
   * verify` takes), among those the caller may read: unreadable records are neither found nor
   * counted toward an ambiguity, so neither answer reveals them.
   */
  function resolve(reference: string, caller: Caller, engine: PolicyEngine): Promise<StoredRecord> {
    return resolveReference(store, reference, {
      visible: (stored) => ctx.access.canRead(stored, engine, caller.principal),
      revive: (stored) => ctx.cache.revive(stored),
    });
  }

  const submitted = (outcome: IngestOutcome) => {
    ctx.metrics.submitted.inc({ via: 'api', action: outcome.action });
    for (const d of outcome.dropped) ctx.metrics.dropped.inc({ reason: d.reason });
    return outcomeJson(outcome);
  };

  // ---- reads -----------------------------------------------------------------------------

  app.get('/ics/v1/records/:id', { schema: recordSchema }, async (request) => {
    const engine = policy();
    const stored = await resolve((request.params as { id: string }).id, callerOf(request), engine);
    const record = await ctx.cache.revive(stored);
    const armored = ctx.cache.armored(stored, (bytes) => armor(record.type === 'code' ? 'message' : 'publicKey', bytes));
    return recordJson(stored, record, engine, armored.toString('utf8'));
  });

  app.get('/ics/v1/records/:id/history', { schema: recordSchema }, async (request) => {
    const { id } = await resolve((request.params as { id: string }).id, callerOf(request), policy());
    const [events, certificates] = await Promise.all([store.history(id), store.certificatesOf(id)]);
    const showOrigin = callerOf(request).principal.kind !== 'anonymous';
    return { id, events: events.map((e) => eventJson(e, showOrigin)), certificates: certificateEventsJson(certificates) };
  });

  // The gateway's runtime question: the answer is made once per record version and policy
  // (verdicts.ts) and is the shape VERDICT_SCHEMA describes.
  const logAnswers = components.log && new LogAnswers(ctx, components.log);
  app.get('/ics/v1/verify/:id', { schema: verifySchema }, async (request, reply) => {
    const engine = policy();
    const caller = callerOf(request);
    const stored = await resolve((request.params as { id: string }).id, caller, engine);
    const verdict = await verdicts.json(stored, engine, new Date());
    if ((request.query as { proof?: string }).proof !== '1') return reply.type('application/json; charset=utf-8').send(verdict);
    if (!logAnswers) throw new IcsError('NOT_FOUND', 'this node keeps no transparency log');
    // The verdict, the record it is about (so that the gateway can check the digest the leaf names) and the log's proofs.
    const record = await ctx.cache.revive(stored);
    const armored = ctx.cache.armored(stored, (bytes) => armor(record.type === 'code' ? 'message' : 'publicKey', bytes)).toString('utf8');
    const proofs = await logAnswers.proofs(stored, caller, engine);
    return { verdict: JSON.parse(verdict.toString('utf8')) as unknown, record: { id: stored.id, digest: stored.digest, seq: stored.seq, armored }, log: proofs };
  });
  if (logAnswers && components.log) registerLogRoutes(app, ctx, logAnswers, components.log);

  registerChangeStream(app, ctx, verdicts);

  app.get('/ics/v1/code/:id', { schema: codeRecordSchema }, async (request) => {
    const engine = policy();
    const id = normaliseId((request.params as { id: string }).id);
    const stored = await readable(id, callerOf(request), engine);
    const record = await ctx.cache.revive(stored);
    if (record.type !== 'code') throw new IcsError('NOT_FOUND', `no code record ${id}`);
    const now = new Date();
    const validUntil = Math.min(nextExpiry(record, now.getTime()), engine.nextIssuerChange(now.getTime()));
    const verdict = verdictJson(engine.verdict(record, now), engine, stored.digest, now, validUntil);
    return { id, digest: stored.digest, statement: record.statement, verdict };
  });

  app.get('/ics/v1/code', { schema: codeByDigestSchema }, async (request) => {
    const engine = policy();
    const query = request.query as { sha256?: string; sha512?: string };
    const [algorithm, hex] = query.sha256 !== undefined ? ['sha256', query.sha256] : ['sha512', query.sha512 as string];
    const ids = await store.findByToken(`${algorithm}:${hex.toLowerCase()}`, { limit: TOKEN_SCAN_CAP });
    const results = [];
    for (const stored of await store.getMany(ids)) {
      if (!stored || stored.kind !== 'code' || !ctx.access.canRead(stored, engine, callerOf(request).principal)) continue;
      const record = (await ctx.cache.revive(stored)) as CodeRecord;
      if (record.statement.subject.digest[algorithm as 'sha256' | 'sha512'] !== hex.toLowerCase()) continue;
      const verdict = engine.verdict(record);
      results.push({ id: stored.id, statement: record.statement, status: verdict.status, trusted: verdict.trusted });
      if (results.length >= init.resultLimit) break;
    }
    if (results.length === 0) throw new IcsError('NOT_FOUND', `no code record for ${algorithm} ${hex.toLowerCase()}`);
    return { results };
  });

  app.get('/ics/v1/status', { schema: noInputSchema }, async (request) => {
    const engine = policy();
    const figures = await storeFigures(store, engine, callerOf(request).principal);
    const now = new Date();
    // Sync state counts every domain's records: only for a caller who may read them all.
    const extra = figures.totals && components.statusSections ? await components.statusSections() : {};
    return {
      ...extra,
      name: ctx.init.nodeInfo.name,
      role: ctx.init.nodeInfo.role,
      version: ctx.init.nodeInfo.version,
      software: 'cm4it-ics',
      startedAt: ctx.startedAt.toISOString(),
      uptimeSeconds: Math.floor((now.getTime() - ctx.startedAt.getTime()) / 1000),
      store: { ...figures.totals, domains: figures.domains },
      policy: {
        // A private domain's very name is not for a caller who may not read it.
        domains: engine
          .domainNames()
          .filter((name) => figures.totals !== undefined || engine.canRead(name, callerOf(request).principal))
          .map((name) => ({
            name,
            public: engine.domain(name)?.read.public === true,
            readable: engine.canRead(name, callerOf(request).principal),
          })),
        trustedIssuers: engine.policy.trust.issuers.map((e) => ({ name: e.name, fingerprint: e.fingerprint, roles: [...e.roles] })),
        missingIssuerKeys: engine.missingIssuerKeys().map((e) => e.name),
      },
      http: {
        tls: ctx.init.tls !== undefined,
        writesRequireAuth: init.writesRequireAuth,
        resultLimit: init.resultLimit,
        maxBodyBytes: ctx.init.maxBodyBytes,
        requestTimeoutSeconds: ctx.init.requestTimeoutSeconds,
        caller: principalName(callerOf(request).principal),
      },
    };
  });

  // ---- writes: their own scope, with only the body types they take -----------------------

  await app.register(async (writes) => {
    writes.removeAllContentTypeParsers();
    const limit = { bodyLimit: ctx.init.maxBodyBytes };
    writes.addContentTypeParser('application/json', { parseAs: 'string', ...limit }, writes.getDefaultJsonParser('error', 'error'));
    writes.addContentTypeParser('text/plain', { parseAs: 'string', ...limit }, (_r, body, done) => done(null, body));
    writes.addContentTypeParser(['application/pgp-keys', 'application/octet-stream'], { parseAs: 'buffer', ...limit }, (_r, body, done) =>
      done(null, body),
    );

    writes.post('/ics/v1/records', { schema: submitRecordsSchema }, async (request, reply) => {
      requireWriter(init.writesRequireAuth, callerOf(request));
      const release = await ctx.writes.acquire();
      try {
        const body = bodyOf<Buffer | string>(request.body);
        const batch = await ingestSubmission(ctx, request, 'api', typeof body === 'string' ? (decodePublicKeyArmor(body) ?? body) : body);
        return answerSubmission(ctx, request, reply, batch, 'api');
      } finally {
        release();
      }
    });

    writes.post('/ics/v1/code', { schema: publishCodeSchema }, async (request, reply) => {
      requireWriter(init.writesRequireAuth, callerOf(request));
      const release = await ctx.writes.acquire();
      try {
        const body = bodyOf<{ statement: CodeStatement; signatures: string[] } | Buffer | string>(request.body);
        let bytes: Uint8Array;
        if (typeof body === 'string' || Buffer.isBuffer(body)) {
          bytes = await dearmor(body, DEFAULT_LIMITS);
          const tag = firstPacketTag(bytes);
          if (tag !== PacketTag.signature && tag !== PacketTag.literalData) {
            throw new IcsError('BAD_REQUEST', 'not a code record (a statement with signatures); keys go to /pks/add or /ics/v1/records');
          }
        } else {
          bytes = codeRecordBytes(body.statement, await signaturePackets(body.signatures));
        }
        const outcome = await ingest.submit(bytes, submissionOf(ctx, request, 'api'));
        return reply.code(outcome.action === 'inserted' ? 201 : 200).send(submitted(outcome));
      } catch (error) {
        ctx.metrics.submitted.inc({ via: 'api', action: 'rejected' });
        throw error;
      } finally {
        release();
      }
    });

    writes.post('/ics/v1/code/:id/signatures', { schema: addCodeSignaturesSchema }, async (request, reply) => {
      requireWriter(init.writesRequireAuth, callerOf(request));
      const release = await ctx.writes.acquire();
      try {
        const id = normaliseId((request.params as { id: string }).id);
        const stored = await readable(id, callerOf(request), policy());
        const record = await ctx.cache.revive(stored);
        if (record.type !== 'code') throw new IcsError('NOT_FOUND', `no code record ${id}`);
        const signatures = await signaturePackets(bodyOf<{ signatures: string[] }>(request.body).signatures);
        const outcome = await ingest.submit(codeRecordBytes(record.statement, signatures), submissionOf(ctx, request, 'api'));
        return reply.code(200).send(submitted(outcome));
      } catch (error) {
        ctx.metrics.submitted.inc({ via: 'api', action: 'rejected' });
        throw error;
      } finally {
        release();
      }
    });
  });
}
