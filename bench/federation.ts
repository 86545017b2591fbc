// Federation benchmark (DESIGN §6, §8 "a federation grows to hundreds of nodes"): 100 ICS nodes
// on 127.0.0.1 — 1 manufacturer, 3 developers, 16 maintenance (one IoT system each, with its
// own integrator), 80 infield (5 gateways' ICSes per system) — wired as deploy/mesh.ts wires
// the four roles, scaled:
//   manufacturer ⇄ every maintenance (devices)      every developer → every maintenance (firmware)
//   maintenance k → its 5 infield nodes (system, firmware)
// Each node is a real node: its own data directory (`initDataDir`), LevelDB store, libp2p key
// and issuer key, opened by `openNode` and served by `startServices` (HTTP with the HKP and
// JSON API plugins, libp2p sync over TCP with Noise and Yamux). 100 processes would not fit,
// so worker processes forked from here run 10 nodes each; memory per node is a worker's RSS
// divided by its nodes.
//  (1) start-up: the nodes start, the developers publish firmware, the manufacturer imports a
//      corpus of registered, countersigned devices; time until every node holds what its
//      policy lets it (equal sync summaries along every link).
//  (2) changes: one device at a time, the manufacturer's "stolen" certification is POSTed to its
//      /pks/add; the clock runs until every infield node of the device's system answers
//      "stolen" on GET /ics/v1/verify/{id} (polled over HTTP as a gateway asks). Sync protocol
//      bytes of every node (the sync service's peer counters, in + out) over the window.
//  (3) the corpus grows tenfold (the manufacturer imports the rest); (2) again, to show that a
//      change costs the same bytes whatever the size of the set.
//
// This file is also the worker process: with ICS_BENCH_FEDERATION_WORKER=1 it runs nodes
// driven by messages from the parent.
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseDocument } from 'yaml';
import { hashPassword, tokenDigest } from '../ics/auth/index.ts';
import { type IcsNode, initDataDir, openNode, type RunningServices, startServices } from '../ics/node/index.ts';
import { armor, codeStatement, signCode } from '../ics/record/index.ts';
import { loadOrCreatePeerKey } from '../ics/sync/index.ts';
import { type BenchContext, type Benchmark, environmentLine, TS_LOADER, int, mib, percentile, pick, seconds } from './harness.ts';
import { deviceUserId, keyCreated } from './store-corpus-shared.ts';
import { certification, deviceRecord, type Issuer, type KeyFacts, keyFacts, newEdKey, newIssuer, selfSignedKey } from './store-packets.ts';

/** Goal from the issue: the manufacturer's "stolen" at every interested infield node within 5 s (p99). */
const GOAL_P99_MS = 5000;
/**
 * "O(the change), not O(the set)": the bytes a change costs may grow by at most this factor
 * while the set grows tenfold (range reconciliation is logarithmic in the set at worst).
 */
const GOAL_BYTES_GROWTH = 2;
const SELF = fileURLToPath(import.meta.url);
const WORKER_ENV = 'ICS_BENCH_FEDERATION_WORKER';
/** Seconds between periodic reconciliations, as deploy/mesh.ts wires its peers. */
const INTERVAL_SECONDS = 30;

interface Settings {
  readonly developers: number;
  readonly maintenance: number;
  readonly infieldPerMaintenance: number;
  readonly workers: number;
  /** The initial corpus, then the size it grows to. */
  readonly corpora: readonly [number, number];
  /** Status changes measured at each corpus size. */
  readonly changes: number;
  readonly firmwarePerDeveloper: number;
  /** A window of the same protocol with no change, for the background (periodic reconciliation). */
  readonly idleMs: number;
  readonly pollMs: number;
  readonly convergeTimeoutMs: number;
}

const FULL: Settings = {
  developers: 3,
  maintenance: 16,
  infieldPerMaintenance: 5,
  workers: 10,
  corpora: [1_000, 10_000],
  changes: 16,
  firmwarePerDeveloper: 10,
  idleMs: 20_000,
  pollMs: 25,
  convergeTimeoutMs: 900_000,
};
const QUICK: Settings = {
  developers: 1,
  maintenance: 2,
  infieldPerMaintenance: 4,
  workers: 2,
  corpora: [200, 2_000],
  changes: 4,
  firmwarePerDeveloper: 3,
  idleMs: 5_000,
  pollMs: 25,
  convergeTimeoutMs: 180_000,
};

type Role = 'manufacturer' | 'developer' | 'maintenance' | 'infield';

interface PlannedNode {
  readonly name: string;
  readonly role: Role;
  /** Developer index, or the system (maintenance index) of a maintenance or infield node. */
  readonly index: number;
  readonly dir: string;
  readonly peerId: string;
  /** The node's own issuer key (its data directory's keys/issuer.asc). */
  readonly issuer: string;
  readonly worker: number;
}

// ---- messages between the parent and a worker ------------------------------------------------------

type ToWorker =
  | { op: 'start'; nodes: Array<{ name: string; dir: string }> }
  | { op: 'import'; node: string; records: Uint8Array[]; concurrency: number }
  | { op: 'publish'; node: string; count: number; name: string }
  | { op: 'status' }
  | { op: 'ping' }
  | { op: 'quiet' }
  | { op: 'stop' };

