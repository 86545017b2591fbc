import type { WriteRequest } from '../ics/store/types.ts';
// Shared pieces of the benchmarks: the context a benchmark runs in, closed-loop and
// tight-loop timers, percentiles, an RSS sampler and number formatting. No dependencies
// beyond node itself, so that a benchmark measures the product and not the harness.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

/** What `bench/run.ts` hands every benchmark. */
/** The project's TypeScript loader (bin/ts-loader.mjs), for `--import` in the processes a benchmark starts. */
export const TS_LOADER = fileURLToPath(new URL('../bin/ts-loader.mjs', import.meta.url));

export interface BenchContext {
  /** BENCH_QUICK=1: small counts and short windows, a smoke check rather than a measurement. */
  readonly quick: boolean;
  /** Prints one line of results. */
  log(line: string): void;
  /** Prints a labelled row: label padded to a column, then the figures. */
  row(label: string, figures: string): void;
  /** Records a goal and prints its line; `run.ts` repeats all goals at the end. */
  goal(name: string, met: boolean, detail: string): void;
  /**
   * Keeps a figure for bench/results/<bench>.json, which `run.ts` writes after a full run (not
   * a quick one) that kept any, with the machine's cores and load average at the start.
   */
  figure(name: string, figure: Figure): void;
  /** Adds facts about the run (corpus size, connections…) to that file's run description. */
  describe(facts: Record<string, unknown>): void;
}

export interface Benchmark {
  /** Short name, matched by the filter argument (`npm run bench -- record`). */
  readonly name: string;
  /** One line saying what is measured. */
  readonly title: string;
  /** A missed goal fails the run (exit 1): the benchmark checks invariants, not only speed. */
  readonly enforce?: boolean;
  run(ctx: BenchContext): Promise<void>;
}

export interface GoalResult {
  bench: string;
  /** The benchmark enforces its goals (see Benchmark.enforce). */
  enforce?: boolean;
  name: string;
  met: boolean;
  detail: string;
}

export const LABEL_WIDTH = 26;

/** Picks the quick-mode or the full-mode value. */
export function pick<T>(ctx: Pick<BenchContext, 'quick'>, full: T, quick: T): T {
  return ctx.quick ? quick : full;
}

export interface LoopResult {
  /** Completed operations, including those that finished after the deadline. */
  ops: number;
  /** Wall time from the first start to the last completion, ms. */
  elapsedMs: number;
  /** ops / elapsed, per second. */
  perSecond: number;
}

function result(ops: number, elapsedMs: number): LoopResult {
  return { ops, elapsedMs, perSecond: (ops * 1000) / elapsedMs };
}

/**
 * Closed loop: `concurrency` operations in flight until `durationMs` has passed; each
 * completion starts the next one. Operations still in flight at the deadline are waited
 * for and counted, and the time they take is counted too, so the rate is not inflated.
 */
export async function closedLoop(concurrency: number, durationMs: number, task: (i: number) => Promise<unknown>): Promise<LoopResult> {
  let next = 0;
  let ops = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      await task(next++);
      ops++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result(ops, performance.now() - start);
}

/**
 * Tight synchronous loop for `durationMs`; the clock is read once per `batch` calls so
 * that reading it does not dominate cheap operations.
 */
export function syncLoop(durationMs: number, batch: number, task: (i: number) => unknown): LoopResult {
  let ops = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  let now = start;
  while (now < deadline) {
    for (let j = 0; j < batch; j++) task(ops++);
    now = performance.now();
  }
  return result(ops, now - start);
}

/** Nearest-rank percentile of an ascending array; `p` in 0..100. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** Samples `process.memoryUsage().rss` on a timer (and on demand) and keeps the peak. */
export class RssSampler {
  #peak = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly startRss: number;

  constructor(readonly intervalMs = 20) {
    this.startRss = process.memoryUsage().rss;
    this.#peak = this.startRss;
  }

  start(): this {
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
    this.#timer.unref();
    return this;
  }

