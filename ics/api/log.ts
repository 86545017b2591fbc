// The transparency log over HTTP (DESIGN §8): each domain's signed checkpoint and verifier
// key, consistency and inclusion proofs between tree sizes, and the proof bundle that
// `GET /ics/v1/verify/{id}?proof=1` adds to a verdict, which a gateway checks offline with
// tlog's verifyLogProof (or `ics log verify`). A domain's log — its size is a count of its
// records — is served only to callers who may read the domain: to others it does not exist.
import type { FastifyInstance } from 'fastify';
import { IcsError } from '../errors.ts';
import { type Caller, callerOf, type HttpContext, noQuery } from '../http/index.ts';
import type { PolicyEngine } from '../policy/index.ts';
import type { StoredRecord } from '../store/types.ts';
import { type CheckpointSigner, leafHash, leafText, type LogProof, TILE_WIDTH, type TransparencyLog, verifyInclusion } from '../tlog/index.ts';

export interface LogComponents {
  readonly log: TransparencyLog;
  signer(): Promise<CheckpointSigner>;
}

const SIZE = { type: 'string', pattern: '^(0|[1-9][0-9]{0,15})$' } as const;
const domainParams = { type: 'object', required: ['domain'], additionalProperties: false, properties: { domain: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

const b64 = (hashes: readonly Uint8Array[]) => hashes.map((h) => Buffer.from(h).toString('base64'));

const tileParams = {
  type: 'object',
  required: ['domain', 'level', '*'],
  additionalProperties: false,
  properties: { domain: { type: 'string', minLength: 1, maxLength: 128 }, level: { type: 'string', maxLength: 7 }, '*': { type: 'string', maxLength: 64 } },
} as const;

/** The index (and width, 256 for a full tile) of a tile path's `<N>[.p/<W>]`: "x001/x234/067.p/12". */
export function parseTilePath(path: string): { index: number; width: number } | undefined {
  const match = /^((?:x[0-9]{3}\/){0,5}[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/.exec(path);
  if (!match) return undefined;
  const index = Number((match[1] as string).replaceAll('x', '').replaceAll('/', ''));
  // A partial tile is narrower than a full one: ".p/256" is not a name of the full tile.
  const width = match[2] === undefined ? TILE_WIDTH : Number(match[2]);
  return match[2] !== undefined && width >= TILE_WIDTH ? undefined : { index, width };
}

export class LogAnswers {
  constructor(
    private readonly ctx: HttpContext,
    private readonly components: LogComponents,
  ) {}

  /** Whether the domain is in the policy and the caller may read it (its log's size is a count of its records). */
  #mayRead(domain: string, caller: Caller, engine: PolicyEngine): boolean {
    return engine.domain(domain) !== undefined && this.ctx.access.canRead({ domains: [domain] }, engine, caller.principal);
  }

  /** The domain's name when the caller may read its log; NOT_FOUND otherwise (the same answer as for no such domain). */
  readable(domain: string, caller: Caller, engine: PolicyEngine): string {
    if (!this.#mayRead(domain, caller, engine)) throw new IcsError('NOT_FOUND', `no log for domain ${domain}`);
    return domain;
  }

  /** The current version's inclusion in each of its domains' logs that the caller may read, at their current checkpoints. */
  async proofs(stored: StoredRecord, caller: Caller, engine: PolicyEngine): Promise<LogProof[]> {
    const signer = await this.components.signer();
    const out: LogProof[] = [];
    for (const domain of stored.domains) {
      if (!this.#mayRead(domain, caller, engine)) continue;
      const position = await this.components.log.position(domain, stored.id, stored.digest, stored.seq);
      // Written before the log existed (a data directory older than it): nothing to prove.
      if (!position) continue;
      const checkpoint = await signer.cosignedCheckpoint(domain);
      const leaf = leafText(position.leaf);
      const inclusion = await this.components.log.inclusion(domain, position.index, checkpoint.size);
      // Checked before it is sent: a proof that does not verify is a fault here, not a gateway's problem.
      if (!verifyInclusion(position.index, checkpoint.size, leafHash(Buffer.from(leaf, 'utf8')), inclusion, checkpoint.root)) {
        throw new IcsError('INTERNAL', `the log of ${domain} made a proof that does not verify (record ${stored.id})`);
      }
      out.push({ domain, leaf, index: position.index, inclusion: b64(inclusion), checkpoint: checkpoint.note });
    }
    return out;
  }
}

export function registerLogRoutes(app: FastifyInstance, ctx: HttpContext, answers: LogAnswers, components: LogComponents): void {
  const { policy } = ctx.components;

  app.get('/ics/v1/log/:domain/checkpoint', { schema: { params: domainParams, querystring: noQuery } }, async (request, reply) => {
    const domain = answers.readable((request.params as { domain: string }).domain, callerOf(request), policy());
    // With the cosignatures of the peers that witnessed it.
    const checkpoint = await (await components.signer()).cosignedCheckpoint(domain);
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-cache').send(checkpoint.note);
  });

  // C2SP tlog-tiles: hash tiles tile/<L>/<N>[.p/<W>] and entry bundles tile/entries/<N>[.p/<W>],
  // N in 3-digit groups (x001/x234/067).
  app.get('/ics/v1/log/:domain/tile/:level/*', { schema: { params: tileParams, querystring: noQuery } }, async (request, reply) => {
    const params = request.params as { domain: string; level: string; '*': string };
    const domain = answers.readable(params.domain, callerOf(request), policy());
    const tile = parseTilePath(params['*']);
    if (!tile || !/^([0-5]|entries)$/.test(params.level)) throw new IcsError('NOT_FOUND', 'not a tile path: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]');
    const hashes = params.level === 'entries' ? await entryBundle(domain, tile.index, tile.width) : await components.log.tile(domain, Number(params.level), tile.index, tile.width);
    if (!hashes) throw new IcsError('NOT_FOUND', 'the log does not have that tile (yet)');
    // A full tile never changes; a partial one is replaced by a wider one as the log grows.
    const scope = policy().canRead(domain, { kind: 'anonymous' }) ? 'public' : 'private';
    reply.header('cache-control', tile.width === TILE_WIDTH ? `${scope}, max-age=31536000, immutable` : `${scope}, no-cache`);
    return reply.type('application/octet-stream').send(hashes);
  });

  /** Leaves [256·index, +width) as C2SP entry bundles have them: each leaf's text after its length (uint16, big-endian). */
  async function entryBundle(domain: string, index: number, width: number): Promise<Buffer | undefined> {
    const leaves = await components.log.leaves(domain, index * TILE_WIDTH, width);
    if (!leaves) return undefined;
    const texts = await Promise.all(
      leaves.map(async ({ seq, time }) => {
        const [event] = await ctx.components.store.changesSince(seq - 1, 1);
        if (event?.seq !== seq) throw new IcsError('INTERNAL', `the event log lacks change ${seq}, which the log of ${domain} holds`);
        return Buffer.from(leafText({ domain, id: event.id, digest: event.digest, seq, time }), 'utf8');
      }),
    );
    return Buffer.concat(texts.flatMap((text) => [Buffer.from([text.length >> 8, text.length & 0xff]), text]));
  }

  app.get('/ics/v1/log/:domain/key', { schema: { params: domainParams, querystring: noQuery } }, async (request, reply) => {
    const domain = answers.readable((request.params as { domain: string }).domain, callerOf(request), policy());
    return reply.type('text/plain; charset=utf-8').send(`${(await components.signer()).verifierKey(domain)}\n`);
  });

  const rangeQuery = (a: string, b: string) => ({ type: 'object', required: [a, b], additionalProperties: false, properties: { [a]: SIZE, [b]: SIZE } }) as const;

  app.get('/ics/v1/log/:domain/consistency', { schema: { params: domainParams, querystring: rangeQuery('from', 'to') } }, async (request) => {
    const domain = answers.readable((request.params as { domain: string }).domain, callerOf(request), policy());
    const query = request.query as { from: string; to: string };
    const [from, to] = [Number(query.from), Number(query.to)];
    const size = await components.log.size(domain);
    if (from < 1 || from > to || to > size) throw new IcsError('BAD_REQUEST', `a consistency proof needs 1 ≤ from ≤ to ≤ ${size} (the log's size)`);
    return { domain, from, to, proof: b64(await components.log.consistency(domain, from, to)) };
  });

  app.get('/ics/v1/log/:domain/inclusion', { schema: { params: domainParams, querystring: rangeQuery('index', 'size') } }, async (request) => {
    const domain = answers.readable((request.params as { domain: string }).domain, callerOf(request), policy());
    const query = request.query as { index: string; size: string };
    const [index, size] = [Number(query.index), Number(query.size)];
    const current = await components.log.size(domain);
    if (index >= size || size > current) throw new IcsError('BAD_REQUEST', `an inclusion proof needs index < size ≤ ${current} (the log's size)`);
    return { domain, index, size, proof: b64(await components.log.inclusion(domain, index, size)) };
  });
}
