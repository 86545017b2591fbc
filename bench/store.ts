// Store benchmark (ics/store/level): bulk ingest of N device records into the LevelDB store,
// disk per record, lookups by id / key id / token (cold and with a hot working set) at 1 and
// 64 in flight, end-to-end ingest (parse + write) — each beside raw classic-level doing the
// same with the same bytes and the same LevelDB tuning, as the baseline.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { parseRecord } from '../ics/record/index.ts';
import { LevelStore } from '../ics/store/level/index.ts';
import {
  BLOCK_BYTES,
  DEFAULT_BLOCK_CACHE_BYTES,
  DEFAULT_CACHE_RECORDS,
  DEFAULT_MAX_OPEN_FILES,
  DEFAULT_WRITE_BUFFER_BYTES,
  MAX_FILE_BYTES,
} from '../ics/store/level/options.ts';
import type { RecordWriter, StoreLifecycle } from '../ics/store/types.ts';
import { corpusWrite, environmentLine, type Figure, int, mib, percentile, pick, pool, residentMemory, seconds, type BenchContext, type Benchmark } from './harness.ts';
import { CACHE_DIR, checkCorpus, corpusChunks, lightRecords, loadCorpus } from './store-corpus.ts';
import { serialOf } from './store-corpus-shared.ts';

/** Goals from the brief. */
const GOAL_GET_SHARE = 0.8;
const GOAL_HOT_FACTOR = 3;
const GOAL_RSS_BYTES = 512 * 1024 * 1024;
const GOAL_DISK_FACTOR = 1.5;
const FINGERPRINT_BYTES = 20;
/** Latency samples kept per measurement (reservoir); enough for a stable p99. */
const LATENCY_SAMPLES = 200_000;

interface Settings {
  records: number;
  /** Records read from the corpus and turned into record objects per step (outside the timing). */
  chunk: number;
  /** Store writes in flight during bulk ingest (they commit in groups). */
  ingestInFlight: number;
  rawBatch: number;
  measureMs: number;
  warmMs: number;
  hotSet: number;
  e2eRecords: number;
  e2eInFlight: number;
  samples: number;
  compact: boolean;
  /** Alternating raw/store lookup rounds; the best of each is reported. */
  rounds: number;
}

const FULL: Settings = {
  records: 1_000_000,
  chunk: 8_192,
  ingestInFlight: 1024,
  rawBatch: 1000,
  measureMs: 3000,
  warmMs: 1000,
  hotSet: 10_000,
  e2eRecords: 20_000,
  e2eInFlight: 64,
  samples: 200,
  compact: true,
  rounds: 2,
};

const QUICK: Settings = {
  records: 20_000,
  chunk: 4_096,
  ingestInFlight: 1024,
  rawBatch: 1000,
  measureMs: 500,
  warmMs: 200,
  hotSet: 2_000,
  e2eRecords: 500,
  e2eInFlight: 64,
  samples: 20,
  compact: true,
  rounds: 1,
};

/** The LevelDB options both the store and the raw baseline open with. */
const LEVEL_OPTIONS = {
  keyEncoding: 'buffer',
  valueEncoding: 'buffer',
  cacheSize: DEFAULT_BLOCK_CACHE_BYTES,
  writeBufferSize: DEFAULT_WRITE_BUFFER_BYTES,
  maxOpenFiles: DEFAULT_MAX_OPEN_FILES,
  blockSize: BLOCK_BYTES,
  maxFileSize: MAX_FILE_BYTES,
  compression: true,
} as const;

type RawDb = ClassicLevel<Buffer, Buffer>;

/** Resident memory split as Linux reports it: private (heap, V8, LevelDB caches) and file-backed. */
function residentSplit(): { anon: number; file: number } | undefined {
  return residentMemory();
}

/** Peak resident memory, total and private, sampled on a timer. */
class MemoryPeaks {
  total = 0;
  anon = 0;
  fileAtPeak = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(readonly intervalMs: number) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage().rss;
    const split = residentSplit();
    if (rss > this.total) {
      this.total = rss;
      this.fileAtPeak = split?.file ?? Number.NaN;
    }
    if (split && split.anon > this.anon) this.anon = split.anon;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.sample();
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}

