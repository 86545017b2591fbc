// HKP / JSON API benchmark: requests per second and p50/p99 latency at 50 connections of
// `op=get` by fingerprint and `/ics/v1/verify/{id}` on a node holding N device records (the
// store benchmark's corpus in a LevelDB store), with a warm working set and cold, beside a
// bare node:http server answering a fixed body of the same size (the ceiling); then
// `/pks/add` of new device records (gpg's form-encoded keytext) beside the store
// benchmark's end-to-end ingest (parseRecord + store.write) on the same store; then, when
// Debian's SKS is installed, the same new device keys loaded by /pks/add into SKS and into an
// empty node, and looked up from both by fingerprint (SKS started here: bench/hkp-sks.ts).
// The load generator (autocannon; for SKS, which closes every connection, a raw-socket one
// from bench/hkp-sks.ts) runs in a process of its own, as an outside client does.
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { apiPlugin } from '../ics/api/index.ts';
import { hkpPlugin } from '../ics/hkp/index.ts';
import { createHttpServer, type HttpComponents, httpInit } from '../ics/http/index.ts';
import { Ingest } from '../ics/ingest/index.ts';
import { createMetrics } from '../ics/node/index.ts';
import type { PolicyEngine } from '../ics/policy/index.ts';
import { armor, parseRecord } from '../ics/record/index.ts';
import { LevelStore } from '../ics/store/level/index.ts';
import { corpusWrite, environmentLine, int, mib, pick, pool, processCpuMs, runInProcess, seconds, threadCpu, type BenchContext, type Benchmark } from './harness.ts';
import { benchPolicy, corpusSeeds, issuerRecord } from './corpus-policy.ts';
import { closeLoad, sksInstalled, startSks } from './hkp-sks.ts';
import { CACHE_DIR, type Corpus, corpusChunks, fingerprintOf, lightRecords, loadCorpus } from './store-corpus.ts';
import { deviceUserId, type IssuerSeed, issuerFromSeed, keyCreated } from './store-corpus-shared.ts';
import { deviceRecord } from './store-packets.ts';

/** Goals from the brief. */
const GOAL_SHARE = 0.7;
const GOAL_P99_MS = 10;
const GOAL_ADD_SHARE = 0.6;
/** Against SKS: loading by /pks/add at least as fast, lookups by fingerprint at least twice as fast. */
const GOAL_SKS_LOAD = 1;
const GOAL_SKS_GET = 2;
/** Bumped whenever the store built here changes, so that an old cache is not reused. */
const STORE_VERSION = 1;
const FINGERPRINT_BYTES = 20;

interface Settings {
  records: number;
  connections: number;
  durationSec: number;
  warmSec: number;
  /** Alternating rounds of ceiling / get / verify; the median of each is reported. */
  rounds: number;
  hotSet: number;
  coldPaths: number;
  /**
   * New device records per ingest method (four methods, each over `ingestRounds` rounds; the
   * /pks/add share of Ingest.submit must hold in every round).
   */
  addRecords: number;
  /** New device records sent through Ingest.submit and /pks/add each before the ingest rounds (not timed). */
  warmRecords: number;
  addConnections: number;
  ingestRounds: number;
  /** New device keys loaded into SKS and into an empty node, one per /pks/add. */
  sksKeys: number;
  /** Clients loading them, as a handful of gpg --send-keys would. */
  sksLoadConnections: number;
}

const FULL: Settings = {
  records: 1_000_000,
  connections: 50,
  durationSec: 10,
  warmSec: 3,
  rounds: 3,
  hotSet: 10_000,
  coldPaths: 200_000,
  addRecords: 12_000,
  warmRecords: 1_000,
  addConnections: 64,
  ingestRounds: 3,
  sksKeys: 20_000,
  sksLoadConnections: 4,
};
const QUICK: Settings = {
  records: 20_000,
  connections: 50,
  durationSec: 2,
  warmSec: 1,
  rounds: 1,
  hotSet: 2_000,
  coldPaths: 20_000,
  addRecords: 1_000,
  warmRecords: 100,
  addConnections: 64,
  ingestRounds: 2,
  sksKeys: 500,
  sksLoadConnections: 4,
};

// ---- the load generator --------------------------------------------------------------------

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is given. */
  duration?: number;
  amount?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Request paths, taken in turn. */
  paths?: readonly string[];
  /** Request bodies, taken in turn. */
  bodies?: readonly string[];
}

