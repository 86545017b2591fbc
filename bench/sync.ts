// Sync benchmark (ics/sync): two nodes, each its own process with its own LevelDB store, on
// 127.0.0.1 over libp2p (TCP, Noise, Yamux).
//  (1) reconciliation: both hold the same large set but for `diff` records only one holds and
//      `diff` only the other holds; both pull and push the domain. Time from the second node's
//      start to both holding the same set, and the protocol bytes exchanged (frames both ways)
//      beside the bytes of the differing records themselves.
//  (2) initial sync: one node holds `initial` records, the other none: records/s until it holds
//      them all, beside the ingest rate of the same records into an empty store (Ingest.submit,
//      the path sync feeds, with the same concurrency), measured the same way in a child.
// Records come from the store benchmark's cached corpus (bench/store-corpus.ts). The stores are
// filled through store.write with pre-built records (as bench/store.ts does), not timed.
//
// This file is also the child process: with ICS_BENCH_SYNC_CHILD=1 it runs one node driven by
// messages from the parent.
import { type ChildProcess, fork } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { closeSync, cpSync, existsSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Ingest } from '../ics/ingest/index.ts';
import { PolicyEngine, policyFromObject } from '../ics/policy/index.ts';
import { type KeyRecord, parseRecord } from '../ics/record/index.ts';
import { LevelStore } from '../ics/store/level/index.ts';
import type { BucketIndexEvent } from '../ics/store/level/options.ts';
import type { WriteRequest } from '../ics/store/types.ts';
import { createSyncService, loadOrCreatePeerKey, type SyncService } from '../ics/sync/index.ts';
import { corpusWrite, environmentLine, TS_LOADER, int, mib, pick, seconds, type BenchContext, type Benchmark } from './harness.ts';
import { CACHE_DIR, type Corpus, corpusChunks, lightRecords, loadCorpus } from './store-corpus.ts';
import { type IssuerSeed, issuerFromSeed } from './store-corpus-shared.ts';
import { selfSignedKey } from './store-packets.ts';

/** Goals from the issue. */
const GOAL_CONVERGE_MS = 10_000;
const GOAL_BYTES_FACTOR = 3;
const GOAL_BYTES_SLACK = 64 * 1024;
const GOAL_INITIAL_SHARE = 0.6;
const DOMAIN = 'devices';
const SELF = fileURLToPath(import.meta.url);

interface Settings {
  records: number;
  /** Records only node A holds, and as many only node B holds. */
  diff: number;
  initial: number;
  chunk: number;
  ingestInFlight: number;
  /** Ingest.submit calls in flight for the ingest baseline (the sync fetcher's ingestConcurrency). */
  ingestConcurrency: number;
  timeoutMs: number;
  /** Reconciliations run, each from fresh copies of the two stores; the goal holds in every one. */
  rounds: number;
}

const FULL: Settings = { records: 1_000_000, diff: 1_000, initial: 100_000, chunk: 8192, ingestInFlight: 1024, ingestConcurrency: 64, timeoutMs: 300_000, rounds: 5 };
const QUICK: Settings = { records: 20_000, diff: 100, initial: 5_000, chunk: 4096, ingestInFlight: 1024, ingestConcurrency: 64, timeoutMs: 120_000, rounds: 2 };

// ---- messages between the parent and a node process ----------------------------------------------

interface NodeStart {
  op: 'start';
  path: string;
  keyFile: string;
  policy: object;
  /** Issuer key records (bytes, hex) the policy trusts. */
  issuers: string[];
  syncWrites: boolean;
}
interface IngestRun {
  op: 'ingest';
  corpus: Pick<Corpus, 'count' | 'file' | 'dataOffset'>;
  count: number;
  concurrency: number;
}
type ToChild = NodeStart | IngestRun | { op: 'status' } | { op: 'stop' };
type FromChild =
  | { op: 'started'; peerId: string; address: string; startMs: number }
  | { op: 'status'; records: number; count: number; sum: string; bytesIn: number; bytesOut: number; rss: number; bucketIndex: BucketIndexEvent | undefined }
  | { op: 'ingested'; ms: number; records: number }
  | { op: 'error'; message: string };

// ---- the parent ------------------------------------------------------------------------------------