interface NodeStatus {
  name: string;
  domains: Record<string, { count: number; sum: string }>;
  bytesIn: number;
  bytesOut: number;
  /** Peers by state, for a report when convergence stalls. */
  notInSync: string[];
}

type FromWorker =
  | { op: 'started'; nodes: Array<{ name: string; hkp: string; p2p: string; peerId: string }>; ms: number }
  | { op: 'imported'; inserted: number; updated: number; unchanged: number; ms: number }
  | { op: 'published'; ids: string[] }
  | { op: 'pong' }
  | { op: 'status'; rss: number; peakRss: number; cpuMs: number; nodes: NodeStatus[] }
  | { op: 'error'; message: string };

class Worker {
  readonly child: ChildProcess;
  readonly #waiting = new Map<number, (m: FromWorker) => void>();
  #next = 0;
  #exited: Error | undefined;

  constructor(
    readonly index: number,
    flags: readonly string[],
  ) {
    this.child = fork(SELF, [], {
      execArgv: ['--import', TS_LOADER, ...flags],
      // Two malloc arenas, as deploy/ics.service and the mesh set: glibc's default (8 per core)
      // lets the libuv pool and LevelDB's threads each keep a fragmented arena.
      env: { MALLOC_ARENA_MAX: '2', ...process.env, [WORKER_ENV]: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child.on('message', (m: FromWorker & { id: number }) => {
      const waiter = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      waiter?.(m);
    });
    this.child.once('exit', (code, signal) => {
      this.#exited = new Error(`worker ${index} exited with ${code ?? signal}`);
      for (const waiter of this.#waiting.values()) waiter({ op: 'error', message: this.#exited.message });
      this.#waiting.clear();
    });
  }

  ask<T extends FromWorker['op']>(message: ToWorker, expect: T): Promise<Extract<FromWorker, { op: T }>> {
    return new Promise((resolve, reject) => {
      if (this.#exited) return reject(this.#exited);
      const id = this.#next++;
      this.#waiting.set(id, (m) => {
        if (m.op === 'error') reject(new Error(`worker ${this.index}: ${m.message}`));
        else if (m.op !== expect) reject(new Error(`worker ${this.index}: expected ${expect}, got ${m.op}`));
        else resolve(m as Extract<FromWorker, { op: T }>);
      });
      this.child.send({ ...message, id });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ op: 'stop', id: -1 });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

// ---- the federation's layout -----------------------------------------------------------------------

interface Layout {
  readonly root: string;
  readonly nodes: readonly PlannedNode[];
  readonly manufacturer: PlannedNode;
  readonly developers: readonly PlannedNode[];
  readonly maintenance: readonly PlannedNode[];
  /** Infield nodes by system. */
  readonly infield: ReadonlyArray<readonly PlannedNode[]>;
  readonly acme: Issuer;
  /** One integrator per system. */
  readonly integrators: readonly Issuer[];
  /** The gateways' API token on every infield node (a user with read rights only). */
  readonly gatewayToken: string;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Initialises every data directory (the node's own `ics init`) and its libp2p key. */
async function plan(root: string, s: Settings): Promise<Layout> {
  const order: Array<{ name: string; role: Role; index: number }> = [
    { name: 'manufacturer', role: 'manufacturer', index: 0 },
    ...Array.from({ length: s.developers }, (_, d) => ({ name: `developer-${d}`, role: 'developer' as const, index: d })),
    ...Array.from({ length: s.maintenance }, (_, k) => ({ name: `maintenance-${pad(k, 2)}`, role: 'maintenance' as const, index: k })),
    ...Array.from({ length: s.maintenance * s.infieldPerMaintenance }, (_, i) => {
      const k = Math.floor(i / s.infieldPerMaintenance);
      return { name: `infield-${pad(k, 2)}-${i % s.infieldPerMaintenance}`, role: 'infield' as const, index: k };
    }),
  ];
  const nodes: PlannedNode[] = [];
  for (const [i, n] of order.entries()) {
    const dir = join(root, n.name);
    const init = await initDataDir(dir, { role: n.role, name: n.name });
    const key = await loadOrCreatePeerKey(join(dir, 'keys/libp2p.key'));
    // Interleaved, so that every worker holds a mix of roles.
    nodes.push({ ...n, dir, peerId: key.peerId, issuer: init.issuerFingerprint, worker: i % s.workers });
  }
  const of = (role: Role) => nodes.filter((n) => n.role === role);
  const infield = Array.from({ length: s.maintenance }, (_, k) => of('infield').filter((n) => n.index === k));
  const acme = newIssuer('urn:cm4it:org:acme.example');
  const integrators = Array.from({ length: s.maintenance }, (_, k) => newIssuer(`urn:cm4it:org:integrator-${pad(k, 2)}.example`));
  const layout: Layout = {
    root,
    nodes,
    manufacturer: of('manufacturer')[0] as PlannedNode,
    developers: of('developer'),
    maintenance: of('maintenance'),
    infield,
    acme,
    integrators,
    gatewayToken: randomBytes(32).toString('base64url'),
  };
  await writeKeysAndConfigs(layout);
  return layout;
}

const fingerprintOf = (issuer: Issuer) => issuer.facts.fingerprint.toString('hex');

/**
 * Trusted issuers' key files in every data directory, and each node's config: 127.0.0.1 exempt
 * from the per-address limits (every peer and client is on loopback), and on infield nodes the
 * gateways' user with an API token (their `system` domain is read by authenticated users only).
 */
async function writeKeysAndConfigs(layout: Layout): Promise<void> {
  const armored = new Map<string, string>([['acme-manufacturer', armor('publicKey', selfSignedKey(layout.acme.key, layout.acme.userId).bytes)]]);
  for (const [k, integrator] of layout.integrators.entries()) armored.set(`integrator-${pad(k, 2)}`, armor('publicKey', selfSignedKey(integrator.key, integrator.userId).bytes));
  for (const developer of layout.developers) armored.set(developer.name, await readFile(join(developer.dir, 'keys/issuer.asc'), 'utf8'));
  // Scrypt once: the gateways authenticate with the token; the password is never used.
  const passwordHash = await hashPassword(randomBytes(24).toString('base64url'));
  for (const node of layout.nodes) {
    for (const [name, text] of armored) await writeFile(join(node.dir, `keys/${name}.asc`), text);
    const file = join(node.dir, 'config.yaml');
    const doc = parseDocument(await readFile(file, 'utf8'));
    doc.setIn(['clientLimits', 'exempt'], doc.createNode(['127.0.0.1']));
    if (node.role === 'infield') {
      doc.setIn(['auth', 'users'], doc.createNode([{ name: 'gateway', passwordHash, write: false, tokens: [{ label: 'bench', sha256: tokenDigest(layout.gatewayToken) }] }]));
    }
    await writeFile(file, doc.toString(), { mode: 0o600 });
  }
}

/**
 * Trust as the role policies ask for it, per system: the manufacturer's key everywhere; each
 * system's integrator on its maintenance node and that node's infield nodes (in `devices` only
 * on the other maintenance nodes, so that every copy of a device record is the same and
 * `system` holds this system's devices alone); the developers' keys wherever firmware goes.
 * Issuers that decide a shared domain's membership must be the same on both ends of a link:
 * sync compares the domains' definition digests.
 */
function trustOf(layout: Layout, node: PlannedNode): object[] {
  const acme = { name: 'acme-manufacturer', fingerprint: fingerprintOf(layout.acme), roles: ['manufacturer'], key: 'keys/acme-manufacturer.asc' };
  const integrator = (k: number, domains?: string[]) => ({
    name: `integrator-${pad(k, 2)}`,
    fingerprint: fingerprintOf(layout.integrators[k] as Issuer),
    roles: ['integrator', 'maintainer'],
    ...(domains && { domains }),
    key: `keys/integrator-${pad(k, 2)}.asc`,
  });
  const developers = layout.developers.map((d) => ({ name: d.name, fingerprint: d.issuer, roles: ['developer'], key: `keys/${d.name}.asc` }));
  switch (node.role) {
    case 'manufacturer':
      // Integrators' countersignatures come back from maintenance (devices flow both ways).
      return [acme, ...layout.integrators.map((_, k) => integrator(k))];
    case 'developer':
      return developers;
    case 'maintenance':
      return [acme, ...layout.integrators.map((_, k) => integrator(k, k === node.index ? undefined : ['devices'])), ...developers];
    case 'infield':
      return [acme, integrator(node.index), ...developers];
  }
}

interface Bound {
  hkp: string;
  p2p: string;
}

/** Sync peers as deploy/mesh.ts's WIRING has them, scaled; addresses of the nodes already running. */
function peersOf(layout: Layout, node: PlannedNode, bound: ReadonlyMap<string, Bound>): object[] {
  const peer = (other: PlannedNode, pull: string[], push: string[]) => {
    const address = bound.get(other.name)?.p2p;
    return { name: other.name, peerId: other.peerId, ...(address && { addresses: [address] }), pull, push, intervalSeconds: INTERVAL_SECONDS };
  };
  switch (node.role) {
    case 'manufacturer':
      return layout.maintenance.map((m) => peer(m, ['devices'], ['devices']));
    case 'developer':
      return layout.maintenance.map((m) => peer(m, [], ['firmware']));
    case 'maintenance':
      return [
        peer(layout.manufacturer, ['devices'], ['devices']),
        ...layout.developers.map((d) => peer(d, ['firmware'], [])),
        ...(layout.infield[node.index] ?? []).map((i) => peer(i, [], ['system', 'firmware'])),
      ];
    case 'infield':
      return [peer(layout.maintenance[node.index] as PlannedNode, ['system', 'firmware'], [])];
  }
}

async function writePolicy(layout: Layout, node: PlannedNode, bound: ReadonlyMap<string, Bound>): Promise<void> {
  const file = join(node.dir, 'policy.yaml');
  const doc = parseDocument(await readFile(file, 'utf8'));
  // The template's list holds the node's own issuer: replaced whole (it signs nothing here).
  doc.setIn(['trust', 'issuers'], doc.createNode(trustOf(layout, node)));
  if (node.role === 'maintenance') {
    const domains = doc.get('domains') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
    const byName = (name: string) => domains.items.find((d) => d.get('name') === name);
    // As deploy/mesh.ts: `system` is read by this system's infield nodes only, `devices` by the manufacturer.
    byName('system')?.set('read', doc.createNode({ peers: (layout.infield[node.index] ?? []).map((i) => i.peerId), authenticated: true }));
    byName('devices')?.set('read', doc.createNode({ peers: [layout.manufacturer.peerId], authenticated: true }));
  }
  doc.setIn(['sync', 'peers'], doc.createNode(peersOf(layout, node, bound)));
  await writeFile(file, doc.toString());
}

// ---- the corpus ---------------------------------------------------------------------------------------

interface Device {
  readonly index: number;
  readonly system: number;
  readonly facts: KeyFacts;
  readonly userId: string;
  /** Self-certification, the manufacturer's (in-use), the system integrator's. */
  readonly bytes: Buffer;
}

/** Devices [from, to): device i belongs to system i mod maintenance. */
function makeDevices(layout: Layout, from: number, to: number): Device[] {
  const devices: Device[] = [];
  for (let i = from; i < to; i++) {
    const system = i % layout.maintenance.length;
    const key = newEdKey(keyCreated(i));
    const userId = deviceUserId(i);
    devices.push({ index: i, system, facts: keyFacts(key), userId, bytes: deviceRecord(key, userId, layout.acme, layout.integrators[system] as Issuer) });
  }
  return devices;
}

/** The manufacturer's signed "stolen" statement on a device, dated now (later than its in-use). */
function stolen(layout: Layout, device: Device): Buffer {
  const statement = certification(device.facts, Buffer.from(device.userId, 'utf8'), { facts: layout.acme.facts, privateKey: layout.acme.key.privateKey }, Math.floor(Date.now() / 1000), {
    role: 'manufacturer',
    status: 'stolen',
  });
  return Buffer.concat([device.bytes, statement]);
}

// ---- the parent -------------------------------------------------------------------------------------

interface Snapshot {
  at: number;
  workers: Array<Extract<FromWorker, { op: 'status' }>>;
  byName: Map<string, NodeStatus>;
}

async function snapshot(workers: readonly Worker[]): Promise<Snapshot> {
  const statuses = await Promise.all(workers.map((w) => w.ask({ op: 'status' }, 'status')));
  const byName = new Map<string, NodeStatus>();
  for (const s of statuses) for (const n of s.nodes) byName.set(n.name, n);
  return { at: performance.now(), workers: statuses, byName };
}

const syncBytes = (snap: Snapshot) => [...snap.byName.values()].reduce((n, s) => n + s.bytesIn + s.bytesOut, 0);

/** What is still missing for the federation to hold `devices` devices and `firmware` code records; empty when converged. */
function missing(layout: Layout, snap: Snapshot, devices: number, firmware: number): string[] {
  const lacks: string[] = [];
  const summary = (node: PlannedNode, domain: string) => snap.byName.get(node.name)?.domains[domain] ?? { count: -1, sum: '' };
  const share = (k: number) => Math.floor(devices / layout.maintenance.length) + (k < devices % layout.maintenance.length ? 1 : 0);
  const want = (node: PlannedNode, domain: string, count: number, like?: PlannedNode) => {
    const have = summary(node, domain);
    const equal = like === undefined || have.sum === summary(like, domain).sum;
    if (have.count !== count || !equal) lacks.push(`${node.name} ${domain} ${have.count}/${count}${equal ? '' : ' (differs)'}`);
  };
  want(layout.manufacturer, 'devices', devices);
  for (const m of layout.maintenance) {
    want(m, 'devices', devices, layout.manufacturer);
    want(m, 'system', share(m.index));
    want(m, 'firmware', firmware * layout.developers.length, layout.maintenance[0]);
    for (const i of layout.infield[m.index] ?? []) {
      want(i, 'system', share(m.index), m);
      want(i, 'firmware', firmware * layout.developers.length, m);
    }
  }
  return lacks;
}

async function converge(layout: Layout, workers: readonly Worker[], devices: number, firmware: number, timeoutMs: number, log: (line: string) => void): Promise<number> {
  const start = performance.now();
  let lastReport = start;
  for (;;) {
    const snap = await snapshot(workers);
    const lacks = missing(layout, snap, devices, firmware);
    if (lacks.length === 0) return performance.now() - start;
    const now = performance.now();
    if (now - start > timeoutMs) {
      const stalled = [...snap.byName.values()].filter((n) => n.notInSync.length > 0).slice(0, 10);
      throw new Error(`not converged after ${seconds(now - start)}: ${lacks.slice(0, 20).join('; ')}\n${stalled.map((n) => `${n.name}: ${n.notInSync.join(', ')}`).join('\n')}`);
    }
    if (now - lastReport > 30_000) {
      lastReport = now;
      const stalled = [...snap.byName.values()].filter((n) => n.notInSync.length > 0).slice(0, 3);
      log(`  … ${seconds(now - start)}: ${lacks.length} node-domains still short, e.g. ${lacks.slice(0, 3).join('; ')}${stalled.map((n) => `; ${n.name}: ${n.notInSync.join(', ')}`).join('')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The manufacturer imports devices through its ingest path, in messages of `chunk` records. */
async function importAtManufacturer(layout: Layout, workers: readonly Worker[], devices: readonly Device[]): Promise<void> {
  const worker = workers[layout.manufacturer.worker] as Worker;
  const chunk = 1000;
  for (let at = 0; at < devices.length; at += chunk) {
    const records = devices.slice(at, at + chunk).map((d) => d.bytes);
    const done = await worker.ask({ op: 'import', node: layout.manufacturer.name, records, concurrency: 64 }, 'imported');
    if (done.inserted !== records.length) throw new Error(`the manufacturer stored ${done.inserted} of ${records.length} devices`);
  }
}

interface VerdictAnswer {
  status: string | null;
  trusted: boolean;
}

async function verdictAt(bound: Bound, id: string, token: string): Promise<VerdictAnswer | undefined> {
  const response = await fetch(`${bound.hkp}/ics/v1/verify/${id}`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok) throw new Error(`${bound.hkp} /ics/v1/verify answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as VerdictAnswer;
}

interface PhaseResult {
  readonly corpus: number;
  /** ms from the POST to each interested infield node's verdict turning "stolen". */
  readonly latencies: number[];
  readonly windowMs: number;
  /** Sync bytes (in + out, every node) over the window of changes. */
  readonly bytes: number;
  /** The same protocol over an idle window, scaled to the changes' window. */
  readonly idleBytes: number;
  /** Mean bytes of the changed record (the device record with its new statement). */
  readonly recordBytes: number;
}

async function changes(
  ctx: BenchContext,
  s: Settings,
  layout: Layout,
  workers: readonly Worker[],
  bound: ReadonlyMap<string, Bound>,
  devices: readonly Device[],
  changed: Set<number>,
): Promise<PhaseResult> {
  const manufacturer = bound.get(layout.manufacturer.name) as Bound;
  // The background: the same federation with nothing changing (periodic reconciliation only).
  const idle0 = await snapshot(workers);
  await new Promise((r) => setTimeout(r, s.idleMs));
  const idle1 = await snapshot(workers);
  const idleRate = (syncBytes(idle1) - syncBytes(idle0)) / (idle1.at - idle0.at);

  const latencies: number[] = [];
  let recordBytes = 0;
  const before = await snapshot(workers);
  for (let c = 0; c < s.changes; c++) {
    // One device per system in turn, never one changed before.
    const system = c % layout.maintenance.length;
    let device: Device;
    do device = devices[system + layout.maintenance.length * randomInt(Math.floor(devices.length / layout.maintenance.length))] as Device;
    while (changed.has(device.index));
    changed.add(device.index);
    const id = device.facts.fingerprint.toString('hex');
    const interested = (layout.infield[system] ?? []).map((n) => bound.get(n.name) as Bound);
    for (const b of interested) {
      const v = await verdictAt(b, id, layout.gatewayToken);
      if (v?.status !== 'in-use' || !v.trusted) throw new Error(`${b.hkp}: ${device.userId} is ${JSON.stringify(v)} before the change, not trusted and in-use`);
    }
    const record = stolen(layout, device);
    recordBytes += record.length;
    const t0 = performance.now();
    const response = await fetch(`${manufacturer.hkp}/pks/add`, { method: 'POST', body: new URLSearchParams({ keytext: armor('publicKey', record) }) });
    if (!response.ok) throw new Error(`the manufacturer's /pks/add answered ${response.status}: ${await response.text()}`);
    await response.body?.cancel();
    const times = await Promise.all(
      interested.map(async (b) => {
        for (;;) {
          if ((await verdictAt(b, id, layout.gatewayToken))?.status === 'stolen') return performance.now() - t0;
          if (performance.now() - t0 > 60_000) throw new Error(`${b.hkp}: ${device.userId} not stolen within 60 s`);
          await new Promise((r) => setTimeout(r, s.pollMs));
        }
      }),
    );
    latencies.push(...times);
    ctx.log(`  change ${c + 1}/${s.changes}: ${device.userId.split(':').pop()} (system ${system}) stolen at its ${times.length} infield nodes in ${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)} ms`);
    // Let the change's tail (maintenance → manufacturer, acknowledgements) finish before the next.
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const after = await snapshot(workers);
  const windowMs = after.at - before.at;
  return { corpus: devices.length, latencies, windowMs, bytes: syncBytes(after) - syncBytes(before), idleBytes: idleRate * windowMs, recordBytes: recordBytes / s.changes };
}

function summary(values: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
}

/** Peak memory per node: each worker's peak RSS over its nodes; the largest, and all workers' peaks over all nodes. */
function memory(layout: Layout, snap: Snapshot): { worst: number; mean: number; now: number } {
  let worst = 0;
  let total = 0;
  let now = 0;
  for (const [w, status] of snap.workers.entries()) {
    const nodes = layout.nodes.filter((n) => n.worker === w).length;
    worst = Math.max(worst, status.peakRss / nodes);
    total += status.peakRss;
    now += status.rss;
  }
  return { worst, mean: total / layout.nodes.length, now: now / layout.nodes.length };
}

async function run(ctx: BenchContext): Promise<void> {
  const s = pick(ctx, FULL, QUICK);
  const nodeCount = 1 + s.developers + s.maintenance * (1 + s.infieldPerMaintenance);
  ctx.row('env', `${environmentLine()}${ctx.quick ? ', QUICK mode (figures are a smoke check only)' : ''}`);
  ctx.row('load average', loadavg().map((l) => l.toFixed(2)).join(', ') + ' (1, 5, 15 min) at the start');
  const root = await mkdtemp(join(tmpdir(), 'ics-bench-federation-'));
  const workers: Worker[] = [];
  try {
    let t = performance.now();
    const layout = await plan(root, s);
    ctx.row(
      'setup',
      `${nodeCount} nodes (1 manufacturer, ${s.developers} developers, ${s.maintenance} maintenance, ${s.maintenance * s.infieldPerMaintenance} infield) initialised in ${seconds(performance.now() - t)}; ` +
        `${s.workers} worker processes × ${Math.ceil(nodeCount / s.workers)} nodes; LevelDB stores in ${root}`,
    );
    // BENCH_FEDERATION_PROFILE=<worker>: that worker runs with --cpu-prof (profile in the current directory).
    const profiled = process.env.BENCH_FEDERATION_PROFILE;
    for (let w = 0; w < s.workers; w++) workers.push(new Worker(w, profiled === String(w) ? ['--cpu-prof'] : []));
    // The workers have loaded the program before the clock starts: start-up is the nodes'.
    await Promise.all(workers.map((w) => w.ask({ op: 'ping' }, 'pong')));

    // ---- (1) start-up -----------------------------------------------------------------------------
    const bound = new Map<string, Bound>();
    const startAt = performance.now();
    const stages: Role[][] = [['manufacturer', 'developer'], ['maintenance'], ['infield']];
    const stageMs: number[] = [];
    for (const roles of stages) {
      t = performance.now();
      const stage = layout.nodes.filter((n) => roles.includes(n.role));
      // Peers upstream are running: their addresses go into the policies before the nodes open them.
      for (const node of stage) await writePolicy(layout, node, bound);
      const started = await Promise.all(
        workers.map((w) => {
          const mine = stage.filter((n) => n.worker === w.index).map((n) => ({ name: n.name, dir: n.dir }));
          return mine.length > 0 ? w.ask({ op: 'start', nodes: mine }, 'started') : undefined;
        }),
      );
      for (const result of started) for (const n of result?.nodes ?? []) bound.set(n.name, { hkp: n.hkp, p2p: n.p2p });
      stageMs.push(performance.now() - t);
    }
    const listeningMs = performance.now() - startAt;
    t = performance.now();
    const firmwareNames = layout.developers.map((d) => `acme-fw-${d.index}`);
    const publishing = layout.developers.map((d, i) => (workers[d.worker] as Worker).ask({ op: 'publish', node: d.name, count: s.firmwarePerDeveloper, name: firmwareNames[i] as string }, 'published'));
    const devices = makeDevices(layout, 0, s.corpora[0]);
    await importAtManufacturer(layout, workers, devices);
    await Promise.all(publishing);
    const importMs = performance.now() - t;
    await converge(layout, workers, s.corpora[0], s.firmwarePerDeveloper, s.convergeTimeoutMs, ctx.log);
    const startupMs = performance.now() - startAt;
    ctx.row(
      'start-up',
      `${seconds(startupMs)} from the first node's start to all ${nodeCount} converged on ${int(s.corpora[0])} devices + ${s.firmwarePerDeveloper * s.developers} firmware records ` +
        `(nodes listening after ${seconds(listeningMs)}: stages ${stageMs.map((ms) => seconds(ms)).join(' / ')}; import at the manufacturer and firmware published in ${seconds(importMs)})`,
    );
    const afterStart = await snapshot(workers);
    const mem0 = memory(layout, afterStart);
    ctx.row('memory after start-up', `${mib(mem0.now)} RSS per node now (worker RSS / its nodes), peak ${mib(mem0.worst)} in the worst worker`);

    // ---- (2) changes at the initial corpus ---------------------------------------------------------
    const changed = new Set<number>();
    const phases: PhaseResult[] = [];
    phases.push(await changes(ctx, s, layout, workers, bound, devices, changed));

    // ---- (3) the corpus grows tenfold; changes again ---------------------------------------------
    t = performance.now();
    const more = makeDevices(layout, s.corpora[0], s.corpora[1]);
    await importAtManufacturer(layout, workers, more);
    const growImportMs = performance.now() - t;
    const growMs = (await converge(layout, workers, s.corpora[1], s.firmwarePerDeveloper, s.convergeTimeoutMs, ctx.log)) + growImportMs;
    ctx.row('corpus grown', `${int(s.corpora[1] - s.corpora[0])} more devices imported at the manufacturer (${seconds(growImportMs)}) and every node converged on ${int(s.corpora[1])} in ${seconds(growMs)}`);
    phases.push(await changes(ctx, s, layout, workers, bound, [...devices, ...more], changed));
    const end = await snapshot(workers);

    // ---- figures -----------------------------------------------------------------------------------
    const line = (f: { p50: number; p99: number; max: number }) => `p50 ${f.p50.toFixed(0)} ms, p99 ${f.p99.toFixed(0)} ms, max ${f.max.toFixed(0)} ms`;
    const perChange = (p: PhaseResult) => p.bytes / nodeCount / s.changes;
    // Links a change crosses: to every maintenance node (devices), then to its system's infield nodes.
    const hops = s.maintenance + s.infieldPerMaintenance;
    for (const p of phases) {
      const l = summary(p.latencies);
      ctx.row(`stolen → infield (${int(p.corpus)})`, `${line(l)}  (${p.latencies.length} verdicts: ${s.changes} changes × ${s.infieldPerMaintenance} infield nodes of the device's system, polled every ${s.pollMs} ms)`);
      ctx.row(
        `bytes/node/change (${int(p.corpus)})`,
        `${int(perChange(p))} B = ${(perChange(p) / p.recordBytes).toFixed(2)}× the ${int(p.recordBytes)}-byte record  (sync frames in + out at every node over ${seconds(p.windowMs)}, ` +
          `${int(p.bytes / s.changes)} B per change in all, ${int(p.bytes / s.changes / 2 / hops)} B per link the record crossed (${hops}: manufacturer → ${s.maintenance} maintenance → ${s.infieldPerMaintenance} infield); an idle window of the same length: ${int(p.idleBytes / nodeCount / s.changes)} B/node/change of periodic reconciliation)`,
      );
    }
    const all = summary(phases.flatMap((p) => p.latencies));
    const [small, large] = phases as [PhaseResult, PhaseResult];
    const growth = perChange(large) / perChange(small);
    const mem = memory(layout, end);
    ctx.row('stolen → infield (all)', line(all));
    ctx.row('bytes growth', `${growth.toFixed(2)}× per change while the set grew ${(large.corpus / small.corpus).toFixed(0)}×`);
    ctx.row('memory per node', `peak ${mib(mem.worst)} (the worst worker's peak RSS / its nodes), ${mib(mem.mean)} (all workers' peaks / ${nodeCount} nodes); now ${mib(mem.now)}`);
    const cpu = end.workers.map((w) => (w.cpuMs / 1000).toFixed(0));
    ctx.row('worker CPU', `${cpu.join(', ')} s (user + system, each worker over the run; worker 0 holds the manufacturer)`);
    ctx.row('load average', loadavg().map((l) => l.toFixed(2)).join(', ') + ' (1, 5, 15 min) at the end');

    const p99Met = all.p99 < GOAL_P99_MS;
    ctx.goal(`stolen at every interested infield node < ${GOAL_P99_MS / 1000} s (p99)`, p99Met, `p99 ${all.p99.toFixed(0)} ms over ${phases.reduce((n, p) => n + p.latencies.length, 0)} verdicts`);
    const bytesMet = growth <= GOAL_BYTES_GROWTH;
    ctx.goal(`bytes per change O(the change): ≤ ${GOAL_BYTES_GROWTH}× when the set grows ${(large.corpus / small.corpus).toFixed(0)}×`, bytesMet, `${int(perChange(small))} → ${int(perChange(large))} B/node/change`);
    ctx.figure('stolen_to_infield.p50', { value: all.p50, unit: 'ms', baseline: null, goal: 'info', met: true });
    ctx.figure('stolen_to_infield.p99', { value: all.p99, unit: 'ms', baseline: null, goal: `< ${GOAL_P99_MS}`, met: p99Met });
    for (const p of phases) {
      ctx.figure(`bytes_per_node_per_change.${p.corpus}`, {
        value: perChange(p),
        unit: 'bytes',
        baseline: p.recordBytes,
        goal: p === small ? 'info (baseline: the changed record\'s bytes)' : `<= ${GOAL_BYTES_GROWTH}x the figure at ${small.corpus} devices`,
        met: p === small ? true : bytesMet,
      });
    }
    for (const p of phases) {
      ctx.figure(`stolen_to_infield.p99.${p.corpus}`, { value: summary(p.latencies).p99, unit: 'ms', baseline: null, goal: `info (the changes at ${p.corpus} devices)`, met: true });
    }
    ctx.figure('memory.mean_per_node', { value: mem.mean / 2 ** 20, unit: 'MiB', baseline: null, goal: 'info (all workers\' peak RSS / all nodes)', met: true });
    ctx.figure('grow.converged', { value: growMs, unit: 'ms', baseline: null, goal: `info (import of ${s.corpora[1] - s.corpora[0]} more devices at the manufacturer until every node holds ${s.corpora[1]})`, met: true });
    ctx.figure('memory.peak_per_node', { value: mem.worst / 2 ** 20, unit: 'MiB', baseline: null, goal: 'info (worker peak RSS / its nodes, the worst worker)', met: true });
    ctx.figure('startup.converged', { value: startupMs, unit: 'ms', baseline: null, goal: `info (${nodeCount} nodes started and converged on ${s.corpora[0]} devices)`, met: true });
    ctx.describe({
      nodes: nodeCount,
      workers: s.workers,
      store: 'level',
      corpora: s.corpora,
      changesPerCorpus: s.changes,
      firmwarePerDeveloper: s.firmwarePerDeveloper,
      loadAverageEnd: loadavg(),
    });
  } finally {
    await Promise.all(workers.map((w) => w.ask({ op: 'quiet' }, 'pong').catch(() => undefined)));
    await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
    await rm(root, { recursive: true, force: true });
  }
}

export const federationBenchmark: Benchmark = {
  name: 'federation',
  title: "100 nodes on loopback (1 manufacturer, 3 developers, 16 maintenance, 80 infield): 'stolen' to every interested infield verdict, bytes per change, memory per node",
  run,
};

// ---- the worker: several nodes in one process --------------------------------------------------------

interface Running {
  readonly node: IcsNode;
  readonly services: RunningServices;
}

async function worker(): Promise<void> {
  // The nodes' warnings go to stderr until the federation is taken down (op 'quiet').
  let muted = false;
  const logger = pino({ level: process.env.ICS_BENCH_LOG ?? 'warn', base: undefined }, { write: (line: string) => void (muted || process.stderr.write(line)) });
  const nodes = new Map<string, Running>();
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);
  sampler.unref();
  const running = (name: string) => {
    const r = nodes.get(name);
    if (!r) throw new Error(`no node ${name} in this worker`);
    return r;
  };
  const handle = async (m: ToWorker): Promise<FromWorker> => {
    switch (m.op) {
      case 'start': {
        const t = performance.now();
        const started = [];
        for (const { name, dir } of m.nodes) {
          const node = await openNode(dir, { logger: logger.child({ node: name }), testKeys: 'refuse' });
          // No LDAP or EST: the figures are sync's and the verdict's (HTTP).
          const services = await startServices(node, { hkp: '127.0.0.1:0', ldap: 'off', est: 'off', p2p: '/ip4/127.0.0.1/tcp/0' });
          nodes.set(name, { node, services });
          const p2p = services.addresses.p2p;
          started.push({ name, hkp: services.addresses.hkp as string, p2p: (p2p?.addresses[0] as string).replace(/\/p2p\/.*$/, ''), peerId: p2p?.peerId as string });
        }
        return { op: 'started', nodes: started, ms: performance.now() - t };
      }
      case 'import': {
        const { node } = running(m.node);
        const t = performance.now();
        const counts = { inserted: 0, updated: 0, unchanged: 0 };
        let next = 0;
        const submit = async () => {
          while (next < m.records.length) {
            const outcome = await node.ingest.submit(m.records[next++] as Uint8Array, { source: 'import', origin: 'bench' });
            counts[outcome.action]++;
          }
        };
        await Promise.all(Array.from({ length: m.concurrency }, submit));
        return { op: 'imported', ...counts, ms: performance.now() - t };
      }
      case 'publish': {
        // The developer signs its releases with its own issuer key and takes them in as `ics code` would.
        const { node } = running(m.node);
        const issuer = await node.issuerKey();
        const ids = [];
        for (let i = 0; i < m.count; i++) {
          const statement = codeStatement(m.name, `1.0.${i}`, { sha256: randomBytes(32).toString('hex') });
          const record = await signCode(statement, issuer, { role: 'developer', status: 'released' });
          ids.push((await node.ingest.submit(record.bytes, { source: 'import', origin: 'bench' })).id);
        }
        return { op: 'published', ids };
      }
      case 'ping':
        return { op: 'pong' };
      case 'quiet':
        // The federation is being taken down: peers vanishing is expected, not worth a warning.
        muted = true;
        return { op: 'pong' };
      case 'status': {
        const statuses: NodeStatus[] = [];
        for (const [name, { node, services }] of nodes) {
          const domains: NodeStatus['domains'] = {};
          for (const domain of node.policy.domainNames()) {
            const [all] = await node.store.syncSummaries(domain, [{ time: 0, id: '' }], undefined);
            domains[domain] = { count: all?.count ?? 0, sum: Buffer.from(all?.sum ?? []).toString('hex') };
          }
          const peers = services.sync?.peers() ?? [];
          statuses.push({
            name,
            domains,
            bytesIn: peers.reduce((n, p) => n + p.bytesIn, 0),
            bytesOut: peers.reduce((n, p) => n + p.bytesOut, 0),
            notInSync: peers.flatMap((p) => p.domains.filter((d) => d.state !== 'in-sync').map((d) => `${p.name ?? p.peerId}/${d.name}: ${d.state}${d.lastError ? ` (${d.lastError})` : ''}`)),
          });
        }
        const rss = process.memoryUsage.rss();
        peakRss = Math.max(peakRss, rss);
        const cpu = process.cpuUsage();
        return { op: 'status', rss, peakRss, cpuMs: (cpu.user + cpu.system) / 1000, nodes: statuses };
      }
      case 'stop': {
        for (const { node, services } of nodes.values()) {
          await services.stop();
          await node.close();
        }
        process.exit(0);
      }
    }
  };
  process.on('message', (m: ToWorker & { id: number }) => {
    handle(m).then(
      (reply) => process.send?.({ ...reply, id: m.id }),
      (error: unknown) => process.send?.({ op: 'error', message: (error as Error).stack ?? String(error), id: m.id }),
    );
  });
}

if (process.env[WORKER_ENV] === '1') void worker();
