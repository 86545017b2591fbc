// Shared pieces of the reliability suite: the seed, failing inputs written to disk, device
// records made fast (bench/store-packets.ts), `ics serve` processes on 127.0.0.1 port 0 with
// their RSS and open file descriptors read from /proc, and data directories trusting the
// suite's own issuers (generated per run: no published key is ever trusted).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { parseDocument } from 'yaml';
import { initDataDir, type NodeRole } from '../../ics/node/index.ts';
import { armor } from '../../ics/record/index.ts';
import { type Issuer, deviceRecord, keyFacts, newEdKey, newIssuer, selfSignedKey } from '../store-packets.ts';

export { seededRandom, type SeededRandom } from '../../test/helpers/random.ts';

export const ICS = fileURLToPath(new URL('../../bin/ics.js', import.meta.url));

/** The seed of a run: RELIABILITY_SEED, else a fixed default, so that every run is the same unless asked. */
export function runSeed(): number {
  const text = process.env.RELIABILITY_SEED;
  if (text === undefined || text === '') return 0x1c5_2025;
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new Error('RELIABILITY_SEED must be an integer from 0 to 2^32-1');
  return seed;
}

/** Where failing inputs go: RELIABILITY_FAILURES, else bench/results/reliability-failures/. */
export function failuresDir(): string {
  return process.env.RELIABILITY_FAILURES ?? fileURLToPath(new URL('../results/reliability-failures/', import.meta.url));
}

/**
 * Writes an input that broke an invariant, with the seed and case number that reproduce it:
 * `<dir>/<suite>-<seed>-<case>.bin` and a `.json` beside it saying what went wrong.
 */
export async function writeFailure(suite: string, seed: number, index: number, input: Uint8Array | string, what: string): Promise<string> {
  const dir = failuresDir();
  await mkdir(dir, { recursive: true });
  const base = join(dir, `${suite}-${seed}-${index}`);
  await writeFile(`${base}.bin`, input);
  await writeFile(`${base}.json`, `${JSON.stringify({ suite, seed, case: index, what, reproduce: `RELIABILITY_SEED=${seed}` }, null, 2)}\n`);
  return `${base}.bin`;
}

// ---- records --------------------------------------------------------------------------------


export interface Device {
  readonly id: string;
  readonly userId: string;
  readonly bytes: Buffer;
}

/** Two issuers (manufacturer, integrator) made for this run, and devices certified by both. */
export class Devices {
  readonly manufacturer = newIssuer('urn:cm4it:org:acme.example');
  readonly integrator = newIssuer('urn:cm4it:org:integrator.example');
  #serial = 0;

  constructor(readonly tag = 'rel') {}

