// Soak: the four-role mesh under mixed load for a fixed time — lookups (HKP get and index) and
// verdicts on manufacturer and maintenance, new devices over /pks/add on the manufacturer
// (they sync to maintenance), new services over the JSON API on maintenance (they sync to
// infield), status changes of earlier devices over /pks/add, and the nodes' own sync. Counts
// errors (5xx, an unexpected 4xx, a failed connection) and samples each node's RSS and open
// file descriptors at a mark (10 minutes; 10 s in quick mode) and at the end.
//
// RSS under load says more about where the garbage collector is than about growth: a node's
// RSS swings by a third within a minute as V8 lets garbage pile up before a full collection,
// and how much room V8 keeps for it depends on how busy the machine is (one hour-long run saw
// a node's V8 heap hold 219 MiB of old space for ~90 MiB live; half a minute without load did
// not give it back). What a leak changes is what a node keeps. So the load pauses at the mark,
// and each node's RSS is read 12 times through a window, each time right after the soak has
// asked the node for a full garbage collection (through its inspector, on loopback: V8's
// low-memory collection, which also returns freed pages); the same after the load ends. The
// medians of the two windows are compared; the samples under load stay in the report.
import { armor } from '../../ics/record/index.ts';
import { type MeshRole, ROLES } from '../../deploy/mesh.ts';
import { collectGarbage, describeSample, type NodeSample, rssOf, sampleNode, seededRandom, TempDirs } from './common.ts';
import { type Planted, plantDevice, plantService, type RelMesh, startRelMesh, statusChange, submit } from './mesh.ts';

/** Workers of each kind; also the bound on client sockets each node may hold open for them. */
export const SOAK_WORKERS = { lookup: 4, write: 1, status: 1 } as const;
/**
 * File descriptors a node may hold more at the end than at the mark: each lookup/write worker's
 * keep-alive socket may be open or not at a sample (6), LevelDB may hold a new log and table
 * files after a compaction (a few), libp2p may be mid-redial of a peer (one per peer).
 */
export const FD_TOLERANCE = 16;

/** RSS samples of one node through a window: their median, least and most. */
export interface RssWindow {
  readonly samples: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface SoakReport {
  readonly seconds: number;
  readonly requests: number;
  readonly errors: number;
  readonly errorSamples: string[];
  readonly submitted: number;
  readonly statusChanges: number;
  /** Devices submitted to the manufacturer found on maintenance at the end (sync kept up). */
  readonly synced: number;
  readonly mark: Record<MeshRole, NodeSample>;
  readonly end: Record<MeshRole, NodeSample>;
  /** Window length, s: RSS (after a full collection) through a window at the mark and one after the end, each after `settleSeconds` of quiet. */
  readonly windowSeconds: number;
  readonly settleSeconds: number;
  /** Requests sent while the load was paused for the quiet window at the mark (0 when the pause holds). */
  readonly quietRequests: number;
  readonly markWindow: Record<MeshRole, RssWindow>;
  readonly endWindow: Record<MeshRole, RssWindow>;
}

/** Samples per window: enough that one sample at a collection's peak or trough moves no median. */
const WINDOW_SAMPLES = 12;

function rssWindow(values: readonly number[]): RssWindow {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) throw new Error('no RSS sample in a soak window');
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { samples: sorted.length, median, min: sorted[0] as number, max: sorted.at(-1) as number };
}

/** Reads every node's RSS `WINDOW_SAMPLES` times, evenly through `seconds`, each after a full collection. */
async function sampleWindow(m: RelMesh, seconds: number): Promise<Record<MeshRole, RssWindow>> {
  const values = Object.fromEntries(ROLES.map((r) => [r, [] as number[]])) as Record<MeshRole, number[]>;
  for (let i = 0; i < WINDOW_SAMPLES; i++) {
    for (const role of ROLES) {
      const inspector = m.inspector[role];
      if (!inspector) throw new Error(`${role} node has no inspector (the soak starts the mesh with inspect)`);
      await collectGarbage(inspector);
      const rss = await rssOf(m.pid[role]);
      if (rss === undefined) throw new Error(`${role} node (pid ${m.pid[role]}) is gone`);
      values[role].push(rss);
    }
    await new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / WINDOW_SAMPLES));
  }
  return Object.fromEntries(ROLES.map((r) => [r, rssWindow(values[r])])) as Record<MeshRole, RssWindow>;
}