export interface LoadResult {
  /** The server's main-thread CPU per request, µs (the load generator runs in another process). */
  cpuPerRequest?: number;
  total: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/**
 * autocannon, in a process of its own (runInProcess: it takes no time from the server's event
 * loop or threads, as an outside client would not); setupRequest picks the next path / body in turn.
 */
const LOAD_PROCESS = `
const w = input;
const autocannon = require(w.autocannon);
let n = 0;
// autocannon stops on a 1-second tick, so its own duration is rounded up to the next second;
// the time from the first request to the last answer is taken here instead.
let first = 0;
let last = 0;
const request = {
  method: w.method,
  setupRequest(req) {
    if (first === 0) first = performance.now();
    const i = n++;
    if (w.paths) req.path = w.paths[i % w.paths.length];
    if (w.bodies) req.body = w.bodies[i % w.bodies.length];
    return req;
  },
  onResponse() {
    last = performance.now();
  },
};
const opts = { url: w.url, connections: w.connections, headers: w.headers, requests: [request], timeout: 30 };
if (w.amount !== undefined) opts.amount = w.amount;
else opts.duration = w.duration;
autocannon(opts, (err, r) => {
  if (err) return done({ error: String(err) });
  done({
    total: r.requests.total, seconds: last > first ? (last - first) / 1000 : r.duration, p50: r.latency.p50, p99: r.latency.p99,
    non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
  });
});
`;

const autocannonPath = createRequire(import.meta.url).resolve('autocannon');

export function load(options: LoadOptions): Promise<LoadResult> {
  return withServerCpu(() => runLoad(options));
}

/** A load run with this process's main-thread CPU per request: the server's, when it runs here. */
export async function withServerCpu(run: () => Promise<LoadResult>): Promise<LoadResult> {
  const before = threadCpu();
  const result = await run();
  const after = threadCpu();
  return before && after ? { ...result, cpuPerRequest: ((after.mainMs - before.mainMs) * 1000) / result.total } : result;
}

async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const m = await runInProcess<{ error?: string; total: number; seconds: number; p50: number; p99: number; non2xx: number; errors: number; timeouts: number }>(LOAD_PROCESS, {
    ...options,
    method: options.method ?? 'GET',
    autocannon: autocannonPath,
  });
  if (m.error) throw new Error(m.error);
  return { ...m, perSecond: m.total / m.seconds };
}

export const fmt = (r: LoadResult, unit = 'req/s') =>
  `${int(r.perSecond).padStart(9)} ${unit}  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms` +
  (r.cpuPerRequest !== undefined ? `  ${r.cpuPerRequest.toFixed(1)} µs CPU/req` : '') +
  (r.non2xx + r.errors + r.timeouts > 0 ? `  (!! ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts)` : '');

/** Wall time, count and main-thread CPU (the server's JavaScript) summed over phases. */
class Tally {
  ms = 0;
  count = 0;
  cpuMs = 0;

  async time(count: number, task: () => Promise<unknown>): Promise<void> {
    const cpu = threadCpu();
    const t = performance.now();
    await task();
    this.ms += performance.now() - t;
    this.count += count;
    const after = threadCpu();
    if (cpu && after) this.cpuMs += after.mainMs - cpu.mainMs;
  }

  get perSecond(): number {
    return (this.count * 1000) / this.ms;
  }

  get cpu(): string {
    return this.count > 0 ? `${((this.cpuMs * 1000) / this.count).toFixed(0)} µs` : 'n/a';
  }
}

// ---- the node under test -----------------------------------------------------------------

/** The issuers' seeds, from the corpus file's header (see store-corpus.ts). */



const storeDir = (n: number) => join(CACHE_DIR, `hkp-store-v${STORE_VERSION}-${n}`);

/** Every corpus record in `devices`, written once and cached (the runs work on a copy). */
export async function ensureStore(ctx: BenchContext, corpus: Corpus): Promise<{ dir: string; built: boolean; ms: number }> {
  const dir = storeDir(corpus.count);
  const marker = `${dir}.complete`;
  const start = performance.now();
  if (existsSync(marker)) {
    // A store cached by an older version is upgraded once here, not in every run's copy.
    await (await LevelStore.open({ path: dir, onUpgrade: (u) => ctx.log(`  hkp store: format ${u.from} → ${u.to} in ${seconds(u.ms)}`) })).close();
    return { dir, built: false, ms: performance.now() - start };
  }
  rmSync(dir, { recursive: true, force: true });
  ctx.log(`  hkp store: writing ${int(corpus.count)} records into ${dir} (once; reused by later runs)`);
  const store = await LevelStore.open({ path: dir, syncWrites: false });
  let first = 0;
  for (const chunk of corpusChunks(corpus, 8192)) {
    const records = lightRecords(corpus, first, chunk);
    first += chunk.length;
    await pool(records, 1024, (r) => store.write(corpusWrite(r)));
  }
  const stats = await store.stats();
  await store.close();
  if (stats.records !== corpus.count) throw new Error(`store holds ${stats.records} records, expected ${corpus.count}`);
  writeFileSync(marker, new Date().toISOString());
  return { dir, built: true, ms: performance.now() - start };
}

/**
 * A private copy of the cached store in no time: LevelDB never rewrites a table file of its
 * database (it writes new ones and deletes old ones), so tables are hard-linked; everything
 * else is copied. A table a cut-off compaction left behind is not of the database, and its
 * number may be given again — to a file written over the linked one; ensureStore opens and
 * closes the cached store first, and LevelDB deletes such files when it opens a database.
 */
export function cloneStore(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    if (name === 'LOCK') continue;
    if (name.endsWith('.ldb') || name.endsWith('.sst')) linkSync(join(from, name), join(to, name));
    else copyFileSync(join(from, name), join(to, name));
  }
}

/** A private copy of the cached corpus store, opened, with the corpus policy and the ingest path: the node the HTTP benchmarks measure. */
export async function corpusNode(pristine: string, seeds: { manufacturer: IssuerSeed; integrator: IssuerSeed }, run: string) {
  const root = join(CACHE_DIR, `${run}-run-${process.pid}`);
  cloneStore(pristine, root);
  return { root, ...(await nodeAt(root, seeds)) };
}

