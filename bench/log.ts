// Transparency-log benchmark (`npm run bench -- log`): what the log costs the store and what
// a proof costs the node, on the real LevelDB store.
//   - Ingest with the log on vs off: the store benchmark's signed device records (a
//     self-signature, a manufacturer's and an integrator's certification each) through the
//     node's ingest path (Ingest.submit: parse, verify every signature, policy, merge, store),
//     into two fresh stores, in the same eight alternating slices as below. Goal: ≥ 0.9×.
//   - Store writes per second with the log on vs off (the worst case, for information), the same records into two fresh stores, in
//     eight slices run off-on-on-off-off-on-on-off (a drift of the machine falls on both; the
//     rates are records over the time of all slices of each; the log is appended in each
//     record's batch). The records are light code
//     records of a device record's size (700 bytes: the store corpus averages 687), with no
//     signatures: the store and the log do all their work, the ingest path's parsing and
//     verifying — which dilute the log's share — are left out. Goal: ≥ 0.9×.
//   - Inclusion proofs at 1,000,000 leaves (20,000 quick): p50/p99 of `log.inclusion` for
//     random leaves at the full size, on the store reopened after the ingest was compacted
//     (a serving node's steady state, not the minutes of compaction after a bulk import),
//     after 2,000 proofs not timed (the node's caches of the tree's upper levels warm).
//     Goal: p99 < 1 ms.
//   - Bytes the log adds on disk per leaf: the data directory with the log minus without it,
//     after both stores are closed and compacted whole, per leaf. Goal: ≤ 64.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClassicLevel } from 'classic-level';
import type { CodeRecord } from '../ics/record/index.ts';
import { openLevelStore } from '../ics/store/level/index.ts';
import { TransparencyLog } from '../ics/tlog/index.ts';
import { pino } from 'pino';
import { Ingest } from '../ics/ingest/index.ts';
import { benchPolicy, corpusSeeds, issuerRecord } from './corpus-policy.ts';
import { type BenchContext, type Benchmark, environmentLine, type Figure, int, percentile, pick, pool, sourceCommit } from './harness.ts';
import { corpusChunks, loadCorpus } from './store-corpus.ts';

const GOAL_SHARE = 0.9;
const GOAL_PROOF_P99_MS = 1;
const GOAL_BYTES_PER_LEAF = 64;
const RESULTS = fileURLToPath(new URL('./results/log.json', import.meta.url));
const DOMAIN = 'firmware';

interface Settings {
  records: number;
  inFlight: number;
  proofs: number;
  /** Signed device records through the ingest path, per store. */
  ingest: number;
}

const FULL: Settings = { records: 1_000_000, inFlight: 256, proofs: 20_000, ingest: 200_000 };
const QUICK: Settings = { records: 20_000, inFlight: 256, proofs: 2_000, ingest: 20_000 };
/** Submissions in flight through the ingest path (as the HKP benchmark's). */
const INGEST_IN_FLIGHT = 64;
/** Proofs made before the timed ones. */
const WARM_UP_PROOFS = 2_000;
/** Which store each slice of the records goes to: ABBA twice. */
const SLICES = ['off', 'on', 'on', 'off', 'off', 'on', 'on', 'off'] as const;

/** Bytes of each record: a device record's size. */
const RECORD_BYTES = 700;

function lightCode(n: number): CodeRecord {
  const bytes = randomBytes(RECORD_BYTES);
  const digest = createHash('sha256').update(bytes).digest('hex');
  return {
    type: 'code',
    kind: 'code',
    id: `sha256:${createHash('sha256').update(`bench record ${n}`).digest('hex')}`,
    digest,
    bytes,
    statement: { type: 'cm4it.code/v1', subject: { name: `fw-${n}`, version: '1.0.0', digest: { sha256: digest } } },
    signatures: [{ created: new Date(1_700_000_000_000 + n) }],
  } as unknown as CodeRecord;
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await directoryBytes(path) : (await stat(path)).size;
  }
  return total;
}

/**
 * Runs `write` over every item once for each side, in SLICES order (slice i of the items to
 * the side SLICES[i] names); returns each side's rate (items per second over all its slices).
 */