/** The corpus header's issuer seeds (bench/store-corpus.ts writes MAGIC, a length, then JSON). */
function corpusIssuers(corpus: Corpus): { records: Buffer[]; manufacturer: string; integrator: string } {
  const fd = openSync(corpus.file, 'r');
  try {
    const head = Buffer.alloc(corpus.dataOffset);
    readSync(fd, head, 0, head.length, 0);
    const magic = 'ICS-STORE-CORPUS\n'.length;
    const length = head.readUInt32LE(magic);
    const header = JSON.parse(head.toString('utf8', magic + 4, magic + 4 + length)) as { manufacturer: IssuerSeed; integrator: IssuerSeed };
    const make = (seed: IssuerSeed) => {
      const issuer = issuerFromSeed(seed);
      return { bytes: selfSignedKey(issuer.key, seed.userId).bytes, fingerprint: issuer.facts.fingerprint.toString('hex') };
    };
    const m = make(header.manufacturer);
    const i = make(header.integrator);
    return { records: [m.bytes, i.bytes], manufacturer: m.fingerprint, integrator: i.fingerprint };
  } finally {
    closeSync(fd);
  }
}

function policy(issuers: { manufacturer: string; integrator: string }, peers: object[]): object {
  return {
    version: 1,
    trust: {
      issuers: [
        { name: 'acme', fingerprint: issuers.manufacturer, roles: ['manufacturer'] },
        { name: 'integrator', fingerprint: issuers.integrator, roles: ['integrator'] },
      ],
    },
    domains: [
      {
        name: DOMAIN,
        select: { kinds: ['device'], userId: 'urn:cm4it:device:acme.example:*', signedBy: { role: 'manufacturer' } },
        accept: { requireRoles: ['manufacturer'] },
        write: { roles: ['manufacturer', 'integrator'] },
        read: 'public',
      },
    ],
    sync: { peers },
  };
}

class NodeProcess {
  readonly child: ChildProcess;
  #waiting: Array<(m: FromChild) => void> = [];

