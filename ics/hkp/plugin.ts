// The HKP plugin of the HTTP host (draft-shaw-openpgp-hkp-00 / draft-gallagher-openpgp-hkp):
// GET /pks/lookup (§3: op=get, index, vindex, and stats) and POST /pks/add (§4), the two
// that GnuPG's dirmngr (ks-engine-hkp.c) uses: get with options=mr and search=0x<fpr or
// long key id>, index with options=mr, and add with form-encoded keytext. Its problems are
// answered as a line of text, which gpg shows as it is.
import type { FastifyInstance } from 'fastify';
import { IcsError } from '../errors.ts';
import { answerSubmission, callerOf, type HttpContext, type HttpPlugin, ingestSubmission, RESULT_LIMIT, requireWriter, storeFigures, textProblem } from '../http/index.ts';
import { armor, type KeyRecord } from '../record/index.ts';
import { htmlIndex, htmlStats, mrIndex, type StatsView, summariseKey } from './format.ts';
import { type LookupQuerystring, parseLookup } from './query.ts';
import { addSchema, lookupSchema } from './schemas.ts';
import { Finder } from './search.ts';
import type { HkpInit } from './types.ts';

export const DEFAULT_HKP_INIT: HkpInit = Object.freeze({ resultLimit: RESULT_LIMIT, writesRequireAuth: false });

const LANDING = `<form action="/pks/lookup" method="get">
<input type="hidden" name="op" value="index"><input type="text" name="search" size="60" placeholder="fingerprint, 0x key id or user ID words">
<label><input type="checkbox" name="fingerprint" value="on"> fingerprints</label> <input type="submit" value="Search">
</form>
<p>HKP: <code>gpg --keyserver hkp://this-host:port --keyserver-options no-self-sigs-only,no-import-clean --recv-keys &lt;fingerprint&gt;</code></p>
`;

/** The HKP endpoints with `changes` to DEFAULT_HKP_INIT; bad tuning is CONFIG_INVALID. */
export function hkpPlugin(changes: Partial<HkpInit> = {}): HttpPlugin {
  const init: HkpInit = { ...DEFAULT_HKP_INIT, ...changes };
  if (!Number.isInteger(init.resultLimit) || init.resultLimit < 1) {
    throw new IcsError('CONFIG_INVALID', 'hkp: resultLimit must be an integer ≥ 1', { details: { errors: ['resultLimit must be an integer ≥ 1'] } });
  }
  return {
    name: 'hkp',
    problems: { prefix: '/pks/', write: textProblem },
    landing: LANDING,
    register: (scope, host) => registerRoutes(scope, host, init),
  };
}

const SOFTWARE = 'cm4it-ics';
const armorKey = (bytes: Uint8Array) => armor('publicKey', bytes);

/** A form-encoded body as received, decoded in the route (BodyDecoder). */
class FormBody {
  constructor(readonly bytes: Buffer) {}
}

async function registerRoutes(app: FastifyInstance, ctx: HttpContext, init: HkpInit): Promise<void> {
  const { store, policy } = ctx.components;
  const finder = new Finder(store, ctx.access, ctx.cache);

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
      if (finder.servable(direct, { engine, principal })) return reply.type(getType).send(ctx.cache.armored(direct, armorKey));
    }
    const found = await finder.find(search, { exact: query.exact, limit: init.resultLimit, engine, principal });
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
    requireWriter(init.writesRequireAuth, callerOf(request));
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
