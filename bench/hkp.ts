// HKP / JSON API benchmark: requests per second and p50/p99 latency at 50 connections of
// `op=get` by fingerprint and `/ics/v1/verify/{id}` on a node holding N device records (the
// store benchmark's corpus in a LevelDB store), with a warm working set and cold, beside a
// bare node:http server answering a fixed body of the same size (the ceiling); then
// `/pks/add` of new device records (gpg's form-encoded keytext) beside the store
// benchmark's end-to-end ingest (parseRecord + store.write) on the same store. The load
// generator (autocannon) runs in a worker thread: its own event loop, its own core.
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { apiPlugin } from '../ics/api/index.ts';
import { hkpPlugin } from '../ics/hkp/index.ts';
import { createHttpServer, type HttpComponents, httpInit } from '../ics/http/index.ts';
import { Ingest } from '../ics/ingest/index.ts';
import { createMetrics } from '../ics/node/index.ts';
import type { PolicyEngine } from '../ics/policy/index.ts';
import { armor, parseRecord } from '../ics/record/index.ts';
import { LevelStore } from '../ics/store/level/index.ts';
import { corpusWrite, environmentLine, int, mib, pick, pool, seconds, threadCpu, type BenchContext, type Benchmark } from './harness.ts';
import { benchPolicy, corpusSeeds, issuerRecord } from './corpus-policy.ts';
import { CACHE_DIR, type Corpus, corpusChunks, lightRecords, loadCorpus } from './store-corpus.ts';
import { deviceUserId, type IssuerSeed, issuerFromSeed, keyCreated } from './store-corpus-shared.ts';
import { deviceRecord } from './store-packets.ts';

/** Goals from the brief. */
const GOAL_SHARE = 0.7;
const GOAL_P99_MS = 10;
const GOAL_ADD_SHARE = 0.6;
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
  /** New device records per ingest method (three methods, each over `ingestRounds` rounds). */
  addRecords: number;
  addConnections: number;
  ingestRounds: number;
}

const FULL: Settings = {
  records: 1_000_000,
  connections: 50,
  durationSec: 10,
  warmSec: 3,
  rounds: 3,
  hotSet: 10_000,
  coldPaths: 200_000,
  addRecords: 10_000,
  addConnections: 64,
  ingestRounds: 2,
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
  addConnections: 64,
  ingestRounds: 2,
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
  /** The server's main-thread CPU per request, µs (the load generator runs on another thread). */
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

/** autocannon, in a worker thread, CommonJS: setupRequest picks the next path / body in turn. */
const LOAD_WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
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
autocannon(opts, (err, raw) => {
    if (err) return parentPort.postMessage({ error: String(err) });
    // Off the main thread autocannon leaves its histograms encoded.
    const r = autocannon.aggregateResult([raw], opts);
    parentPort.postMessage({
      total: r.requests.total, seconds: last > first ? (last - first) / 1000 : r.duration, p50: r.latency.p50, p99: r.latency.p99,
      non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
    });
});
`;

const autocannonPath = createRequire(import.meta.url).resolve('autocannon');

export async function load(options: LoadOptions): Promise<LoadResult> {
  const before = threadCpu();
  const result = await runLoad(options);
  const after = threadCpu();
  return before && after ? { ...result, cpuPerRequest: ((after.mainMs - before.mainMs) * 1000) / result.total } : result;
}

function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LOAD_WORKER, { eval: true, workerData: { ...options, method: options.method ?? 'GET', autocannon: autocannonPath } });
    worker.once('message', (m: { error?: string; total: number; seconds: number; p50: number; p99: number; non2xx: number; errors: number; timeouts: number }) => {
      void worker.terminate();
      if (m.error) reject(new Error(m.error));
      else resolve({ ...m, perSecond: m.total / m.seconds });
    });
    worker.once('error', reject);
  });
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
 * A private copy of the cached store in no time: LevelDB never rewrites a table file (it
 * writes new ones and deletes old ones), so tables are hard-linked; everything else is copied.
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
  const store = await LevelStore.open({ path: root });
  const [manufacturer, integrator] = await Promise.all([issuerRecord(seeds.manufacturer), issuerRecord(seeds.integrator)]);
  const engine = await benchPolicy(manufacturer, integrator);
  const logger = pino({ level: 'silent' });
  const ingest = new Ingest({}, { store, policy: engine, logger });
  return { root, store, engine, logger, ingest };
}

/** New device records (not in the corpus), made as the corpus makes them, with the same issuers. */
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
    const upload = async (records: Buffer[], connections: number, tally: Tally, which: 'http' | 'httpMore') => {
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
      const worst = latency[which];
      if (!worst || (result && result.p99 > worst.p99)) latency[which] = result;
    };
    for (let r = 0; r < s.ingestRounds; r++) {
      const [direct, viaIngest, viaHttp, viaHttpMore] = sets[r] as [Buffer[], Buffer[], Buffer[], Buffer[]];
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
    ctx.figure('pks_add.share_of_submit', { value: addRate / totals.ingest.perSecond, unit: 'x', baseline: null, goal: `>= ${GOAL_ADD_SHARE} (Ingest.submit)`, met: addRate >= GOAL_ADD_SHARE * totals.ingest.perSecond });
    ctx.figure('pks_add.p99', { value: latency.http?.p99 ?? Number.NaN, unit: 'ms', baseline: null, goal: 'info', met: true });
    ctx.figure('pks_add.more_clients.per_second', { value: totals.httpMore.perSecond, unit: 'records/s', baseline: directRate, goal: 'info', met: true });
    ctx.figure('pks_add.refused', { value: rejected, unit: 'requests', baseline: null, goal: '= 0', met: rejected === 0 });
  } finally {
    await server.stop();
    await new Promise((r) => bare.close(r));
    await store.close();
    rmSync(root, { recursive: true, force: true });
  }
  ctx.row('memory', `OS maxRSS of the whole process ${mib(process.resourceUsage().maxRSS * 1024)} (server, load generator thread and corpus together)`);
  ctx.figure('memory.max_rss', { value: process.resourceUsage().maxRSS / 1024, unit: 'MiB', baseline: null, goal: 'info (server, load generator thread and corpus together)', met: true });
  ctx.describe({ records: s.records, connections: s.connections, durationSec: s.durationSec, rounds: s.rounds, hotSet: s.hotSet, addRecords: s.addRecords, addConnections: s.addConnections });
}

export const hkpBenchmark: Benchmark = {
  name: 'hkp',
  title: 'HKP + JSON API over HTTP: op=get and verify vs a bare node:http server, /pks/add vs the store ingest',
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