  constructor(readonly name: string) {
    // ICS_BENCH_CHILD_FLAGS adds node flags to the node processes (e.g. --cpu-prof).
    const flags = (process.env.ICS_BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean);
    this.child = fork(SELF, [], { execArgv: ['--import', TS_LOADER, ...flags], env: { ...process.env, ICS_BENCH_SYNC_CHILD: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: FromChild) => this.#waiting.shift()?.(m));
  }

  ask(message: ToChild): Promise<FromChild> {
    return new Promise((resolve, reject) => {
      this.#waiting.push((m) => (m.op === 'error' ? reject(new Error(`${this.name}: ${m.message}`)) : resolve(m)));
      this.child.send(message);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ op: 'stop' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

type Status = Extract<FromChild, { op: 'status' }>;


/**
 * Writes corpus records whose index passes `keep` into the store at `path` (pre-built records,
 * no verification). With `syncIndex`, the domain's bucket index is loaded (or built) first and
 * kept in step, so that the store closes with it saved, as a node that synced and was stopped.
 */
async function fill(path: string, corpus: Corpus, s: Settings, keep: (index: number) => boolean, limit = corpus.count, syncIndex = false): Promise<number> {
  const store = await LevelStore.open({ path, syncWrites: false });
  if (syncIndex) await store.syncSummaries(DOMAIN, [{ time: 0, id: '' }], undefined);
  let first = 0;
  let written = 0;
  try {
    for (const chunk of corpusChunks(corpus, s.chunk, limit)) {
      const records = lightRecords(corpus, first, chunk).filter((_, j) => keep(first + j));
      first += chunk.length;
      let next = 0;
      const worker = async () => {
        while (next < records.length) await store.write(corpusWrite(records[next++] as WriteRequest['record'], DOMAIN));
      };
      await Promise.all(Array.from({ length: Math.min(s.ingestInFlight, records.length) }, worker));
      written += records.length;
    }
  } finally {
    await store.close();
  }
  return written;
}

/** Bytes of the records at the given corpus indexes. */
function bytesOf(corpus: Corpus, indexes: ReadonlySet<number>): number {
  let total = 0;
  let i = 0;
  for (const chunk of corpusChunks(corpus, 10_000)) {
    for (const bytes of chunk) if (indexes.has(i++)) total += bytes.length;
  }
  return total;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function run(ctx: BenchContext): Promise<void> {
  const s = pick(ctx, FULL, QUICK);
  ctx.row('env', `${environmentLine()}${ctx.quick ? ', QUICK mode (figures are a smoke check only)' : ''}`);
  const corpus = await loadCorpus(s.records, ctx.log);
  const issuers = corpusIssuers(corpus);
  const root = join(CACHE_DIR, 'sync-run');
  rmSync(root, { recursive: true, force: true });
  const procs: NodeProcess[] = [];
  try {
    const keys = await Promise.all(['a', 'b', 'c', 'd'].map((n) => loadOrCreatePeerKey(join(root, `${n}.key`))));
    const [ka, kb, kc, kd] = keys as [(typeof keys)[number], (typeof keys)[number], (typeof keys)[number], (typeof keys)[number]];

    // BENCH_SYNC_ONLY=reconcile|initial runs one part.
    const only = process.env.BENCH_SYNC_ONLY;
    if (only !== 'initial') await reconcilePart(ctx, s, corpus, issuers, root, procs, [ka, kb]);
    if (only !== 'reconcile') await initialPart(ctx, s, corpus, issuers, root, procs, [kc, kd]);
  } finally {
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
    rmSync(root, { recursive: true, force: true });
  }
}

type Issuers = ReturnType<typeof corpusIssuers>;
type Key = Awaited<ReturnType<typeof loadOrCreatePeerKey>>;

async function reconcilePart(ctx: BenchContext, s: Settings, corpus: Corpus, issuers: Issuers, root: string, procs: NodeProcess[], [ka, kb]: [Key, Key]): Promise<void> {
  const issuerHex = issuers.records.map((b) => b.toString('hex'));
  {
    // ---- (1) reconciliation of two large sets that differ a little, both ways ----------------------
    // BENCH_SYNC_CACHE=1 keeps the common store (and which records differ) under .bench-cache/
    // for later runs: filling 1M records takes minutes. Delete it after changing the store.
    const cache = process.env.BENCH_SYNC_CACHE === '1' ? join(CACHE_DIR, `sync-base-v1-${s.records}-${s.diff}`) : undefined;
    const reused = cache !== undefined && existsSync(join(cache, 'diff.json'));
    const t = performance.now();
    let onlyA = new Set<number>();
    let onlyB = new Set<number>();
    let common: number;
    const base = cache ? join(cache, 'db') : join(root, 'base');
    if (cache && reused) {
      const saved = JSON.parse(readFileSync(join(cache, 'diff.json'), 'utf8')) as { onlyA: number[]; onlyB: number[]; common: number };
      onlyA = new Set(saved.onlyA);
      onlyB = new Set(saved.onlyB);
      common = saved.common;
    } else {
      while (onlyA.size < s.diff) onlyA.add(randomInt(s.records));
      while (onlyB.size < s.diff) {
        const i = randomInt(s.records);
        if (!onlyA.has(i)) onlyB.add(i);
      }
      if (cache) rmSync(cache, { recursive: true, force: true });
      common = await fill(base, corpus, s, (i) => !onlyA.has(i) && !onlyB.has(i));
      if (cache) writeFileSync(join(cache, 'diff.json'), JSON.stringify({ onlyA: [...onlyA], onlyB: [...onlyB], common }));
    }
    // The base closes with its bucket index saved, as a node that synced and was stopped.
    await fill(base, corpus, s, () => false, 0, true);
    const diffBytes = bytesOf(corpus, new Set([...onlyA, ...onlyB]));
    ctx.row(
      'setup',
      `A and B each hold ${int(common + s.diff)} records: ${int(common)} in common, ${int(s.diff)} only A holds, ${int(s.diff)} only B holds ` +
        `(${int(2 * s.diff)} differing records, ${mib(diffBytes)}, ${(diffBytes / (2 * s.diff)).toFixed(0)} B each); base ${reused ? 'copied from the cache' : 'filled'} in ${seconds(performance.now() - t)}; ` +
        `${s.rounds} rounds, each from fresh copies`,
    );
    const rounds: Array<{ convergeMs: number; startMs: number; exchanged: number; rss: number; index: string }> = [];
    for (let round = 1; round <= s.rounds; round++) {
      const aPath = join(root, 'a');
      const bPath = join(root, 'b');
      cpSync(base, aPath, { recursive: true });
      cpSync(base, bPath, { recursive: true });
      await fill(aPath, corpus, s, (i) => onlyA.has(i), corpus.count, true);
      await fill(bPath, corpus, s, (i) => onlyB.has(i), corpus.count, true);
      const a = new NodeProcess('A');
      const b = new NodeProcess('B');
      procs.push(a, b);
      const both = { pull: [DOMAIN], push: [DOMAIN] };
      const aStarted = (await a.ask({
        op: 'start',
        path: aPath,
        keyFile: join(root, 'a.key'),
        policy: policy(issuers, [{ name: 'b', peerId: kb.peerId, ...both }]),
        issuers: issuerHex,
        syncWrites: true,
      })) as Extract<FromChild, { op: 'started' }>;
      const bStarted = (await b.ask({
        op: 'start',
        path: bPath,
        keyFile: join(root, 'b.key'),
        policy: policy(issuers, [{ name: 'a', peerId: ka.peerId, addresses: [aStarted.address], ...both }]),
        issuers: issuerHex,
        syncWrites: true,
      })) as Extract<FromChild, { op: 'started' }>;
      const expected = common + 2 * s.diff;
      let last: [Status, Status] | undefined;
      const convergeMs = await waitFor(
        async () => {
          const [sa, sb] = (await Promise.all([a.ask({ op: 'status' }), b.ask({ op: 'status' })])) as [Status, Status];
          last = [sa, sb];
          return sa.count === expected && sb.count === expected && sa.sum === sb.sum;
        },
        s.timeoutMs,
        'convergence',
      );
      await new Promise((r) => setTimeout(r, 300)); // let the last acknowledgements land before counting bytes
      const [sa, sb] = (await Promise.all([a.ask({ op: 'status' }), b.ask({ op: 'status' })])) as [Status, Status];
      const exchanged = sa.bytesOut + sb.bytesOut;
      const index = [sa, sb].map((x, k) => `${'AB'[k]} ${x.bucketIndex ? `${x.bucketIndex.source} ${seconds(x.bucketIndex.ms)}` : 'not used'}`).join(', ');
      const rss = Math.max(sa.rss, sb.rss, last?.[0].rss ?? 0, last?.[1].rss ?? 0);
      rounds.push({ convergeMs, startMs: Math.max(aStarted.startMs, bStarted.startMs), exchanged, rss, index });
      ctx.row(
        `round ${round}`,
        `converged in ${seconds(convergeMs)} from B's start (both hold the same ${int(expected)} records: equal range summary); node start A ${seconds(aStarted.startMs)}, B ${seconds(bStarted.startMs)}; ` +
          `bucket index ${index}; ${mib(exchanged)} exchanged (A→B ${mib(sa.bytesOut)}, B→A ${mib(sb.bytesOut)}); peak RSS ${mib(rss)}`,
      );
      await Promise.all([a.stop(), b.stop()]);
      rmSync(aPath, { recursive: true, force: true });
      rmSync(bPath, { recursive: true, force: true });
    }
    if (!cache) rmSync(base, { recursive: true, force: true });
    const slowest = Math.max(...rounds.map((r) => r.convergeMs));
    const within = rounds.filter((r) => r.convergeMs < GOAL_CONVERGE_MS).length;
    const exchanged = Math.max(...rounds.map((r) => r.exchanged));
    const startMs = Math.max(...rounds.map((r) => r.startMs));
    const rss = Math.max(...rounds.map((r) => r.rss));
    ctx.row('converge', `${rounds.map((r) => seconds(r.convergeMs)).join(', ')}: ${within} of ${rounds.length} under ${GOAL_CONVERGE_MS / 1000} s`);
    ctx.row(
      'bytes exchanged',
      `at most ${mib(exchanged)} per round (protocol frames, without Noise/Yamux framing) = ${(exchanged / diffBytes).toFixed(2)}× the differing records' ${mib(diffBytes)}; ` +
        `reconciliation and requests beyond the records themselves: ${mib(exchanged - diffBytes)}`,
    );
    ctx.row('node start', `at most ${seconds(startMs)} (open the ${int(common + s.diff)}-record store, load the policy, listen); the bucket index is loaded or built at the first sync, inside the converge time`);
    ctx.row('memory', `peak sampled RSS of either node: ${mib(rss)}`);
    ctx.goal(`converge < ${GOAL_CONVERGE_MS / 1000} s in every round`, within === rounds.length, `${within} of ${rounds.length}, slowest ${seconds(slowest)}`);
    const allowed = GOAL_BYTES_FACTOR * diffBytes + GOAL_BYTES_SLACK;
    ctx.goal(`bytes ≤ ${GOAL_BYTES_FACTOR}× differing + 64 KB`, exchanged <= allowed, `${mib(exchanged)} of ${mib(allowed)} allowed`);
    ctx.figure('reconcile.converge', {
      value: slowest,
      unit: 'ms',
      baseline: null,
      goal: `< ${GOAL_CONVERGE_MS} in each of ${rounds.length} rounds (value: the slowest; rounds: ${rounds.map((r) => Math.round(r.convergeMs)).join(', ')} ms)`,
      met: within === rounds.length,
    });
    ctx.figure('reconcile.bytes', { value: exchanged, unit: 'bytes', baseline: diffBytes, goal: `<= ${GOAL_BYTES_FACTOR}x baseline (the differing records' bytes) + ${GOAL_BYTES_SLACK}`, met: exchanged <= allowed });
    ctx.figure('node_start', { value: startMs, unit: 'ms', baseline: null, goal: '< 5000 (open the store, load the policy, listen; the slowest of the rounds)', met: startMs < 5000 });
    ctx.figure('memory.peak_rss', { value: rss / 2 ** 20, unit: 'MiB', baseline: null, goal: 'info (the larger of the two nodes)', met: true });
  }
}

async function initialPart(ctx: BenchContext, s: Settings, corpus: Corpus, issuers: Issuers, root: string, procs: NodeProcess[], [kc, kd]: [Key, Key]): Promise<void> {
  const issuerHex = issuers.records.map((b) => b.toString('hex'));
  let t: number;
  {
    // ---- (2) initial sync to an empty node, beside the ingest rate ----------------------------------
    const cPath = join(root, 'c');
    t = performance.now();
    const initial = await fill(cPath, corpus, s, () => true, s.initial);
    ctx.row('setup', `C holds the first ${int(initial)} corpus records (filled in ${seconds(performance.now() - t)}); D and the ingest baseline start empty`);

    const e = new NodeProcess('ingest');
    procs.push(e);
    await e.ask({ op: 'start', path: join(root, 'e'), keyFile: join(root, 'e.key'), policy: policy(issuers, []), issuers: issuerHex, syncWrites: true });
    const ingested = (await e.ask({
      op: 'ingest',
      corpus: { count: corpus.count, file: corpus.file, dataOffset: corpus.dataOffset },
      count: s.initial,
      concurrency: s.ingestConcurrency,
    })) as Extract<FromChild, { op: 'ingested' }>;
    await e.stop();
    rmSync(join(root, 'e'), { recursive: true, force: true });
    const ingestRate = (ingested.records * 1000) / ingested.ms;
    ctx.row(
      'ingest baseline',
      `${int(ingestRate).padStart(7)} records/s  (Ingest.submit: parse + verify 3 signatures + policy + merge + store.write, ${s.ingestConcurrency} in flight, fsync on, ${int(ingested.records)} records in ${seconds(ingested.ms)})`,
    );

    const c = new NodeProcess('C');
    const d = new NodeProcess('D');
    procs.push(c, d);
    const cStarted = (await c.ask({
      op: 'start',
      path: cPath,
      keyFile: join(root, 'c.key'),
      policy: policy(issuers, [{ name: 'd', peerId: kd.peerId, push: [DOMAIN] }]),
      issuers: issuerHex,
      syncWrites: true,
    })) as Extract<FromChild, { op: 'started' }>;
    await d.ask({
      op: 'start',
      path: join(root, 'd'),
      keyFile: join(root, 'd.key'),
      policy: policy(issuers, [{ name: 'c', peerId: kc.peerId, addresses: [cStarted.address], pull: [DOMAIN] }]),
      issuers: issuerHex,
      syncWrites: true,
    });
    const syncMs = await waitFor(async () => ((await d.ask({ op: 'status' })) as Status).count === initial, s.timeoutMs, 'initial sync');
    const [sc, sd] = (await Promise.all([c.ask({ op: 'status' }), d.ask({ op: 'status' })])) as [Status, Status];
    const syncRate = (initial * 1000) / syncMs;
    ctx.row(
      'initial sync',
      `${int(syncRate).padStart(7)} records/s  (${int(initial)} records C → D in ${seconds(syncMs)} from D's start; ${(syncRate / ingestRate).toFixed(2)}× the ingest baseline; ` +
        `${mib(sc.bytesOut + sd.bytesOut)} exchanged; C ${sc.count === sd.count && sc.sum === sd.sum ? 'equals' : 'DIFFERS FROM'} D)`,
    );
    ctx.goal(`initial sync ≥ ${GOAL_INITIAL_SHARE * 100}% of ingest`, syncRate >= GOAL_INITIAL_SHARE * ingestRate, `${((syncRate / ingestRate) * 100).toFixed(0)}%`);
    ctx.figure('initial.per_second', { value: syncRate, unit: 'records/s', baseline: ingestRate, goal: `>= ${GOAL_INITIAL_SHARE}x baseline (Ingest.submit)`, met: syncRate >= GOAL_INITIAL_SHARE * ingestRate });
    ctx.describe({ records: s.records, diff: s.diff, initial: s.initial, ingestConcurrency: s.ingestConcurrency });
  }
}

export const syncBenchmark: Benchmark = {
  name: 'sync',
  title: 'libp2p sync between two LevelDB nodes: reconciliation of 1M-record sets differing by 1,000 each way; initial sync of 100,000',
  run,
};

// ---- the child: one node ---------------------------------------------------------------------------

async function child(): Promise<void> {
  const logger = pino({ level: process.env.ICS_BENCH_LOG ?? 'warn' });
  let store: LevelStore | undefined;
  let service: SyncService | undefined;
  let ingest: Ingest | undefined;
  let rss = 0;
  let bucketIndex: BucketIndexEvent | undefined;
  const sampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage.rss())), 500);
  sampler.unref();
  const send = (m: FromChild) => process.send?.(m);
  process.on('message', async (m: ToChild) => {
    try {
      switch (m.op) {
        case 'start': {
          const t = performance.now();
          store = await LevelStore.open({ path: m.path, syncWrites: m.syncWrites, onBucketIndex: (e) => (bucketIndex = e) });
          const records: KeyRecord[] = [];
          for (const h of m.issuers) records.push((await parseRecord(Buffer.from(h, 'hex'))).record as KeyRecord);
          const engine = await PolicyEngine.create(policyFromObject(m.policy, 'bench-policy'), records);
          ingest = new Ingest({}, { store, policy: engine, logger });
          const key = await loadOrCreatePeerKey(m.keyFile);
          service = createSyncService({ privateKey: key.privateKey }, { store, policy: () => engine, ingest, logger });
          const started = await service.start();
          send({ op: 'started', peerId: started.peerId, address: started.addresses[0] as string, startMs: performance.now() - t });
          break;
        }
        case 'status': {
          if (!store || !service) throw new Error('not started');
          const [all] = await store.syncSummaries(DOMAIN, [{ time: 0, id: '' }], undefined);
          const peers = service.peers();
          rss = Math.max(rss, process.memoryUsage.rss());
          send({
            op: 'status',
            records: (await store.stats()).records,
            count: all?.count ?? 0,
            sum: Buffer.from(all?.sum ?? []).toString('hex'),
            bytesIn: peers.reduce((n, p) => n + p.bytesIn, 0),
            bytesOut: peers.reduce((n, p) => n + p.bytesOut, 0),
            rss,
            bucketIndex,
          });
          break;
        }
        case 'ingest': {
          if (!ingest) throw new Error('not started');
          const [inputs = []] = [...corpusChunks(m.corpus, m.count, m.count)];
          const submit = ingest;
          const t = performance.now();
          let next = 0;
          const worker = async () => {
            while (next < inputs.length) await submit.submit(inputs[next++] as Buffer, { source: 'import' });
          };
          await Promise.all(Array.from({ length: m.concurrency }, worker));
          send({ op: 'ingested', ms: performance.now() - t, records: inputs.length });
          break;
        }
        case 'stop':
          await service?.stop();
          await store?.close();
          process.exit(0);
      }
    } catch (error) {
      send({ op: 'error', message: (error as Error).stack ?? String(error) });
    }
  });
}

if (process.env.ICS_BENCH_SYNC_CHILD === '1') void child();