/** The node's store at `root` (empty if there is none yet), with the corpus policy and the ingest path. */
async function nodeAt(root: string, seeds: { manufacturer: IssuerSeed; integrator: IssuerSeed }) {
  const store = await LevelStore.open({ path: root });
  const [manufacturer, integrator] = await Promise.all([issuerRecord(seeds.manufacturer), issuerRecord(seeds.integrator)]);
  const engine = await benchPolicy(manufacturer, integrator);
  const logger = pino({ level: 'silent' });
  const ingest = new Ingest({}, { store, policy: engine, logger });
  return { store, engine, logger, ingest };
}

/** New device records (not in the corpus), made as the corpus makes them, with the same issuers. */
/** The corpus index of the first warm-up record: after every record the ingest rounds make. */
const warmFirst = (corpusCount: number, s: Settings) => corpusCount + 4 * s.addRecords;

function newDevices(seeds: { manufacturer: IssuerSeed; integrator: IssuerSeed }, first: number, count: number): Buffer[] {
  const manufacturer = issuerFromSeed(seeds.manufacturer);
  const integrator = issuerFromSeed(seeds.integrator);
  return Array.from({ length: count }, (_, i) => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const publicRaw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    return deviceRecord({ publicRaw, privateKey, created: keyCreated(first + i) }, deviceUserId(first + i), manufacturer, integrator);
  });
}

// ---- the run -------------------------------------------------------------------------------