export interface Measured {
  perSecond: number;
  ops: number;
  elapsedMs: number;
  p50: number;
  p99: number;
}

/** Closed loop with `concurrency` in flight for `durationMs`, with per-operation latency (also used by store-postgres.ts). */
export async function measure(concurrency: number, durationMs: number, task: (i: number) => Promise<unknown>): Promise<Measured> {
  const samples = new Float64Array(LATENCY_SAMPLES);
  let kept = 0;
  let ops = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      await task(next++);
      const latency = performance.now() - t;
      ops++;
      if (kept < LATENCY_SAMPLES) samples[kept++] = latency;
      else {
        const slot = Math.floor(Math.random() * ops);
        if (slot < LATENCY_SAMPLES) samples[slot] = latency;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - start;
  const sorted = Array.from(samples.subarray(0, kept)).sort((a, b) => a - b);
  return { perSecond: (ops * 1000) / elapsedMs, ops, elapsedMs, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

const fmtLatency = (m: Measured) => `p50 ${(m.p50 * 1000).toFixed(0)} µs  p99 ${(m.p99 * 1000).toFixed(0)} µs`;
const fmtRate = (m: Measured, unit = 'ops/s') => `${int(m.perSecond).padStart(9)} ${unit}  ${fmtLatency(m)}`;


/** Runs `task` over `items` with `inFlight` outstanding; resolves when all are done. */

async function run(ctx: BenchContext): Promise<void> {
  const s = pick(ctx, FULL, QUICK);
  ctx.row('env', `${environmentLine()}${ctx.quick ? ', QUICK mode (figures are a smoke check only)' : ''}`);
  ctx.row(
    'leveldb options',
    `block cache ${mib(LEVEL_OPTIONS.cacheSize)}, write buffer ${mib(LEVEL_OPTIONS.writeBufferSize)}, max open files ${LEVEL_OPTIONS.maxOpenFiles}, ` +
      `block ${LEVEL_OPTIONS.blockSize} B, file ${mib(LEVEL_OPTIONS.maxFileSize)}, snappy; store record cache ${int(DEFAULT_CACHE_RECORDS)} records`,
  );

  // Corpus.
  const corpus = await loadCorpus(s.records, ctx.log);
  ctx.row(
    'corpus',
    `${int(corpus.count)} device records, ${(corpus.recordBytes / corpus.count).toFixed(0)} B each (${mib(corpus.recordBytes)}), ` +
      `self + manufacturer + integrator Ed25519 certifications; ${corpus.generated ? 'generated' : 'loaded from cache'} in ${seconds(corpus.buildMs)}`,
  );
  await checkCorpus(corpus, s.samples);
  ctx.row('corpus check', `${s.samples} records spread over the corpus: parseRecord (2-issuer ring) verifies all 3 signatures, canonical bytes identical`);
  // Memory is measured from here: the corpus generator's workers are not the store.
  const memory = new MemoryPeaks(20);
  const phase = (label: string) => {
    memory.sample();
    const split = residentSplit();
    ctx.log(`  (${label}: RSS now ${mib(process.memoryUsage().rss)}${split ? `, private ${mib(split.anon)}, file-backed ${mib(split.file)}` : ''}; peak so far ${mib(memory.total)})`);
  };

  // Per process: another run of the benchmarks (someone else's) must not delete this one's databases.
  const root = join(CACHE_DIR, `store-run-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  const rawDir = join(root, 'raw');
  const storeDir = join(root, 'store');
  const e2eDir = join(root, 'e2e');
  const idHex = (i: number) => corpus.ids.toString('hex', i * FINGERPRINT_BYTES, (i + 1) * FINGERPRINT_BYTES);
  const idKey = (i: number) => corpus.ids.subarray(i * FINGERPRINT_BYTES, (i + 1) * FINGERPRINT_BYTES);
  const random = () => Math.floor(Math.random() * corpus.count);

  try {
    // ---- raw baseline: batched puts ---------------------------------------------------
    const raw: RawDb = new ClassicLevel<Buffer, Buffer>(rawDir, LEVEL_OPTIONS);
    await raw.open();
    let rawMs = 0;
    let index = 0;
    for (const chunk of corpusChunks(corpus, s.chunk)) {
      const t = performance.now();
      for (let at = 0; at < chunk.length; at += s.rawBatch) {
        const ops = chunk.slice(at, at + s.rawBatch).map((value, j) => ({ type: 'put' as const, key: idKey(index + at + j), value }));
        await raw.batch(ops);
      }
      rawMs += performance.now() - t;
      index += chunk.length;
    }
    await raw.close();
    phase('after raw puts');
    const rawRate = (corpus.count * 1000) / rawMs;
    ctx.row('raw.put (baseline)', `${int(rawRate).padStart(9)} records/s  (id → bytes, batches of ${s.rawBatch}, sync off, ${seconds(rawMs)})`);

    // ---- (a) store bulk ingest: already-parsed records, the store alone -----------------
    let store = await LevelStore.open({ path: storeDir, syncWrites: false });
    let storeMs = 0;
    let buildMs = 0;
    let first = 0;
    for (const chunk of corpusChunks(corpus, s.chunk)) {
      const tb = performance.now();
      const records = lightRecords(corpus, first, chunk);
      first += chunk.length;
      const t = performance.now();
      buildMs += t - tb;
      await pool(records, s.ingestInFlight, (r) => store.write(corpusWrite(r)));
      storeMs += performance.now() - t;
    }
    const stats = await store.stats();
    phase('after store ingest, before close');
    await store.close();
    if (stats.records !== corpus.count) throw new Error(`store holds ${stats.records} records, expected ${corpus.count}`);
    const storeRate = (corpus.count * 1000) / storeMs;
    ctx.row(
      'store.write (a)',
      `${int(storeRate).padStart(9)} records/s  (${s.ingestInFlight} in flight → group commits of ≤512, sync off, ${seconds(storeMs)}; ` +
        `${(storeRate / rawRate).toFixed(2)}× raw puts; record objects built outside the timing in ${seconds(buildMs)})`,
    );

    // ---- disk ---------------------------------------------------------------------------
    const own = corpus.recordBytes;
    const disk = (label: string, dir: string) => {
      const bytes = dirBytes(dir);
      ctx.row(label, `${mib(bytes)} = ${(bytes / corpus.count).toFixed(0)} B/record = ${(bytes / own).toFixed(2)}× the records' own ${mib(own)}`);
      return bytes;
    };
    disk('disk raw (baseline)', rawDir);
    let storeDisk = disk('disk store', storeDir);
    if (s.compact) {
      const t = performance.now();
      for (const dir of [rawDir, storeDir]) {
        const db: RawDb = new ClassicLevel<Buffer, Buffer>(dir, LEVEL_OPTIONS);
        await db.open();
        await db.compactRange(Buffer.of(0x00), Buffer.of(0xff));
        await db.close();
      }
      ctx.log(`  (full compaction of both databases: ${seconds(performance.now() - t)})`);
      phase('after compaction');
      disk('disk raw, compacted', rawDir);
      storeDisk = disk('disk store, compacted', storeDir);
    }
    ctx.goal(`disk ≤ ${GOAL_DISK_FACTOR}× records' own bytes`, storeDisk <= GOAL_DISK_FACTOR * own, `${(storeDisk / own).toFixed(2)}×`);
    ctx.figure('ingest.store_write.per_second', { value: storeRate, unit: 'records/s', baseline: rawRate, goal: 'info (baseline: raw classic-level puts)', met: true });
    ctx.figure('disk.factor', { value: storeDisk / own, unit: 'x', baseline: null, goal: `<= ${GOAL_DISK_FACTOR} (of the records' own bytes)`, met: storeDisk <= GOAL_DISK_FACTOR * own });

    // ---- lookups: raw and store in alternating rounds, best of each ---------------------
    // The machine is shared: alternating rounds keep a burst of someone else's work from
    // landing on one side only. "Cold": ids uniform over all records (the record cache holds
    // ~2% of them and admits a record only on its second read); "hot": a working set that
    // fits the record cache, read once before measuring.
    const concurrencies = [1, 64];
    const rawCold = new Map<number | string, Measured>();
    const rawHot = new Map<number | string, Measured>();
    const storeCold = new Map<number | string, Measured>();
    const storeHot = new Map<number | string, Measured>();
    const finders = new Map<number | string, Measured>();
    const hot = Array.from({ length: s.hotSet }, random);
    const hotIndex = (i: number) => hot[i % hot.length] as number;
    const best = (map: Map<number | string, Measured>, key: number | string, m: Measured) => {
      const seen = map.get(key);
      if (!seen || m.perSecond > seen.perSecond) map.set(key, m);
    };

    for (let round = 1; round <= s.rounds; round++) {
      const db: RawDb = new ClassicLevel<Buffer, Buffer>(rawDir, LEVEL_OPTIONS);
      await db.open();
      const rawGet = async (i: number) => {
        if (!(await db.get(idKey(i)))) throw new Error('raw get missed');
      };
      await measure(64, s.warmMs, () => rawGet(random())); // warm-up: JIT, table cache
      for (const c of concurrencies) best(rawCold, c, await measure(c, s.measureMs, () => rawGet(random())));
      await measure(64, s.warmMs, (i) => rawGet(hotIndex(i)));
      for (const c of concurrencies) best(rawHot, c, await measure(c, s.measureMs, (i) => rawGet(hotIndex(i))));
      phase(`round ${round}, after raw gets`);
      await db.close();

      store = await LevelStore.open({ path: storeDir });
      const get = async (i: number) => {
        const r = await store.get(idHex(i));
        if (!r) throw new Error('store get missed');
      };
      const byKeyId = async (i: number) => {
        const ids = await store.findByKeyId(idHex(i).slice(-16), { limit: 10 });
        if (ids.length !== 1) throw new Error('findByKeyId missed');
      };
      const byToken = async (i: number) => {
        const ids = await store.findByToken(serialOf(i), { limit: 10 });
        if (ids.length !== 1) throw new Error('findByToken missed');
      };
      await measure(64, s.warmMs, () => get(random()));
      for (const c of concurrencies) best(storeCold, c, await measure(c, s.measureMs, () => get(random())));
      for (const [label, task] of [
        ['store.findByKeyId', byKeyId],
        ['store.findByToken', byToken],
      ] as const) {
        for (const c of concurrencies) best(finders, `${label} c=${c}`, await measure(c, s.measureMs, () => task(random())));
      }
      for (let j = 0; j < 2; j++) for (const i of hot) await get(i); // read twice: admitted to the record cache
      for (const c of concurrencies) best(storeHot, c, await measure(c, s.measureMs, (i) => get(hotIndex(i))));
      phase(`round ${round}, after store lookups`);
      await store.close();
    }

    const rounds = `best of ${s.rounds} alternating rounds`;
    for (const c of concurrencies) ctx.row(`raw.get cold c=${c}`, `${fmtRate(rawCold.get(c) as Measured, 'gets/s')}  (uniform over ${int(corpus.count)} ids; ${rounds})`);
    for (const c of concurrencies) {
      const m = storeCold.get(c) as Measured;
      const share = m.perSecond / (rawCold.get(c) as Measured).perSecond;
      ctx.row(`store.get cold c=${c}`, `${fmtRate(m, 'gets/s')}  (${(share * 100).toFixed(0)}% of raw)`);
    }
    for (const [label, how] of [
      ['store.findByKeyId', 'one get of the key-id list'],
      ['store.findByToken', 'token range scan, then record number → id'],
    ] as const) {
      for (const c of concurrencies) ctx.row(`${label} c=${c}`, `${fmtRate(finders.get(`${label} c=${c}`) as Measured, 'lookups/s')}  (${how})`);
    }
    for (const c of concurrencies) ctx.row(`raw.get hot c=${c}`, `${fmtRate(rawHot.get(c) as Measured, 'gets/s')}  (working set ${int(s.hotSet)} ids)`);
    for (const c of concurrencies) {
      const m = storeHot.get(c) as Measured;
      const factor = m.perSecond / (rawHot.get(c) as Measured).perSecond;
      ctx.row(`store.get hot c=${c}`, `${fmtRate(m, 'gets/s')}  (${factor.toFixed(1)}× raw hot; working set in the record cache)`);
    }
    for (const c of concurrencies) {
      const share = (storeCold.get(c) as Measured).perSecond / (rawCold.get(c) as Measured).perSecond;
      ctx.goal(`get by id cold c=${c} ≥ ${GOAL_GET_SHARE * 100}% of raw`, share >= GOAL_GET_SHARE, `${(share * 100).toFixed(0)}%`);
      const m = storeCold.get(c) as Measured;
      const raw = rawCold.get(c) as Measured;
      ctx.figure(`get.cold.c${c}.per_second`, { value: m.perSecond, unit: 'gets/s', baseline: raw.perSecond, goal: `>= ${GOAL_GET_SHARE}x baseline (raw classic-level)`, met: share >= GOAL_GET_SHARE });
      ctx.figure(`get.cold.c${c}.p99`, { value: m.p99, unit: 'ms', baseline: raw.p99, goal: 'info', met: true });
    }
    for (const c of concurrencies) {
      const factor = (storeHot.get(c) as Measured).perSecond / (rawHot.get(c) as Measured).perSecond;
      ctx.goal(`get by id hot c=${c} ≥ ${GOAL_HOT_FACTOR}× raw`, factor >= GOAL_HOT_FACTOR, `${factor.toFixed(1)}×`);
      ctx.figure(`get.hot.c${c}.per_second`, { value: (storeHot.get(c) as Measured).perSecond, unit: 'gets/s', baseline: (rawHot.get(c) as Measured).perSecond, goal: `>= ${GOAL_HOT_FACTOR}x baseline (raw classic-level)`, met: factor >= GOAL_HOT_FACTOR });
    }

    // ---- (b) end-to-end ingest: parse + verify + write, fsync on ---------------------------
    const e2e: RecordWriter & StoreLifecycle = await LevelStore.open({ path: e2eDir });
    const [inputs = []] = [...corpusChunks(corpus, s.e2eRecords, s.e2eRecords)];
    const t = performance.now();
    await pool(inputs, s.e2eInFlight, async (bytes) => {
      const { record } = await parseRecord(bytes, { issuers: corpus.issuers });
      await e2e.write(corpusWrite(record));
    });
    const e2eMs = performance.now() - t;
    phase('after end-to-end ingest');
    await e2e.close();
    ctx.row(
      'ingest end-to-end (b)',
      `${int((inputs.length * 1000) / e2eMs).padStart(9)} records/s  (parseRecord + verify 3 sigs + store.write, ${s.e2eInFlight} in flight, ` +
        `sync on, ${int(inputs.length)} records in ${seconds(e2eMs)})`,
    );
    ctx.figure('ingest.end_to_end.per_second', { value: (inputs.length * 1000) / e2eMs, unit: 'records/s', baseline: null, goal: 'info (parse, verify 3 signatures, write; fsync on)', met: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  memory.stop();
  const osMax = process.resourceUsage().maxRSS * 1024;
  ctx.row(
    'memory',
    `peak RSS ${mib(memory.total)} (of which file-backed ${mib(memory.fileAtPeak)}: LevelDB's memory-mapped tables), peak private ${mib(memory.anon)}; ` +
      `over ingest, compaction, lookups, end-to-end, sampled every ${memory.intervalMs} ms; OS maxRSS of the whole process ${mib(osMax)}` +
      `${corpus.generated ? ' (includes corpus generation)' : ''}`,
  );
  ctx.goal(`peak RSS ≤ ${mib(GOAL_RSS_BYTES)}`, memory.total <= GOAL_RSS_BYTES, mib(memory.total));
  const peakFigure = (value: number, goal: string, met: boolean): Figure => ({ value: value / 2 ** 20, unit: 'MiB', baseline: null, goal, met });
  ctx.figure('memory.peak_rss', peakFigure(memory.total, `<= ${GOAL_RSS_BYTES / 2 ** 20}`, memory.total <= GOAL_RSS_BYTES));
  ctx.figure('memory.file_at_peak', peakFigure(memory.fileAtPeak, 'info (LevelDB table mappings)', true));
  ctx.figure('memory.peak_private', peakFigure(memory.anon, 'info', true));
  ctx.describe({ records: s.records, ingestInFlight: s.ingestInFlight, measureMs: s.measureMs, rounds: s.rounds, hotSet: s.hotSet, e2eRecords: s.e2eRecords, corpusGenerated: corpus.generated });
}

export const storeBenchmark: Benchmark = {
  name: 'store',
  title: 'LevelDB store: bulk ingest, disk, lookups cold and hot, end-to-end ingest, vs raw classic-level',
  run,
};