  sample(): number {
    const rss = process.memoryUsage().rss;
    if (rss > this.#peak) this.#peak = rss;
    return rss;
  }

  stop(): number {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.sample();
    return this.#peak;
  }

  get peak(): number {
    return this.#peak;
  }
}

/** CPU time (ms) of this process's main thread and of all its other threads. */
export interface ThreadCpu {
  mainMs: number;
  otherMs: number;
}

/** Linux USER_HZ: the unit of utime/stime in /proc/<pid>/task/<tid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (ms, user + system) a process has used so far, from /proc (Linux; undefined elsewhere). */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ ticks
  } catch {
    return undefined;
  }
}

/**
 * Per-thread CPU split from /proc (Linux only; undefined elsewhere). "Other" threads are
 * libuv's pool (where async crypto runs), V8's GC/compiler helpers and node's own.
 */
export function threadCpu(): ThreadCpu | undefined {
  try {
    const split: ThreadCpu = { mainMs: 0, otherMs: 0 };
    for (const tid of readdirSync('/proc/self/task')) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      } catch {
        continue; // the thread ended meanwhile
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
      if (tid === String(process.pid)) split.mainMs += cpuMs;
      else split.otherMs += cpuMs;
    }
    return split;
  } catch {
    return undefined;
  }
}

/** Integer with thousands separators: 12 345. */
export function int(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function ms(value: number, digits = 2): string {
  return `${value.toFixed(digits)} ms`;
}

export function us(valueMs: number): string {
  return `${(valueMs * 1000).toFixed(1)} µs`;
}

export function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(1)} s`;
}

/** One line describing the machine and runtime, printed before any figures. */
export function environmentLine(): string {
  const cpu = cpus()[0]?.model?.trim() ?? 'unknown CPU';
  const pool = process.env.UV_THREADPOOL_SIZE ?? '4 (default)';
  return `node ${process.version}, ${availableParallelism()} CPUs (${cpu}), libuv pool ${pool}`;
}

/** Runs `task` over `items` with at most `inFlight` running at once. */
export async function pool<T>(items: readonly T[], inFlight: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, worker));
}

/** A store write of a pre-built corpus record, as bulk import makes it. */
export function corpusWrite(record: WriteRequest['record'], domain = 'devices'): WriteRequest {
  return { record, domains: [domain], expectedDigest: undefined, source: 'import', origin: 'bench', signaturesAdded: 3, summary: 'registered' };
}

/** One figure as bench/results/<bench>.json keeps it. */
export interface Figure {
  readonly value: number;
  readonly unit: string;
  readonly baseline: number | null;
  readonly goal: string;
  readonly met: boolean;
}

/** The checked-out commit the figures are of, with "+changes" when the sources differ from it. */
export function sourceCommit(): string {
  try {
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'ics', 'bench', 'bin'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/**
 * Runs `script` (CommonJS) in a node process of its own, as an outside client runs: it reads
 * `input` (JSON on stdin) into a constant of that name and calls `done(result)` once, which
 * writes the result as JSON to stdout. Load generators run this way, so that they take no time
 * from the event loop and threads of a server measured in this process.
 */
export function runInProcess<T>(script: string, input: unknown): Promise<T> {
  const prelude = "const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));\nconst done = (result) => process.stdout.write(JSON.stringify(result));\n";
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', prelude + script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => {
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`process exited (${code}) without a result`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** A process's resident memory as Linux reports it (/proc/<pid>/status), in bytes. */
export interface ResidentMemory {
  readonly rss: number;
  /** The most RSS the process has had (VmHWM). */
  readonly peakRss: number;
  /** Private: heaps, caches. */
  readonly anon: number;
  /** File-backed: mapped files (LevelDB's tables, slapd's mdb) as far as they are in memory. */
  readonly file: number;
}

/** Resident memory of process `pid` (this one by default); undefined where /proc cannot tell. */
export function residentMemory(pid: number | 'self' = 'self'): ResidentMemory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), peakRss: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return undefined;
  }
}