async function run(ctx: BenchContext): Promise<void> {
  const s = pick(ctx, FULL, QUICK);
  ctx.row('env', `${environmentLine()}${ctx.quick ? ', QUICK mode (figures are a smoke check only)' : ''}`);
  ctx.row('load average', `${loadavg().map((l) => l.toFixed(2)).join(' ')} (1, 5, 15 min) before the run: other work on the machine skews every figure`);

  const corpus = await loadCorpus(s.records, ctx.log);
  const seeds = corpusSeeds(corpus.file);
  const pristine = await ensureStore(ctx, corpus);
  ctx.row(
    'node',
    `${int(corpus.count)} device records (store benchmark corpus) in LevelDB, ${pristine.built ? `built in ${seconds(pristine.ms)}` : 'from the cache'}; ` +
      `store record cache ${int(20_000)}, sync writes on; policy: one public domain, verdict needs manufacturer + integrator`,
  );

  const { root, store, engine, logger, ingest } = await corpusNode(pristine.dir, seeds, 'hkp');
  const server = benchHkpServer({ store, engine, ingest, logger });
  const { url } = await server.start();

  const idHex = (i: number) => corpus.ids.toString('hex', i * FINGERPRINT_BYTES, (i + 1) * FINGERPRINT_BYTES);
  const random = () => Math.floor(Math.random() * corpus.count);
  const hot = Array.from({ length: s.hotSet }, random);
  const cold = Array.from({ length: s.coldPaths }, random);
  const getPath = (i: number) => `/pks/lookup?op=get&options=mr&search=0x${idHex(i).toUpperCase()}`;
  const verifyPath = (i: number) => `/ics/v1/verify/${idHex(i)}`;

  // Sanity: the node answers what it should before anything is timed.
  const sample = hot[0] as number;
  const got = await fetch(`${url}${getPath(sample)}`);
  const armored = await got.text();
  if (got.status !== 200 || (await parseRecord(armored)).record.id !== idHex(sample)) throw new Error('op=get did not answer the record');
  const verdict = (await (await fetch(`${url}${verifyPath(sample)}`)).json()) as { trusted: boolean; roles: unknown[] };
  if (!verdict.trusted || verdict.roles.length !== 2) throw new Error(`unexpected verdict ${JSON.stringify(verdict)}`);
  const verdictBytes = Buffer.byteLength(JSON.stringify(verdict));

  // The ceiling: node:http answering a fixed body the size of an op=get answer.
  const fixed = Buffer.from(armored);
  const bare = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/pgp-keys; charset=utf-8', 'content-length': fixed.length });
    res.end(fixed);
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;

  try {
    const base = { connections: s.connections, duration: s.durationSec };
    const hotGet = hot.map(getPath);
    const hotVerify = hot.map(verifyPath);
    ctx.log(`  warming: ${int(s.hotSet)} ids through op=get and verify (fills the store's record cache and the server's caches)`);
    await load({ ...base, url, paths: hotGet, duration: s.warmSec });
    await load({ ...base, url, paths: hotVerify, duration: s.warmSec });
    await load({ ...base, url: bareUrl, paths: hotGet, duration: s.warmSec });

    // Rounds alternate ceiling / get / verify, so that a burst of other work on the machine
    // hits all three alike; the median round of each is reported.
    const runs = new Map<string, LoadResult[]>();
    const keep = (label: string, r: LoadResult) => runs.set(label, [...(runs.get(label) ?? []), r]);
    for (let round = 0; round < s.rounds; round++) {
      keep('ceiling', await load({ ...base, url: bareUrl, paths: hotGet }));
      keep('get', await load({ ...base, url, paths: hotGet }));
      keep('verify', await load({ ...base, url, paths: hotVerify }));
    }
    const median = (label: string) => {
      const sorted = [...(runs.get(label) ?? [])].sort((a, b) => a.perSecond - b.perSecond);
      return sorted[Math.floor((sorted.length - 1) / 2)] as LoadResult;
    };
    const ceiling = median('ceiling');
    const getHot = median('get');
    const verifyHot = median('verify');
    const share = (r: LoadResult) => `${((r.perSecond / ceiling.perSecond) * 100).toFixed(0)}% of the ceiling`;
    const cpuShare = (r: LoadResult) =>
      r.cpuPerRequest && ceiling.cpuPerRequest ? `; CPU/req ${((ceiling.cpuPerRequest / r.cpuPerRequest) * 100).toFixed(0)}% as lean` : '';
    const how = `${s.connections} connections, ${s.durationSec} s, median of ${s.rounds} rounds`;
    ctx.row('node:http fixed body', `${fmt(ceiling)}  (the ceiling: ${fixed.length}-byte body, ${how})`);
    ctx.row('op=get hot', `${fmt(getHot)}  (${share(getHot)}${cpuShare(getHot)}; by fingerprint, working set ${int(s.hotSet)} ids, ${fixed.length}-byte answer)`);
    ctx.row('verify hot', `${fmt(verifyHot)}  (${share(verifyHot)}${cpuShare(verifyHot)}; /ics/v1/verify/{id}, same working set, ~${verdictBytes}-byte JSON)`);
    ctx.log(
      `  (rounds, req/s: ceiling ${(runs.get('ceiling') ?? []).map((r) => int(r.perSecond)).join(' / ')}; get ${(runs.get('get') ?? []).map((r) => int(r.perSecond)).join(' / ')}; ` +
        `verify ${(runs.get('verify') ?? []).map((r) => int(r.perSecond)).join(' / ')})`,
    );

    const getCold = await load({ ...base, url, paths: cold.map(getPath) });
    const verifyCold = await load({ ...base, url, paths: cold.map(verifyPath) });
    ctx.row('op=get cold', `${fmt(getCold)}  (${share(getCold)}; uniform over all ${int(corpus.count)} ids: LevelDB reads)`);
    ctx.row('verify cold', `${fmt(verifyCold)}  (${share(verifyCold)}; uniform: LevelDB read + record revived per request)`);

    ctx.goal(`op=get hot ≥ ${GOAL_SHARE * 100}% of node:http`, getHot.perSecond >= GOAL_SHARE * ceiling.perSecond, share(getHot));
    ctx.goal(`verify hot ≥ ${GOAL_SHARE * 100}% of node:http`, verifyHot.perSecond >= GOAL_SHARE * ceiling.perSecond, share(verifyHot));
    ctx.goal(`op=get hot p99 < ${GOAL_P99_MS} ms`, getHot.p99 < GOAL_P99_MS, `${getHot.p99.toFixed(2)} ms`);
    ctx.goal(`verify hot p99 < ${GOAL_P99_MS} ms`, verifyHot.p99 < GOAL_P99_MS, `${verifyHot.p99.toFixed(2)} ms`);
    const ceilingGoal = `>= ${GOAL_SHARE}x baseline (node:http, fixed body)`;
    ctx.figure('get.hot.per_second', { value: getHot.perSecond, unit: 'req/s', baseline: ceiling.perSecond, goal: ceilingGoal, met: getHot.perSecond >= GOAL_SHARE * ceiling.perSecond });
    ctx.figure('get.hot.p99', { value: getHot.p99, unit: 'ms', baseline: ceiling.p99, goal: `< ${GOAL_P99_MS}`, met: getHot.p99 < GOAL_P99_MS });
    ctx.figure('verify.hot.per_second', { value: verifyHot.perSecond, unit: 'req/s', baseline: ceiling.perSecond, goal: ceilingGoal, met: verifyHot.perSecond >= GOAL_SHARE * ceiling.perSecond });
    ctx.figure('verify.hot.p99', { value: verifyHot.p99, unit: 'ms', baseline: ceiling.p99, goal: `< ${GOAL_P99_MS}`, met: verifyHot.p99 < GOAL_P99_MS });
    ctx.figure('get.cold.per_second', { value: getCold.perSecond, unit: 'req/s', baseline: ceiling.perSecond, goal: 'info', met: true });
    ctx.figure('get.cold.p99', { value: getCold.p99, unit: 'ms', baseline: null, goal: `< ${GOAL_P99_MS}`, met: getCold.p99 < GOAL_P99_MS });
    ctx.figure('verify.cold.per_second', { value: verifyCold.perSecond, unit: 'req/s', baseline: ceiling.perSecond, goal: 'info', met: true });

    // ---- ingest: the store benchmark's end-to-end method, the ingest path, and /pks/add ----
    // Interleaved in rounds (order rotating) so that none of the three pays alone for the
    // compactions the others' writes set off.
    const made = performance.now();
    const per = Math.floor(s.addRecords / s.ingestRounds);
    const sets = Array.from({ length: s.ingestRounds }, (_, r) =>
      [0, 1, 2, 3].map((k) => newDevices(seeds, corpus.count + (r * 4 + k) * per, per)),
    ) as Array<[Buffer[], Buffer[], Buffer[], Buffer[]]>;
    ctx.log(`  made ${int(4 * per * s.ingestRounds)} new device records in ${seconds(performance.now() - made)} (not timed)`);
    const totals = { direct: new Tally(), ingest: new Tally(), http: new Tally(), httpMore: new Tally() };
    const latency: { http?: LoadResult; httpMore?: LoadResult } = {};
    let rejected = 0;
    /** /pks/add of `records` from `connections` clients, into `tally`; keeps the worst p99. */
    const upload = async (records: Buffer[], connections: number, tally: Tally, which: 'http' | 'httpMore' | 'warm') => {
      const before = (await store.stats()).records;
      const bodies = records.map((bytes) => `keytext=${encodeURIComponent(armor('publicKey', bytes))}`);
      const cpu = threadCpu();
      const result = await load({
        url,
        connections,
        amount: bodies.length,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        paths: ['/pks/add'],
        bodies,
      });
      const after = threadCpu();
      // Timed by the load generator, from its first request to its last answer (not its start-up).
      tally.ms += result.seconds * 1000;
      if (cpu && after) tally.cpuMs += after.mainMs - cpu.mainMs;
      tally.count += (await store.stats()).records - before;
      rejected += (result?.non2xx ?? 0) + (result?.errors ?? 0);
      if (which === 'warm') return;
      const worst = latency[which];
      if (!worst || (result && result.p99 > worst.p99)) latency[which] = result;
    };
    // Both methods once before the rounds, untimed: the first POSTs start the submission
    // decoder's worker thread and compile the HTTP path, a one-time cost that would otherwise
    // fall on /pks/add's first round alone (Ingest.submit runs the code the store phase has
    // just warmed).
    const [warmIngest, warmHttp] = [0, 1].map((k) => newDevices(seeds, warmFirst(corpus.count, s) + k * s.warmRecords, s.warmRecords)) as [Buffer[], Buffer[]];
    await pool(warmIngest, 64, (bytes) => ingest.submit(bytes, { source: 'import' }));
    await upload(warmHttp, s.addConnections, new Tally(), 'warm');
    ctx.log(`  warmed: ${int(s.warmRecords)} new records through each of Ingest.submit and /pks/add (not timed)`);
    /** /pks/add's share of Ingest.submit in each round. */
    const roundShares: number[] = [];
    for (let r = 0; r < s.ingestRounds; r++) {
      const [direct, viaIngest, viaHttp, viaHttpMore] = sets[r] as [Buffer[], Buffer[], Buffer[], Buffer[]];
      const before = { ingest: { ms: totals.ingest.ms, count: totals.ingest.count }, http: { ms: totals.http.ms, count: totals.http.count } };
      const phases: Array<() => Promise<void>> = [
        () =>
          totals.direct.time(direct.length, () =>
            pool(direct, 64, async (bytes) => {
              const { record } = await parseRecord(bytes, { issuers: engine.issuerRing() });
              await store.write(corpusWrite(record));
            }),
          ),
        () => totals.ingest.time(viaIngest.length, () => pool(viaIngest, 64, (bytes) => ingest.submit(bytes, { source: 'import' }))),
        () => upload(viaHttp, s.addConnections, totals.http, 'http'),
        () => upload(viaHttpMore, 2 * s.addConnections, totals.httpMore, 'httpMore'),
      ];
      for (const phase of r % 2 === 0 ? phases : [...phases].reverse()) await phase();
      const rate = (t: Tally, b: { ms: number; count: number }) => ((t.count - b.count) * 1000) / (t.ms - b.ms);
      roundShares.push(rate(totals.http, before.http) / rate(totals.ingest, before.ingest));
    }
    const directRate = totals.direct.perSecond;
    const addRate = totals.http.perSecond;
    ctx.row(
      'ingest (store bench b)',
      `${int(directRate).padStart(9)} records/s  (parseRecord + store.write, 64 in flight, sync on; ${totals.direct.cpu} main-thread CPU per record; ` +
        `${int(totals.direct.count)} new records into the ${int(corpus.count)}, ${s.ingestRounds} interleaved rounds)`,
    );
    ctx.row('Ingest.submit', `${int(totals.ingest.perSecond).padStart(9)} records/s  (+ policy admit, merge check, event; 64 in flight; ${totals.ingest.cpu} main-thread CPU per record)`);
    const addRow = (which: 'http' | 'httpMore', connections: number) => {
      const tally = totals[which];
      const l = latency[which];
      return (
        `${int(tally.perSecond).padStart(9)} records/s  p50 ${l?.p50.toFixed(2)} ms  p99 ${l?.p99.toFixed(2)} ms  ` +
        `(${int(tally.count)} inserted, gpg's form-encoded armored keytext, ${connections} connections; ${tally.cpu} main-thread CPU per record; ` +
        `${((tally.perSecond / directRate) * 100).toFixed(0)}% of store bench b, ${((tally.perSecond / totals.ingest.perSecond) * 100).toFixed(0)}% of Ingest.submit)`
      );
    };
    ctx.row('/pks/add', `${addRow('http', s.addConnections)}${rejected > 0 ? `  (!! ${rejected} refused)` : ''}`);
    ctx.row(`/pks/add ×${2 * s.addConnections}`, `${addRow('httpMore', 2 * s.addConnections)}  (more clients: larger group commits)`);
    ctx.goal(`/pks/add ≥ ${GOAL_ADD_SHARE * 100}% of the store's end-to-end ingest`, addRate >= GOAL_ADD_SHARE * directRate, `${((addRate / directRate) * 100).toFixed(0)}%`);
    ctx.figure('ingest.direct.per_second', { value: directRate, unit: 'records/s', baseline: null, goal: 'info (parseRecord + store.write)', met: true });
    ctx.figure('ingest.submit.per_second', { value: totals.ingest.perSecond, unit: 'records/s', baseline: directRate, goal: 'info', met: true });
    ctx.figure('pks_add.per_second', { value: addRate, unit: 'records/s', baseline: directRate, goal: `>= ${GOAL_ADD_SHARE}x baseline (parseRecord + store.write)`, met: addRate >= GOAL_ADD_SHARE * directRate });
    const worstShare = Math.min(...roundShares);
    const sharesText = roundShares.map((x) => `${x.toFixed(2)}×`).join(', ');
    ctx.row('/pks/add by round', `${sharesText} of Ingest.submit in rounds 1–${roundShares.length} (each round: the same number of new records by each method)`);
    ctx.goal(`/pks/add ≥ ${GOAL_ADD_SHARE}× Ingest.submit in each of ${roundShares.length} rounds`, worstShare >= GOAL_ADD_SHARE, sharesText);
    ctx.figure('pks_add.share_of_submit', {
      value: worstShare,
      unit: 'x',
      baseline: null,
      goal: `>= ${GOAL_ADD_SHARE} (Ingest.submit) in each of ${roundShares.length} rounds (value: the lowest; rounds: ${sharesText}; all rounds together ${(addRate / totals.ingest.perSecond).toFixed(2)}x)`,
      met: worstShare >= GOAL_ADD_SHARE,
    });
    ctx.figure('pks_add.p99', { value: latency.http?.p99 ?? Number.NaN, unit: 'ms', baseline: null, goal: 'info', met: true });
    ctx.figure('pks_add.more_clients.per_second', { value: totals.httpMore.perSecond, unit: 'records/s', baseline: directRate, goal: 'info', met: true });
    ctx.figure('pks_add.refused', { value: rejected, unit: 'requests', baseline: null, goal: '= 0', met: rejected === 0 });
  } finally {
    await server.stop();
    await new Promise((r) => bare.close(r));
    await store.close();
    rmSync(root, { recursive: true, force: true });
  }
  await versusSks(ctx, s, seeds, warmFirst(corpus.count, s) + 2 * s.warmRecords);
  ctx.row('memory', `OS maxRSS of the whole process ${mib(process.resourceUsage().maxRSS * 1024)} (server and corpus together; the load generator runs in its own process)`);
  ctx.figure('memory.max_rss', { value: process.resourceUsage().maxRSS / 1024, unit: 'MiB', baseline: null, goal: 'info (server and corpus together; the load generator runs in its own process)', met: true });
  ctx.describe({ records: s.records, connections: s.connections, durationSec: s.durationSec, rounds: s.rounds, hotSet: s.hotSet, addRecords: s.addRecords, addConnections: s.addConnections, sksKeys: s.sksKeys, sksLoadConnections: s.sksLoadConnections });
}