async function alternating<T>(items: readonly T[], write: (side: 'on' | 'off', slice: readonly T[]) => Promise<unknown>): Promise<{ on: number; off: number }> {
  const ms = { on: 0, off: 0 };
  const size = Math.ceil(items.length / (SLICES.length / 2));
  for (let i = 0; i < SLICES.length; i++) {
    const side = SLICES[i] as 'on' | 'off';
    const at = Math.floor(i / 2) * size;
    const started = performance.now();
    await write(side, items.slice(at, at + size));
    ms[side] += performance.now() - started;
  }
  return { on: (items.length * 1000) / ms.on, off: (items.length * 1000) / ms.off };
}

/** The store corpus's signed device records through the ingest path of two fresh stores, with the log and without. */
async function ingestRates(ctx: BenchContext, dir: string, count: number): Promise<{ on: number; off: number }> {
  const corpus = await loadCorpus(count, ctx.log);
  const seeds = corpusSeeds(corpus.file);
  const engine = await benchPolicy(await issuerRecord(seeds.manufacturer), await issuerRecord(seeds.integrator));
  const records = [...corpusChunks(corpus, 10_000)].flat();
  const logger = pino({ level: 'silent' });
  const stores = {
    on: await openLevelStore({ path: join(dir, 'ingest-on'), derived: [new TransparencyLog()], syncWrites: false }),
    off: await openLevelStore({ path: join(dir, 'ingest-off'), syncWrites: false }),
  };
  try {
    const ingests = { on: new Ingest({}, { store: stores.on, policy: engine, logger }), off: new Ingest({}, { store: stores.off, policy: engine, logger }) };
    const rates = await alternating(records, (side, slice) =>
      pool(slice, INGEST_IN_FLIGHT, async (bytes) => {
        const outcome = await ingests[side].submit(bytes, { source: 'import' });
        if (outcome.action !== 'inserted') throw new Error(`a corpus record was ${outcome.action}, not inserted`);
      }),
    );
    return rates;
  } finally {
    await stores.on.close();
    await stores.off.close();
  }
}

