// kill -9 (DESIGN §4, §6): an `ics serve` process is killed with SIGKILL at a seeded random
// moment during bulk ingest over HKP /pks/add, and during sync from a peer, cycle after
// cycle on the same data directory. Every submission answered 200 must be there after the
// restart, no record may be stored twice, and after the sync cycles the restarted node holds
// exactly its peer's set.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLog, RecordReader, SyncSet } from '../../ics/store/types.ts';
import { LevelStore } from '../../ics/store/level/index.ts';
import { loadOrCreatePeerKey } from '../../ics/sync/index.ts';
import { parseDocument } from 'yaml';
import { armor } from '../../ics/record/index.ts';
import { type Device, Devices, initNode, pksAdd, type SeededRandom, seededRandom, serveNode, type Served, TempDirs } from './common.ts';

export interface KillCycle {
  readonly cycle: number;
  /** Milliseconds after the first acknowledgement (ingest) or after the start (sync) the kill landed. */
  readonly killAtMs: number;
  readonly acknowledged: number;
  readonly lost: number;
}

export interface KillReport {
  readonly seed: number;
  readonly ingest: readonly KillCycle[];
  readonly sync: readonly KillCycle[];
  /** Records whose insert appears more than once in a store's event log or sync set. */
  readonly duplicated: number;
  /** Acknowledged submissions missing once every ingest cycle is over and the node restarted. */
  readonly lostAtEnd: number;
  /** Sync cycles after which the restarted node did not converge to its peer's set. */
  readonly notConverged: number;
}

export interface KillOptions {
  readonly cycles: number;
  readonly seed: number;
  /** Records held by the sync source per cycle. */
  readonly syncBatch: number;
  readonly log?: (line: string) => void;
}

const SUBMITTERS = 8;
/** The kill lands within this window: long enough for hundreds of acknowledged writes. */
const KILL_WINDOW_MS = 1500;
/** A sync of a few hundred records takes about this long here: the kill lands inside it. */
const SYNC_KILL_WINDOW_MS = 300;
const CONVERGE_MS = 120_000;

async function openStore(dir: string): Promise<LevelStore> {
  return LevelStore.open({ path: join(dir, 'db') });
}

/** Ids of records whose insert appears more than once in the event log, or twice in a domain's sync set. */
async function duplicates(store: EventLog & SyncSet, domain: string): Promise<string[]> {
  const inserts = new Map<string, number>();
  for (let after = 0; ; ) {
    const events = await store.changesSince(after, 10_000);
    if (events.length === 0) break;
    for (const e of events) if (e.action === 'insert') inserts.set(e.id, (inserts.get(e.id) ?? 0) + 1);
    after = (events.at(-1) as { seq: number }).seq;
  }
  const twice = [...inserts].filter(([, n]) => n > 1).map(([id]) => id);
  const items = await store.syncRange(domain, { time: 0, id: '' }, undefined, 1e9);
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.id)) twice.push(item.id);
    seen.add(item.id);
  }
  return twice;
}

async function missing(store: RecordReader, ids: Iterable<string>): Promise<string[]> {
  const list = [...ids];
  const found = await store.getMany(list);
  return list.filter((_, i) => found[i] === undefined);
}

async function ingestCycles(options: KillOptions, random: SeededRandom, dirs: TempDirs, devices: Devices): Promise<{ cycles: KillCycle[]; duplicated: number; lostAtEnd: number }> {
  const dir = await dirs.make('kill-ingest');
  await initNode(dir, 'manufacturer', devices);
  const acknowledged = new Set<string>();
  const repeat = new Map<string, Buffer>();
  const cycles: KillCycle[] = [];
  for (let cycle = 1; cycle <= options.cycles; cycle++) {
    const node = await serveNode(dir);
    const killAtMs = random.int(KILL_WINDOW_MS);
    const mine = new Set<string>();
    const earlier = [...acknowledged];
    let stop = false;
    let firstAck: () => void = () => undefined;
    const acked = new Promise<void>((resolve) => (firstAck = resolve));
    const submitter = async (lane: number) => {
      // Each lane makes its own records from its own stream, so that the inputs do not depend on scheduling.
      const lanes = seededRandom(options.seed ^ (cycle * 7919 + lane));
      while (!stop) {
        // One in five submissions repeats an acknowledged record: it must not be stored twice.
        const again = earlier.length > 0 && lanes.chance(0.2) ? (earlier[lanes.int(earlier.length)] as string) : undefined;
        const device: Device | undefined = again === undefined ? devices.next() : undefined;
        const bytes = device?.bytes ?? repeat.get(again as string);
        if (!bytes) continue;
        const status = await pksAdd(node.hkp, armor('publicKey', bytes));
        if (status === 200) {
          const id = device?.id ?? (again as string);
          if (device) repeat.set(id, device.bytes);
          mine.add(id);
          firstAck();
        }
      }
    };
    const lanes = Array.from({ length: SUBMITTERS }, (_, lane) => submitter(lane));
    await acked;
    await sleep(killAtMs);
    await node.kill9();
    stop = true;
    await Promise.all(lanes);
    for (const id of mine) acknowledged.add(id);
    const store = await openStore(dir);
    const lost = await missing(store, mine).finally(() => store.close());
    cycles.push({ cycle, killAtMs, acknowledged: mine.size, lost: lost.length });
    options.log?.(`ingest cycle ${String(cycle).padStart(2)}: killed at +${killAtMs} ms, acknowledged ${mine.size}, lost ${lost.length}`);
  }
  // The node starts again on what the kills left, and everything acknowledged is still there once.
  const node = await serveNode(dir);
  await node.stop();
  const store = await openStore(dir);
  try {
    const lost = await missing(store, acknowledged);
    options.log?.(`ingest: after the last restart ${acknowledged.size} acknowledged, ${lost.length} missing`);
    return { cycles, duplicated: (await duplicates(store, 'devices')).length, lostAtEnd: lost.length };
  } finally {
    await store.close();
  }
}