  /** A device of acme.example (the `devices` domain of the role policies). */
  next(): Device {
    this.#serial += 1;
    const key = newEdKey(1_735_689_600 + this.#serial);
    const userId = `urn:cm4it:device:acme.example:${this.tag}:SN${String(this.#serial).padStart(7, '0')}`;
    return { id: keyFacts(key).fingerprint.toString('hex'), userId, bytes: deviceRecord(key, userId, this.manufacturer, this.integrator) };
  }

  /** Armored public keys of the two issuers. */
  issuerKeys(): { manufacturer: string; integrator: string } {
    const text = (i: Issuer) => armor('publicKey', selfSignedKey(i.key, i.userId).bytes);
    return { manufacturer: text(this.manufacturer), integrator: text(this.integrator) };
  }
}

/** `ics init` a data directory of `role` whose policy trusts exactly the suite's two issuers. */
export async function initNode(dir: string, role: NodeRole, devices: Devices, edit?: (doc: ReturnType<typeof parseDocument>) => void): Promise<void> {
  await initDataDir(dir, { role, name: `rel-${role}` });
  const keys = devices.issuerKeys();
  await writeFile(join(dir, 'keys/rel-manufacturer.asc'), keys.manufacturer);
  await writeFile(join(dir, 'keys/rel-integrator.asc'), keys.integrator);
  const file = join(dir, 'policy.yaml');
  const doc = parseDocument(await readFile(file, 'utf8'));
  doc.setIn(
    ['trust', 'issuers'],
    doc.createNode([
      { name: 'rel-manufacturer', fingerprint: devices.manufacturer.facts.fingerprint.toString('hex').toUpperCase(), roles: ['manufacturer'], key: 'keys/rel-manufacturer.asc' },
      { name: 'rel-integrator', fingerprint: devices.integrator.facts.fingerprint.toString('hex').toUpperCase(), roles: ['integrator', 'maintainer'], key: 'keys/rel-integrator.asc' },
    ]),
  );
  edit?.(doc);
  await writeFile(file, doc.toString());
  // Every client of the suite comes from 127.0.0.1, standing for many (gateways behind one
  // NAT): exempt from the per-address limits, or a 429 would be the load's own doing.
  const configFile = join(dir, 'config.yaml');
  const config = parseDocument(await readFile(configFile, 'utf8'));
  config.setIn(['clientLimits', 'exempt'], config.createNode(['127.0.0.1']));
  await writeFile(configFile, config.toString(), { mode: 0o600 });
}

export function runIcs(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [ICS, ...args], { env: { ...process.env, ICS_LOG_LEVEL: 'silent' } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`ics ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

// ---- processes ------------------------------------------------------------------------------

export interface Served {
  readonly child: ChildProcess;
  readonly pid: number;
  /** http://127.0.0.1:PORT */
  readonly hkp: string;
  readonly ldap: string | null;
  readonly p2p: readonly string[];
  readonly peerId: string | undefined;
  /** The process ended (killed or crashed). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its log (stderr), last 64 KiB. */
  log(): string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

interface Bound {
  pid: number;
  hkp: string | null;
  ldap: string | null;
  p2p?: { peerId: string; addresses: string[] } | null;
}

/** addresses.json, or undefined while it is absent or half written. */
function parseBound(text: string | undefined): Bound | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Bound;
  } catch {
    return undefined;
  }
}

/** `ics serve` on 127.0.0.1 port 0; resolves once addresses.json names this process. */
export async function serveNode(dir: string, options: { p2p?: boolean; logLevel?: string } = {}): Promise<Served> {
  const args = ['serve', '--data', dir, '--hkp', '127.0.0.1:0', '--ldap', '127.0.0.1:0', '--p2p', options.p2p ? '/ip4/127.0.0.1/tcp/0' : 'off'];
  // BENCH_NODE_FLAGS: node flags for the served process (e.g. `--cpu-prof --cpu-prof-dir=DIR`, which NODE_OPTIONS refuses).
  const flags = benchNodeFlags();
  const child = spawn(process.execPath, [...flags, ICS, ...args], { env: { MALLOC_ARENA_MAX: '2', ...process.env, ICS_LOG_LEVEL: options.logLevel ?? 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-65536);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (done) throw new Error(`ics serve exited before it was ready:\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`ics serve not ready within 60 s:\n${log}`);
    }
    const text = await readFile(join(dir, 'addresses.json'), 'utf8').catch(() => undefined);
    const bound = parseBound(text);
    if (bound && bound.pid === child.pid && bound.hkp) {
      return {
        child,
        pid: child.pid as number,
        hkp: bound.hkp.replace(/\/$/, ''),
        ldap: bound.ldap,
        p2p: bound.p2p?.addresses ?? [],
        peerId: bound.p2p?.peerId,
        exited,
        log: () => log,
        async stop() {
          if (!done) child.kill('SIGTERM');
          await exited;
        },
        async kill9() {
          if (!done) child.kill('SIGKILL');
          await exited;
        },
      };
    }
    await sleep(25);
  }
}