async function run(ctx: BenchContext): Promise<void> {
  const s = pick(ctx, FULL, QUICK);
  const started = new Date();
  const commit = sourceCommit();
  ctx.row('env', environmentLine() + (ctx.quick ? ', QUICK mode (figures are a smoke check only)' : ''));
  const dir = await mkdtemp(join(tmpdir(), 'ics-bench-log-'));
  try {
    const made = performance.now();
    const records = Array.from({ length: s.records }, (_, i) => lightCode(i));
    ctx.row('setup', `${int(s.records)} light code records made in ${((performance.now() - made) / 1000).toFixed(1)} s (not timed)`);
    const ingest = await ingestRates(ctx, dir, s.ingest);
    const ingestShare = ingest.on / ingest.off;
    const log = new TransparencyLog();
    const withLog = await openLevelStore({ path: join(dir, 'with'), derived: [log], syncWrites: false });
    const without = await openLevelStore({ path: join(dir, 'without'), syncWrites: false });
    try {
      const { on, off } = await alternating(records, (side, slice) =>
        pool(slice, s.inFlight, (record) => (side === 'on' ? withLog : without).write({ record, domains: [DOMAIN], expectedDigest: undefined, source: 'import', signaturesAdded: 1, summary: 'bench' })),
      );
      await withLog.close();
      await without.close();
      // The proofs below are timed with the records gone: 1M of them in the heap would make its collections what is measured.
      records.length = 0;
      // Compacted whole, both: what stays on disk, without write-ahead logs or overwritten values.
      for (const name of ['with', 'without']) {
        const db = new ClassicLevel<Buffer, Buffer>(join(dir, name), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
        await db.open();
        await db.compactRange(Buffer.of(0x00), Buffer.alloc(64, 0xff));
        await db.close();
      }
      const bytesPerLeaf = ((await directoryBytes(join(dir, 'with'))) - (await directoryBytes(join(dir, 'without')))) / s.records;
      const serving = new TransparencyLog();
      const reopened = await openLevelStore({ path: join(dir, 'with'), derived: [serving] });
      const latencies: number[] = [];
      let size = 0;
      try {
        size = await serving.size(DOMAIN);
        if (size !== s.records) throw new Error(`the log holds ${size} leaves, not ${s.records}`);
        for (let i = 0; i < WARM_UP_PROOFS + s.proofs; i++) {
          const index = Math.floor(Math.random() * size);
          const t = performance.now();
          await serving.inclusion(DOMAIN, index, size);
          if (i >= WARM_UP_PROOFS) latencies.push(performance.now() - t);
        }
      } finally {
        await reopened.close();
      }
      latencies.sort((a, b) => a - b);
      const proofP50 = percentile(latencies, 50);
      const proofP99 = percentile(latencies, 99);
      const share = on / off;
      ctx.row('ingest, log off', `${int(ingest.off)} records/s  (the baseline: Ingest.submit of ${int(s.ingest)} signed device records into a store without the log, ${INGEST_IN_FLIGHT} in flight)`);
      ctx.row('ingest, log on', `${int(ingest.on)} records/s  (${(ingestShare * 100).toFixed(0)}% of the baseline)`);
      ctx.row('store writes, log off', `${int(off)} records/s  (the store alone, no parsing or signatures: the worst case for the log's share; ${int(s.records)} records, ${s.inFlight} in flight)`);
      ctx.row('store writes, log on', `${int(on)} records/s  (${(share * 100).toFixed(0)}% of the store alone)`);
      ctx.row('inclusion proof', `p50 ${(proofP50 * 1000).toFixed(0)} µs, p99 ${(proofP99 * 1000).toFixed(0)} µs at ${int(size)} leaves (${int(s.proofs)} random leaves, after ${int(WARM_UP_PROOFS)} not timed)`);
      ctx.row('disk per leaf', `${bytesPerLeaf.toFixed(1)} bytes (data directory with the log minus without, both compacted)`);
      ctx.goal(`ingest with the log ≥ ${GOAL_SHARE}× without`, ingestShare >= GOAL_SHARE, `${ingestShare.toFixed(2)}×: ${int(ingest.on)} vs ${int(ingest.off)}/s`);
      ctx.goal(`inclusion proof p99 < ${GOAL_PROOF_P99_MS} ms at ${int(size)} leaves`, proofP99 < GOAL_PROOF_P99_MS, `${(proofP99 * 1000).toFixed(0)} µs`);
      ctx.goal(`log bytes on disk per leaf ≤ ${GOAL_BYTES_PER_LEAF}`, bytesPerLeaf <= GOAL_BYTES_PER_LEAF, `${bytesPerLeaf.toFixed(1)} bytes`);
      if (!ctx.quick) {
        const figures: Record<string, Figure> = {
          'ingest.log_on.per_second': { value: ingest.on, unit: 'records/s', baseline: ingest.off, goal: `>= ${GOAL_SHARE}x baseline`, met: ingestShare >= GOAL_SHARE },
          'store_writes.log_on.per_second': { value: on, unit: 'records/s', baseline: off, goal: 'info (the store alone: the worst case)', met: true },
          'inclusion_proof.p50': { value: proofP50, unit: 'ms', baseline: null, goal: 'info', met: true },
          'inclusion_proof.p99': { value: proofP99, unit: 'ms', baseline: null, goal: `< ${GOAL_PROOF_P99_MS}`, met: proofP99 < GOAL_PROOF_P99_MS },
          'disk.bytes_per_leaf': { value: bytesPerLeaf, unit: 'bytes', baseline: null, goal: `<= ${GOAL_BYTES_PER_LEAF}`, met: bytesPerLeaf <= GOAL_BYTES_PER_LEAF },
        };
        const document = { benchmark: 'log', runs: { log: { date: started.toISOString(), commit, environment: environmentLine(), records: s.records, inFlight: s.inFlight, ingest: s.ingest, ingestInFlight: INGEST_IN_FLIGHT } }, figures };
        await writeFile(RESULTS, `${JSON.stringify(document, null, 2)}\n`);
        ctx.log('figures written to bench/results/log.json');
      }
    } finally {
      // Closing twice is harmless; after a failure the stores may still be open.
      await withLog.close().catch(() => undefined);
      await without.close().catch(() => undefined);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const logBenchmark: Benchmark = {
  name: 'log',
  title: 'transparency log: store writes with the log vs without, inclusion proofs at 1M leaves, disk per leaf',
  run,
};