// ---- against SKS -----------------------------------------------------------------------------

/**
 * SKS beside the node: the same `sksKeys` new device keys loaded one per /pks/add (gpg's form)
 * from `sksLoadConnections` clients into SKS and into an empty node, then looked up by
 * fingerprint from both at `connections`. Both stores live in one throwaway directory, on the
 * same file system; both are empty at the start, so neither loads into a bigger database.
 * The node is driven by autocannon, as in the rows above; SKS, which closes the connection
 * after every answer (autocannon then loses every other request), by closeLoad: a new
 * connection per request. Lookups are also measured with the node answering closeLoad, to
 * compare the two servers under the same connection-per-request clients.
 */
async function versusSks(ctx: BenchContext, s: Settings, seeds: { manufacturer: IssuerSeed; integrator: IssuerSeed }, firstIndex: number): Promise<void> {
  if (!sksInstalled()) {
    ctx.log('  sks is not installed (Debian: apt-get install sks): the SKS baseline (sks.* rows) is skipped');
    return;
  }
  const made = performance.now();
  const keys = newDevices(seeds, firstIndex, s.sksKeys);
  const fingerprints = keys.map((bytes) => fingerprintOf(bytes).toString('hex').toUpperCase());
  const bodies = keys.map((bytes) => `keytext=${encodeURIComponent(armor('publicKey', bytes))}`);
  ctx.log(`  sks: made ${int(keys.length)} new device keys in ${seconds(performance.now() - made)} (not timed)`);

  const parent = mkdtempSync(join(tmpdir(), 'ics-bench-sks-'));
  let sks: Awaited<ReturnType<typeof startSks>> | undefined;
  let node: Awaited<ReturnType<typeof nodeAt>> | undefined;
  let server: ReturnType<typeof benchHkpServer> | undefined;
  try {
    sks = await startSks(join(parent, 'sks'));
    const { url: sksUrl, pid: sksPid } = sks;
    node = await nodeAt(join(parent, 'ics'), seeds);
    const { store, engine } = node;
    server = benchHkpServer(node);
    const ics = (await server.start()).url;

    // Loading, in two halves and ABBA order (SKS, node, node, SKS) so that a drift in the
    // machine's load hits both alike. Timed by the load generator, first request to last answer.
    const post = (generator: typeof closeLoad, url: string, from: number, to: number) =>
      generator({
        url,
        connections: s.sksLoadConnections,
        amount: to - from,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        paths: ['/pks/add'],
        bodies: bodies.slice(from, to),
      });
    const half = Math.floor(keys.length / 2);
    const loads: Record<'sks' | 'ics', LoadResult[]> = { sks: [], ics: [] };
    // CPU: all of SKS's (one thread); the node's main thread only (its signature checks run
    // on libuv's pool, which cannot be told apart from the load generator's thread here).
    const cpu = { sks: 0, ics: 0 };
    const postSks = async (from: number, to: number) => {
      const before = processCpuMs(sksPid) ?? Number.NaN;
      loads.sks.push(await post(closeLoad, sksUrl, from, to));
      cpu.sks += (processCpuMs(sksPid) ?? Number.NaN) - before;
    };
    const postIcs = async (from: number, to: number) => {
      const r = await post(load, ics, from, to);
      loads.ics.push(r);
      cpu.ics += ((r.cpuPerRequest ?? Number.NaN) * r.total) / 1000;
    };
    await postSks(0, half);
    await postIcs(0, half);
    await postIcs(half, keys.length);
    await postSks(half, keys.length);

    // What each one holds. SKS keeps no count that is up to date (its statistics are computed
    // once a day), so every key is fetched back from both servers, which also warms both
    // caches alike. A sample is parsed and verified: SKS re-frames the packets with old-format
    // headers, so its bytes differ, but the canonical record must be the one sent.
    const getPath = (i: number) => `/pks/lookup?op=get&options=mr&search=0x${fingerprints[i]}`;
    const held: number[] = [];
    let icsHeld = 0;
    await pool(
      keys.map((_, i) => i),
      16,
      async (i) => {
        const [fromSks, fromIcs] = await Promise.all([fetch(`${sksUrl}${getPath(i)}`), fetch(`${ics}${getPath(i)}`)]);
        const [text] = await Promise.all([fromSks.text(), fromIcs.arrayBuffer()]);
        if (fromIcs.status === 200) icsHeld++;
        if (fromSks.status !== 200) return;
        held.push(i);
        if (i % Math.max(1, Math.floor(keys.length / 20)) === 0) {
          const { record } = await parseRecord(text, { issuers: engine.issuerRing() });
          if (!Buffer.from(record.bytes).equals(keys[i] as Buffer)) throw new Error(`sks answered another record for 0x${fingerprints[i]}`);
        }
      },
    );
    if (icsHeld !== (await store.stats()).records) throw new Error(`the node answered ${icsHeld} of the keys but holds ${(await store.stats()).records}`);
    const rate = (results: LoadResult[], stored: number) => stored / results.reduce((sum, r) => sum + r.seconds, 0);
    const worstP99 = (results: LoadResult[]) => Math.max(...results.map((r) => r.p99));
    const sksRate = rate(loads.sks, held.length);
    const icsRate = rate(loads.ics, icsHeld);
    const refused = (results: LoadResult[]) => results.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0);
    const loadHow = `${int(keys.length)} keys, one per POST (gpg's form-encoded keytext), ${s.sksLoadConnections} clients, into an empty database`;
    const perKey = (ms: number) => `${((ms * 1000) / keys.length).toFixed(0)} µs`;
    ctx.row(
      'sks /pks/add',
      `${int(sksRate).padStart(9)} keys/s  p99 ${worstP99(loads.sks).toFixed(2)} ms  (${loadHow}; ${int(held.length)} stored` +
        `${refused(loads.sks) ? `, ${refused(loads.sks)} refused` : ''}; ${perKey(cpu.sks)} sks CPU per key, no signature checked)`,
    );
    ctx.row(
      'ics /pks/add',
      `${int(icsRate).padStart(9)} keys/s  p99 ${worstP99(loads.ics).toFixed(2)} ms  (the same keys into an empty node; ${int(icsHeld)} stored` +
        `${refused(loads.ics) ? `, ${refused(loads.ics)} refused` : ''}; ${perKey(cpu.ics)} main-thread CPU per key, 3 signatures checked on the pool)`,
    );
    ctx.figure('sks.load.stored', { value: held.length, unit: 'keys', baseline: keys.length, goal: `= ${keys.length} (every key sent)`, met: held.length === keys.length });
    if (held.length === 0) {
      ctx.log(`  !! SKS stored none of the ${int(keys.length)} keys: no SKS figures`);
      return;
    }
    if (held.length < keys.length) ctx.log(`  !! SKS stored ${int(held.length)} of ${int(keys.length)} keys: its rate counts the stored ones, lookups ask for them only`);
    const loadRatio = icsRate / sksRate;
    ctx.row('ics/sks /pks/add', `${loadRatio.toFixed(2)}×`);
    ctx.goal(`/pks/add loading ≥ ${GOAL_SKS_LOAD}× SKS`, loadRatio >= GOAL_SKS_LOAD, `${loadRatio.toFixed(2)}×`);
    ctx.figure('sks.load.per_second', { value: icsRate, unit: 'keys/s', baseline: sksRate, goal: `>= ${GOAL_SKS_LOAD}x baseline (SKS)`, met: loadRatio >= GOAL_SKS_LOAD });
    ctx.figure('sks.load.ratio', { value: loadRatio, unit: 'x', baseline: null, goal: `>= ${GOAL_SKS_LOAD}`, met: loadRatio >= GOAL_SKS_LOAD });
    ctx.figure('sks.load.p99', { value: worstP99(loads.ics), unit: 'ms', baseline: worstP99(loads.sks), goal: 'info', met: true });

    // Lookups of the keys both hold (fingerprints are random, so their order needs no
    // shuffling), rounds rotating SKS / node / node with a connection per request; the median
    // round of each is reported.
    const paths = held.map(getPath);
    const base = { connections: s.connections, duration: s.durationSec, paths };
    const measure = {
      sks: async () => {
        const before = processCpuMs(sksPid);
        const r = await closeLoad({ ...base, url: sksUrl });
        const after = processCpuMs(sksPid);
        return before !== undefined && after !== undefined ? { ...r, cpuPerRequest: ((after - before) * 1000) / r.total } : r;
      },
      ics: () => load({ ...base, url: ics }),
      icsClose: () => withServerCpu(() => closeLoad({ ...base, url: ics })),
    };
    const order = ['sks', 'ics', 'icsClose'] as const;
    const gets: Record<(typeof order)[number], LoadResult[]> = { sks: [], ics: [], icsClose: [] };
    for (let round = 0; round < s.rounds; round++) {
      for (let k = 0; k < order.length; k++) {
        const who = order[(round + k) % order.length] as (typeof order)[number];
        gets[who].push(await measure[who]());
      }
    }
    const median = (results: LoadResult[]) => [...results].sort((a, b) => a.perSecond - b.perSecond)[Math.floor((results.length - 1) / 2)] as LoadResult;
    const sksGet = median(gets.sks);
    const icsGet = median(gets.ics);
    const icsCloseGet = median(gets.icsClose);
    const getHow = `${s.connections} connections, ${s.durationSec} s, median of ${s.rounds} rounds, uniform over the ${int(held.length)} keys`;
    ctx.row('sks op=get', `${fmt(sksGet)}  (${getHow}; a new connection per request: SKS closes each; CPU: the sks process)`);
    ctx.row('ics op=get', `${fmt(icsGet)}  (the same keys from the node, autocannon's kept-alive connections; CPU: its main thread)`);
    ctx.row('ics op=get, closing', `${fmt(icsCloseGet)}  (the same, a new connection per request as with SKS)`);
    ctx.log(`  (rounds, req/s: ${order.map((who) => `${who} ${gets[who].map((r) => int(r.perSecond)).join(' / ')}`).join('; ')})`);
    const getRatio = icsGet.perSecond / sksGet.perSecond;
    const closeRatio = icsCloseGet.perSecond / sksGet.perSecond;
    ctx.row('ics/sks op=get', `${getRatio.toFixed(2)}×  (${closeRatio.toFixed(2)}× with a new connection per request to both)`);
    ctx.goal(`op=get by fingerprint ≥ ${GOAL_SKS_GET}× SKS`, getRatio >= GOAL_SKS_GET, `${getRatio.toFixed(2)}×`);
    ctx.figure('sks.get.per_second', { value: icsGet.perSecond, unit: 'req/s', baseline: sksGet.perSecond, goal: `>= ${GOAL_SKS_GET}x baseline (SKS)`, met: getRatio >= GOAL_SKS_GET });
    ctx.figure('sks.get.ratio', { value: getRatio, unit: 'x', baseline: null, goal: `>= ${GOAL_SKS_GET}`, met: getRatio >= GOAL_SKS_GET });
    ctx.figure('sks.get.p50', { value: icsGet.p50, unit: 'ms', baseline: sksGet.p50, goal: 'info', met: true });
    ctx.figure('sks.get.p99', { value: icsGet.p99, unit: 'ms', baseline: sksGet.p99, goal: 'info', met: true });
    ctx.figure('sks.get.new_connection.per_second', { value: icsCloseGet.perSecond, unit: 'req/s', baseline: sksGet.perSecond, goal: 'info', met: true });
    ctx.figure('sks.get.new_connection.ratio', { value: closeRatio, unit: 'x', baseline: null, goal: 'info', met: true });
  } finally {
    await server?.stop();
    await node?.store.close();
    await sks?.stop();
    rmSync(parent, { recursive: true, force: true });
  }
}

export const hkpBenchmark: Benchmark = {
  name: 'hkp',
  title: 'HKP + JSON API over HTTP: op=get and verify vs a bare node:http server, /pks/add vs the store ingest, /pks/add and op=get vs SKS',
  run,
};

/**
 * The HKP server the benchmarks measure: loopback, port 0, the node's defaults for limits
 * except that the load generator's own address is exempt from the per-address ones (it
 * stands for many clients, like gateways behind one NAT).
 */
export function benchHkpServer(parts: { store: HttpComponents['store']; engine: PolicyEngine; ingest: HttpComponents['ingest']; logger: HttpComponents['logger'] }) {
  return createHttpServer(
    httpInit({ nodeInfo: { name: 'bench', role: 'infield', version: 'bench' }, exempt: ['127.0.0.1'] }),
    { store: parts.store, policy: () => parts.engine, ingest: parts.ingest, logger: parts.logger, metrics: createMetrics() },
    [hkpPlugin(), apiPlugin()],
  );
}