/** Node flags for the served processes, from BENCH_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir=DIR`). */
export function benchNodeFlags(): string[] {
  return (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
}

/**
 * Asks a node, through its inspector, for a full garbage collection that also gives freed
 * memory back (HeapProfiler.collectGarbage: V8's low-memory collection). Resolves when done.
 */
export async function collectGarbage(inspectorUrl: string, timeoutMs = 30_000): Promise<void> {
  const socket = new WebSocket(inspectorUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the inspector at ${inspectorUrl}`)), timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('open', () => socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
      socket.on('message', (data) => {
        const message = JSON.parse(data.toString()) as { id?: number; error?: { message: string } };
        if (message.id !== 1) return;
        clearTimeout(timer);
        if (message.error) reject(new Error(`inspector: ${message.error.message}`));
        else resolve();
      });
    });
  } finally {
    socket.close();
  }
}

/** Resident set size of a process in bytes (Linux /proc), undefined when it is gone. */
export async function rssOf(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status?.match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/**
 * A process's resident memory split as the kernel counts it (Linux /proc/PID/smaps_rollup):
 * anonymous (heaps: V8's, glibc's, LevelDB's caches) and file-backed (mapped files: LevelDB's
 * table files, which the kernel may drop), in bytes; undefined when it is gone.
 */
export async function residentSplit(pid: number): Promise<{ anon: number; file: number } | undefined> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => undefined);
  const kb = (name: string) => Number(rollup?.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? Number.NaN) * 1024;
  const anon = kb('Anonymous');
  const rss = kb('Rss');
  return Number.isNaN(anon) || Number.isNaN(rss) ? undefined : { anon, file: rss - anon };
}

/** Open file descriptors of a process (Linux /proc), undefined when it is gone. */
export async function fdCount(pid: number): Promise<number | undefined> {
  return (await readdir(`/proc/${pid}/fd`).catch(() => undefined))?.length;
}

// ---- memory of a served node ------------------------------------------------------------

export interface NodeSample {
  readonly rss: number;
  readonly fds: number;
  /** Where the RSS is, for reading a change (undefined parts could not be read). */
  readonly anon?: number;
  readonly file?: number;
  /** V8's heap in use and reserved, and memory outside it held by JavaScript objects (Buffers), from the node's /metrics. */
  readonly heapUsed?: number;
  readonly heapTotal?: number;
  readonly external?: number;
  /** Bytes the node's caches hold, summed over ics_cache_bytes but for LevelDB's (part of the heap and external figures). */
  readonly caches?: number;
  /** LevelDB's own memory (block cache, memtables: native, outside the heap), ics_cache_bytes{cache="store-leveldb"}. */
  readonly level?: number;
}

/** The node's V8 heap figures from its Prometheus endpoint (prom-client's default metrics). */
async function heapOf(url: string, headers: Record<string, string>): Promise<Pick<NodeSample, 'heapUsed' | 'heapTotal' | 'external' | 'caches' | 'level'>> {
  try {
    const response = await fetch(`${url}/metrics`, { headers, signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    const metric = (name: string) => {
      const value = text.match(new RegExp(`^ics_nodejs_${name} (\\S+)$`, 'm'))?.[1];
      return value === undefined ? undefined : Number(value);
    };
    const cacheBytes = [...text.matchAll(/^ics_cache_bytes\{cache="(?!store-leveldb")[^}]*\} (\S+)$/gm)].map((m) => Number(m[1]));
    const level = text.match(/^ics_cache_bytes\{cache="store-leveldb"\} (\S+)$/m)?.[1];
    return {
      heapUsed: metric('heap_size_used_bytes'),
      heapTotal: metric('heap_size_total_bytes'),
      external: metric('external_memory_bytes'),
      ...(cacheBytes.length > 0 && { caches: cacheBytes.reduce((a, b) => a + b, 0) }),
      ...(level !== undefined && { level: Number(level) }),
    };
  } catch {
    return {};
  }
}

/** A sample in MiB, as the report prints it. */
export function describeSample(s: NodeSample): string {
  const mib = (n: number | undefined) => (n === undefined ? '?' : (n / 1048576).toFixed(0));
  return `RSS ${mib(s.rss)} (anon ${mib(s.anon)}, file ${mib(s.file)}), V8 heap ${mib(s.heapUsed)}/${mib(s.heapTotal)}, external ${mib(s.external)}, caches ${mib(s.caches)}, LevelDB ${mib(s.level)} MiB, ${s.fds} fds`;
}

/** RSS, its split, open files and the node's own memory figures (/metrics with `headers`); undefined when the process is gone. */
export async function sampleNode(pid: number, url: string, headers: Record<string, string>): Promise<NodeSample | undefined> {
  const rss = await rssOf(pid);
  const fds = await fdCount(pid);
  if (rss === undefined || fds === undefined) return undefined;
  return { rss, fds, ...(await residentSplit(pid)), ...(await heapOf(url, headers)) };
}

// ---- HTTP -----------------------------------------------------------------------------------

/** POST /pks/add with a form `keytext`; the status code (0 when the connection failed). */
export async function pksAdd(base: string, keytext: string, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<number> {
  try {
    const response = await fetch(`${base}/pks/add`, { method: 'POST', body: new URLSearchParams({ keytext }), headers, signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Temp directories of one run, removed by `cleanup`. */
export class TempDirs {
  readonly #dirs: string[] = [];

  async make(prefix: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `ics-rel-${prefix}-`));
    this.#dirs.push(dir);
    return dir;
  }

  async cleanup(): Promise<void> {
    for (const dir of this.#dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }
}

export type { Figure } from '../harness.ts';