async function status(node: Served): Promise<number | undefined> {
  try {
    const response = await fetch(`${node.hkp}/ics/v1/status`, { signal: AbortSignal.timeout(5000) });
    const body = (await response.json()) as { store?: { records?: number } };
    return body.store?.records;
  } catch {
    return undefined;
  }
}

async function syncCycles(options: KillOptions, random: SeededRandom, dirs: TempDirs, devices: Devices): Promise<{ cycles: KillCycle[]; duplicated: number; notConverged: number }> {
  const source = await dirs.make('kill-sync-a');
  const sink = await dirs.make('kill-sync-b');
  await initNode(source, 'manufacturer', devices);
  await initNode(sink, 'manufacturer', devices);
  const peerA = (await loadOrCreatePeerKeyOf(source)).peerId;
  const peerB = (await loadOrCreatePeerKeyOf(sink)).peerId;
  await setPeers(source, [{ name: 'b', peerId: peerB, addresses: [], pull: [], push: ['devices'] }]);
  const a = await serveNode(source, { p2p: true });
  const cycles: KillCycle[] = [];
  let notConverged = 0;
  let total = 0;
  try {
    await setPeers(sink, [{ name: 'a', peerId: peerA, addresses: [...a.p2p], pull: ['devices'], push: [], intervalSeconds: 5 }]);
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      // The source gets a new batch; the sink starts, pulls, and is killed somewhere in it.
      const batch = Array.from({ length: options.syncBatch }, () => devices.next());
      let next = 0;
      await Promise.all(
        Array.from({ length: SUBMITTERS }, async () => {
          while (next < batch.length) {
            const d = batch[next++] as Device;
            if ((await pksAdd(a.hkp, armor('publicKey', d.bytes))) !== 200) throw new Error(`source refused ${d.id}`);
          }
        }),
      );
      total += batch.length;
      const b = await serveNode(sink, { p2p: true });
      // The kill lands a seeded moment after the sink first reports new records: mid-sync.
      const killAtMs = random.int(SYNC_KILL_WINDOW_MS);
      const before = total - batch.length;
      let seen = 0;
      const waitUntil = Date.now() + CONVERGE_MS;
      while (seen <= before && Date.now() < waitUntil) {
        seen = Math.max(seen, (await status(b)) ?? 0);
        await sleep(5);
      }
      const start = Date.now();
      while (Date.now() - start < killAtMs) {
        seen = Math.max(seen, (await status(b)) ?? 0);
        await sleep(20);
      }
      await b.kill9();
      const store = await openStore(sink);
      const held = await store.stats().finally(() => store.close());
      // Acknowledged here: what the node reported holding before the kill; the store must still hold it.
      const lost = Math.max(0, seen - held.records);
      const restarted = await serveNode(sink, { p2p: true });
      const deadline = Date.now() + CONVERGE_MS;
      let converged = false;
      while (Date.now() < deadline) {
        if ((await status(restarted)) === total) {
          converged = true;
          break;
        }
        await sleep(50);
      }
      await restarted.stop();
      if (!converged) notConverged++;
      cycles.push({ cycle, killAtMs, acknowledged: seen, lost });
      options.log?.(`sync cycle ${String(cycle).padStart(2)}: killed at +${killAtMs} ms holding ${held.records}/${total}, acknowledged ${seen}, lost ${lost}, ${converged ? 'converged' : 'NOT converged'} after restart`);
    }
  } finally {
    await a.stop();
  }
  const sa = await openStore(source);
  const sb = await openStore(sink);
  try {
    const itemsA = await sa.syncRange('devices', { time: 0, id: '' }, undefined, 1e9);
    const itemsB = await sb.syncRange('devices', { time: 0, id: '' }, undefined, 1e9);
    if (JSON.stringify(itemsA) !== JSON.stringify(itemsB)) {
      options.log?.(`sync: the sink's set differs from the source's (${itemsB.length} vs ${itemsA.length})`);
      notConverged++;
    }
    return { cycles, duplicated: (await duplicates(sb, 'devices')).length, notConverged };
  } finally {
    await sa.close();
    await sb.close();
  }
}

async function loadOrCreatePeerKeyOf(dir: string) {
  return loadOrCreatePeerKey(join(dir, 'keys/libp2p.key'));
}

async function setPeers(dir: string, peers: object[]): Promise<void> {
  const file = join(dir, 'policy.yaml');
  const doc = parseDocument(await readFile(file, 'utf8'));
  doc.setIn(['sync', 'peers'], doc.createNode(peers));
  await writeFile(file, doc.toString());
}

export async function runKill(options: KillOptions): Promise<KillReport> {
  const random = seededRandom(options.seed);
  const dirs = new TempDirs();
  const devices = new Devices('kill');
  try {
    const ingest = await ingestCycles(options, random, dirs, devices);
    const sync = await syncCycles(options, random, dirs, devices);
    return { seed: options.seed, ingest: ingest.cycles, sync: sync.cycles, duplicated: ingest.duplicated + sync.duplicated, lostAtEnd: ingest.lostAtEnd, notConverged: sync.notConverged };
  } finally {
    await dirs.cleanup();
  }
}