async function sample(m: RelMesh): Promise<Record<MeshRole, NodeSample>> {
  const out = {} as Record<MeshRole, NodeSample>;
  for (const role of ROLES) {
    const s = await sampleNode(m.pid[role], m.url[role], m.auth('operator'));
    if (!s) throw new Error(`${role} node (pid ${m.pid[role]}) is gone`);
    out[role] = s;
  }
  return out;
}

/**
 * Lets the load workers be paused: each passes `through()` before every request and calls
 * `finished()` when it stops for good; `pause()` resolves once every worker waits (no request
 * of theirs in flight) or has finished.
 */
class LoadGate {
  readonly #workers: number;
  #opened: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #quiet: (() => void) | undefined;
  #waiting = 0;
  #finished = 0;

  constructor(workers: number) {
    this.#workers = workers;
  }

  async through(): Promise<void> {
    const opened = this.#opened;
    if (!opened) return;
    this.#waiting++;
    this.#check();
    await opened;
    this.#waiting--;
  }

  finished(): void {
    this.#finished++;
    this.#check();
  }

  pause(): Promise<void> {
    this.#opened = new Promise<void>((resolve) => (this.#open = resolve));
    return new Promise<void>((resolve) => {
      this.#quiet = resolve;
      this.#check();
    });
  }

  resume(): void {
    const open = this.#open;
    this.#opened = undefined;
    this.#open = undefined;
    this.#quiet = undefined;
    open?.();
  }

  #check(): void {
    if (this.#opened && this.#waiting + this.#finished === this.#workers) this.#quiet?.();
  }
}

