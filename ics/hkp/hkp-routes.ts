// The HKP endpoints (draft-shaw-openpgp-hkp-00 / draft-gallagher-openpgp-hkp):
// GET /pks/lookup (§3: op=get, index, vindex, and stats) and POST /pks/add (§4), the two
// that GnuPG's dirmngr (ks-engine-hkp.c) uses: get with options=mr and search=0x<fpr or
// long key id>, index with options=mr, and add with form-encoded keytext.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, IcsError, type IcsErrorCode } from '../errors.ts';
import type { BatchOutcome } from '../ingest/ingest.ts';
import { armor, type KeyRecord } from '../record/index.ts';
import { callerOf, type HkpContext, ingestSubmission, requireWriter } from './context.ts';
import { batchJson, batchText, type SubmissionAnswer } from './describe.ts';
import { storeFigures } from './figures.ts';
import { htmlIndex, htmlStats, mrIndex, type StatsView, summariseKey } from './format.ts';
import { type LookupQuerystring, parseLookup } from './query.ts';
import { addSchema, lookupSchema } from './schemas.ts';

const SOFTWARE = 'cm4it-ics';
const armorKey = (bytes: Uint8Array) => armor('publicKey', bytes);

/** A form-encoded body as received, decoded in the route (BodyDecoder). */
class FormBody {
  constructor(readonly bytes: Buffer) {}
}

export async function registerHkpRoutes(app: FastifyInstance, ctx: HkpContext): Promise<void> {
  const { store, policy } = ctx.components;

  // Only the bodies /pks/add takes: form-encoded keytext and raw key material. Both are
  // kept as bytes here; the form is decoded by ctx.decoder (large ones off the main thread).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: ctx.init.maxBodyBytes }, (_request, body, done) => {
    done(null, new FormBody(body as Buffer));
  });
  app.addContentTypeParser('application/pgp-keys', { parseAs: 'buffer', bodyLimit: ctx.init.maxBodyBytes }, (_request, body, done) => {
    done(null, body);
  });

  app.get('/pks/lookup', { schema: lookupSchema }, async (request, reply) => {
    const query = parseLookup(request.query as LookupQuerystring);
    const engine = policy();
    const { principal } = callerOf(request);
    if (query.op === 'stats') {
      const figures = await storeFigures(store, engine, principal);
      const view: StatsView = {
        name: ctx.init.nodeInfo.name,
        role: ctx.init.nodeInfo.role,
        version: ctx.init.nodeInfo.version,
        software: SOFTWARE,
        ...figures.totals,
        domains: engine.readableDomains(principal),
        domainRecords: figures.domains,
      };
      if (query.machineReadable) return reply.type('application/json; charset=utf-8').send(view);
      return reply.type('text/html; charset=utf-8').send(htmlStats(view));
    }
    const search = query.search as NonNullable<typeof query.search>;
    const getType = query.machineReadable ? 'application/pgp-keys; charset=utf-8' : 'text/plain; charset=utf-8';
    if (query.op === 'get' && search.kind === 'fingerprint') {
      // The hot path (gpg --recv-keys, --refresh-keys): one store read, the armor made once per version.
      const direct = await store.get(search.fingerprint);
      if (ctx.finder.servable(direct, { engine, principal })) return reply.type(getType).send(ctx.cache.armored(direct, armorKey));
    }
    const found = await ctx.finder.find(search, { exact: query.exact, limit: ctx.init.resultLimit, engine, principal });
    if (found.records.length === 0) throw new IcsError('NOT_FOUND', 'no keys found');

    if (query.op === 'get') {
      const [only] = found.records;
      const text =
        found.records.length === 1 && only
          ? ctx.cache.armored(only, armorKey)
          : armorKey(Buffer.concat(found.records.map((s) => s.bytes)));
      return reply.type(getType).send(text);
    }
    const keys = [];
    for (const stored of found.records) keys.push(summariseKey((await ctx.cache.revive(stored)) as KeyRecord));
    if (query.machineReadable) return reply.type('text/plain; charset=utf-8').send(mrIndex(keys));
    const html = htmlIndex(keys, {
      search: (request.query as LookupQuerystring).search ?? '',
      verbose: query.op === 'vindex',
      fingerprints: query.fingerprints,
      truncated: found.truncated,
      issuerName: (fp) => engine.issuerName(fp),
    });
    return reply.type('text/html; charset=utf-8').send(html);
  });

  app.post('/pks/add', { schema: addSchema }, async (request, reply) => {
    requireWriter(ctx, callerOf(request));
    const release = await ctx.writes.acquire();
    try {
      const body = request.body as FormBody | Buffer | undefined;
      if (body === undefined || body === null) throw new IcsError('BAD_REQUEST', 'no body: send keytext form-encoded, or application/pgp-keys');
      let input: Uint8Array | string = body as Buffer;
      if (body instanceof FormBody) {
        const decoded = await ctx.decoder.decodeForm(body.bytes);
        input = 'bytes' in decoded ? decoded.bytes : decoded.text;
      }
      const batch = await ingestSubmission(ctx, request, 'hkp', input);
      return answerSubmission(ctx, request, reply, batch, 'hkp');
    } finally {
      release();
    }
  });
}

/**
 * Answers a batch submission: 200 when any record was accepted (inserted, updated or
 * unchanged); when every record was refused, the status of the first refusal (422 malformed,
 * 403 policy, 413 limit, …). JSON for clients that accept it, else one line per record.
 */
export function answerSubmission(
  ctx: HkpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  batch: BatchOutcome,
  via: 'hkp' | 'api',
): FastifyReply {
  const answer = batchJson(batch);
  countSubmission(ctx, answer, via);
  if (answer.results.length === 0) throw new IcsError('RECORD_MALFORMED', 'no OpenPGP records in the submission');
  let status = 200;
  if (answer.counts.rejected === answer.results.length) {
    const first = answer.results[0];
    const code = first && first.action === 'rejected' ? first.error.code : 'INTERNAL';
    status = ERROR_CODES[code as IcsErrorCode]?.http ?? 422;
  }
  reply.code(status);
  const json = via === 'api' || (request.headers.accept ?? '').includes('application/json');
  if (json) return reply.type('application/json; charset=utf-8').send(answer);
  return reply.type('text/plain; charset=utf-8').send(batchText(answer));
}

export function countSubmission(ctx: HkpContext, answer: SubmissionAnswer, via: 'hkp' | 'api'): void {
  for (const r of answer.results) {
    ctx.metrics.submitted.inc({ via, action: r.action });
    if (r.action === 'rejected') ctx.metrics.rejections.inc({ code: r.error.code });
    else for (const [reason, n] of Object.entries(r.dropped.byReason)) ctx.metrics.dropped.inc({ reason }, n);
  }
}