export async function runSoak(options: {
  seconds: number;
  markSeconds: number;
  windowSeconds: number;
  /** Quiet time before each RSS window (see the header). */
  settleSeconds: number;
  seed: number;
  log?: (line: string) => void;
}): Promise<SoakReport> {
  if (options.markSeconds >= options.seconds) throw new Error('the soak is too short for its mark');
  const log = options.log ?? (() => undefined);
  const rng = seededRandom(options.seed);
  const temp = new TempDirs();
  const m = await startRelMesh(await temp.make('soak'), { inspect: true });
  try {
    const operator = m.auth('operator');
    const devices: Planted[] = [];
    const services: Planted[] = [];
    for (let i = 0; i < 20; i++) {
      const d = await plantDevice(m, `soak:seed${i}`);
      if ((await submit(m.url.manufacturer, d, operator)) >= 300) throw new Error('seeding the manufacturer failed');
      if ((await submit(m.url.maintenance, d, operator)) >= 300) throw new Error('seeding maintenance failed');
      devices.push(d);
      const s = await plantService(m, `soak:seed${i}`);
      if ((await submit(m.url.maintenance, s, operator)) >= 300) throw new Error('seeding maintenance failed');
      services.push(s);
    }
    let requests = 0;
    let errors = 0;
    const errorSamples: string[] = [];
    const fail = (what: string) => {
      errors++;
      if (errorSamples.length < 10) errorSamples.push(what);
    };
    let quiet = false;
    let quietRequests = 0;
    const call = async (url: string, init: RequestInit, ok: readonly number[]) => {
      requests++;
      if (quiet) quietRequests++;
      try {
        const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
        await response.arrayBuffer();
        if (!ok.includes(response.status)) fail(`${init.method ?? 'GET'} ${url}: HTTP ${response.status}`);
      } catch (error) {
        fail(`${init.method ?? 'GET'} ${url}: ${(error as Error).message}`);
      }
    };
    const start = Date.now();
    // Moved on by the pause at the mark, so that the load runs `seconds` in all.
    let deadline = start + options.seconds * 1000;
    const workers = SOAK_WORKERS.lookup + SOAK_WORKERS.write + SOAK_WORKERS.status;
    const gate = new LoadGate(workers);
    let serial = 0;
    let submitted = 0;
    let statusChanges = 0;
    const lookup = async (w: number) => {
      const r = seededRandom(options.seed + w);
      while ((await gate.through(), Date.now() < deadline)) {
        const device = devices[r.int(20)] as Planted;
        const service = services[r.int(20)] as Planted;
        switch (r.int(5)) {
          case 0:
            await call(`${m.url.manufacturer}/pks/lookup?op=get&options=mr&search=0x${device.id}`, {}, [200]);
            break;
          case 1:
            await call(`${m.url.manufacturer}/ics/v1/verify/${device.id}`, {}, [200]);
            break;
          case 2:
            await call(`${m.url.maintenance}/pks/lookup?op=index&options=mr&search=soak`, { headers: operator }, [200]);
            break;
          case 3:
            await call(`${m.url.maintenance}/ics/v1/verify/${service.id}`, { headers: operator }, [200]);
            break;
          default:
            await call(`${m.url.maintenance}/ics/v1/records/${device.id}`, { headers: operator }, [200]);
        }
      }
    };
    const fresh: Planted[] = [];
    const writer = async () => {
      while ((await gate.through(), Date.now() < deadline)) {
        serial++;
        const d = await plantDevice(m, `soak:new${serial}`);
        await call(`${m.url.manufacturer}/pks/add`, { method: 'POST', body: new URLSearchParams({ keytext: armor('publicKey', d.bytes) }), headers: operator }, [200]);
        fresh.push(d);
        submitted++;
        const s = await plantService(m, `soak:new${serial}`);
        await call(`${m.url.maintenance}/ics/v1/records`, { method: 'POST', body: new Uint8Array(s.bytes), headers: { 'content-type': 'application/pgp-keys', ...operator } }, [200, 201]);
      }
    };
    const statuses = async () => {
      const statusList = ['inactive', 'in-use', 'stolen', 'in-use'];
      let n = 0;
      while ((await gate.through(), Date.now() < deadline)) {
        const device = devices[rng.int(20)] as Planted;
        const at = new Date(Date.UTC(2025, 1, 1) + ++n * 1000);
        const keytext = await statusChange(m, device, statusList[n % statusList.length] as string, at);
        await call(`${m.url.manufacturer}/pks/add`, { method: 'POST', body: new URLSearchParams({ keytext }), headers: operator }, [200]);
        statusChanges++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    let mark: Record<MeshRole, NodeSample> | undefined;
    let markWindow: Record<MeshRole, RssWindow> | undefined;
    const quietWindow = async (when: string) => {
      await new Promise((resolve) => setTimeout(resolve, options.settleSeconds * 1000));
      const window = await sampleWindow(m, options.windowSeconds);
      for (const r of ROLES) log(`soak: ${when}, quiet, after full collections: ${r} RSS median ${(window[r].median / 2 ** 20).toFixed(1)} MiB`);
      return window;
    };
    const marker = (async () => {
      await new Promise((resolve) => setTimeout(resolve, options.markSeconds * 1000));
      mark = await sample(m);
      for (const r of ROLES) log(`soak: mark at ${options.markSeconds} s, under load: ${r} ${describeSample((mark as Record<MeshRole, NodeSample>)[r])}`);
      const paused = Date.now();
      await gate.pause();
      quiet = true;
      markWindow = await quietWindow('mark');
      quiet = false;
      deadline += Date.now() - paused;
      gate.resume();
    })();
    const worker = (run: () => Promise<void>) => run().finally(() => gate.finished());
    await Promise.all([
      ...Array.from({ length: SOAK_WORKERS.lookup }, (_, w) => worker(() => lookup(w))),
      ...Array.from({ length: SOAK_WORKERS.write }, () => worker(writer)),
      ...Array.from({ length: SOAK_WORKERS.status }, () => worker(statuses)),
      marker,
    ]);
    const end = await sample(m);
    for (const r of ROLES) log(`soak: end, under load: ${r} ${describeSample(end[r])}`);
    const endWindow = await quietWindow('end');
    // Sync kept up: every device submitted to the manufacturer reaches maintenance.
    let synced = 0;
    const settle = Date.now() + 30_000;
    for (const d of fresh) {
      for (;;) {
        const res = await fetch(`${m.url.maintenance}/ics/v1/records/${d.id}`, { headers: operator });
        await res.arrayBuffer();
        if (res.status === 200) {
          synced++;
          break;
        }
        if (Date.now() > settle) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return {
      seconds: (Date.now() - start) / 1000,
      requests,
      errors,
      errorSamples,
      submitted,
      statusChanges,
      synced,
      mark: mark as Record<MeshRole, NodeSample>,
      end,
      windowSeconds: options.windowSeconds,
      settleSeconds: options.settleSeconds,
      quietRequests,
      markWindow: markWindow as Record<MeshRole, RssWindow>,
      endWindow,
    };
  } finally {
    await m.stop();
    await temp.cleanup();
  }
}
