// Real sync nodes for the integration tests: a store (in memory, or LevelDB in a temp dir), a
// policy over the shared test issuers naming the other nodes as peers, the ingest path and
// the sync service listening on 127.0.0.1 with an ephemeral port.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import type { Registry } from 'prom-client';
import { Ingest } from '../../../ics/ingest/index.ts';
import { PolicyEngine, policyFromObject } from '../../../ics/policy/index.ts';
import { LevelStore } from '../../../ics/store/level/index.ts';
import { createMemoryStore } from '../../../ics/store/memory/index.ts';
import type { RecordStore, SyncItem } from '../../../ics/store/types.ts';
import { createSyncService, loadOrCreatePeerKey, type PeerKey, type SyncInit, type SyncService, type SyncTransparency } from '../../../ics/sync/index.ts';
import { CheckpointSigner, TransparencyLog, Witness, type Witnessed, type WitnessMemory } from '../../../ics/tlog/index.ts';
import { type Issuers, RecordFactory } from './records.ts';

export const silent: Logger = pino({ level: process.env.ICS_TEST_LOG ?? 'silent' });

const dirs: string[] = [];

export async function tempDir(prefix = 'ics-sync-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
}

export async function peerKey(): Promise<PeerKey> {
  return loadOrCreatePeerKey(join(await tempDir('ics-sync-key-'), 'libp2p.key'));
}

/** A domain of the test policies. `read` is 'public' or the names of the nodes that may read. */
export interface DomainSpec {
  readonly name: 'devices' | 'secret' | 'other';
  readonly read: 'public' | readonly string[];
  /** Changes the definition (and so its digest) without changing what it holds. */
  readonly variant?: boolean;
}

export interface PeerSpec {
  readonly node: string;
  readonly pull?: readonly string[];
  readonly push?: readonly string[];
  /** Dial it (its address is known once it listens). */
  readonly dial?: boolean;
  readonly intervalSeconds?: number;
  /** Dial this other node's address instead (as if it were this peer's). */
  readonly addressOf?: string;
}

const SELECTORS = {
  devices: 'urn:cm4it:device:acme.example:*',
  secret: 'urn:cm4it:device:secret.example:*',
  other: 'urn:cm4it:device:other.example:*',
};

export function policyObject(f: Issuers, domains: readonly DomainSpec[], peers: readonly PeerSpec[], ids: ReadonlyMap<string, string>, addresses: ReadonlyMap<string, string[]>): object {
  const id = (node: string) => {
    const peerId = ids.get(node);
    if (!peerId) throw new Error(`no node ${node}`);
    return peerId;
  };
  return {
    version: 1,
    trust: {
      issuers: [
        { name: 'acme', fingerprint: f.manufacturer.id, roles: ['manufacturer'] },
        { name: 'integrator', fingerprint: f.integrator.id, roles: ['integrator', 'maintainer'] },
      ],
    },
    domains: domains.map((d) => ({
      name: d.name,
      select: { kinds: d.variant ? ['device', 'gateway', 'service'] : ['device', 'gateway'], userId: SELECTORS[d.name], signedBy: { role: 'manufacturer' } },
      accept: { requireRoles: ['manufacturer'] },
      write: { roles: ['manufacturer', 'integrator', 'maintainer'] },
      read: d.read === 'public' ? 'public' : { peers: d.read.map(id), authenticated: false },
    })),
    sync: {
      peers: peers.map((p) => ({
        name: p.node,
        peerId: id(p.node),
        addresses: p.dial ? (addresses.get(p.addressOf ?? p.node) ?? []) : [],
        pull: [...(p.pull ?? [])],
        push: [...(p.push ?? [])],
        ...(p.intervalSeconds !== undefined && { intervalSeconds: p.intervalSeconds }),
      })),
    },
  };
}

export interface TestNode {
  readonly name: string;
  readonly peerId: string;
  readonly key: PeerKey;
  readonly store: RecordStore;
  readonly ingest: Ingest;
  readonly service: SyncService;
  readonly address: string;
  policy: PolicyEngine;
  stop(): Promise<void>;
}

export interface NodeSpec {
  readonly name: string;
  readonly domains: readonly DomainSpec[];
  readonly peers: readonly PeerSpec[];
  /** LevelDB in a temp dir (default: in memory). */
  readonly level?: boolean | string;
  readonly init?: Partial<Omit<SyncInit, 'privateKey'>>;
  /** Collects the node's log lines at warn and above (parsed). */
  readonly logs?: Array<Record<string, unknown>>;
  readonly metrics?: { readonly registry: Registry };
  /** A transparency log (kept by the store), witnessing its peers' logs: what the node's wiring gives sync. */
  readonly transparency?: TestTransparency;
}

/**
 * The node's side of witnessing, in memory: its log, its log key, what it witnessed and the
 * evidence it kept. `shown` replaces the log the node shows its peers (a forked history)
 * while its store keeps appending to `log`.
 */
export interface TestTransparency {
  readonly log: TransparencyLog;
  shown?: TransparencyLog;
  readonly key: KeyObject;
  readonly witnessed: Map<string, Witnessed>;
  readonly evidence: Map<string, Record<string, unknown>>;
  readonly events: string[];
  /** The signer of each log the node has shown (its own, or `shown`). */
  readonly signers: Map<TransparencyLog, CheckpointSigner>;
}

export function testTransparency(key: KeyObject = generateKeyPairSync('ed25519').privateKey): TestTransparency {
  return { log: new TransparencyLog(), key, witnessed: new Map(), evidence: new Map(), events: [], signers: new Map() };
}

function syncTransparency(name: string, t: TestTransparency): SyncTransparency {
  const signers = t.signers;
  const shown = () => t.shown ?? t.log;
  const signer = () => {
    const log = shown();
    if (!signers.has(log)) signers.set(log, new CheckpointSigner(log, t.key, `ics/${name}`));
    return signers.get(log) as CheckpointSigner;
  };
  const memory: WitnessMemory = {
    get: async (peer, domain) => t.witnessed.get(`${peer} ${domain}`),
    set: async (peer, domain, w) => void t.witnessed.set(`${peer} ${domain}`, w),
    list: async (domain) => [...t.witnessed].filter(([key]) => key.endsWith(` ${domain}`)).map(([key, w]) => [key.slice(0, key.indexOf(' ')), w] as const),
  };
  const witness = new Witness(memory, t.key, `ics/${name}`);
  return {
    get log() {
      return shown();
    },
    signer: async () => signer(),
    witness: async () => witness,
    evidence: {
      has: async (peer, domain) => t.evidence.has(`${peer} ${domain}`),
      keep: async (peer, domain, evidence) => void t.evidence.set(`${peer} ${domain}`, evidence),
    },
    count: (event) => void t.events.push(event),
  };
}

/** A logger that appends each line (parsed) to `lines`. */
export function capture(lines: Array<Record<string, unknown>>): Logger {
  return pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
}

export async function enginePolicy(f: Issuers, value: object): Promise<PolicyEngine> {
  return PolicyEngine.create(policyFromObject(value, 'sync-test-policy'), [f.manufacturer, f.integrator]);
}

let factory: Promise<RecordFactory> | undefined;

/** One record factory (and so one pair of issuers) for the whole run. */
export function records(): Promise<RecordFactory> {
  factory ??= RecordFactory.create();
  return factory;
}

/**
 * Starts the nodes in order; a node's policy gets the addresses of those started before it,
 * so `dial: true` works towards earlier nodes (later ones dial in).
 */
export async function startMesh(specs: readonly NodeSpec[], keys = new Map<string, PeerKey>(), known = new Map<string, string[]>()): Promise<Map<string, TestNode>> {
  const f = (await records()).issuers;
  for (const s of specs) if (!keys.has(s.name)) keys.set(s.name, await peerKey());
  const ids = new Map([...keys].map(([name, k]) => [name, k.peerId]));
  const addresses = new Map<string, string[]>(known);
  const nodes = new Map<string, TestNode>();
  for (const spec of specs) {
    const node = await startNode(f, spec, keys.get(spec.name) as PeerKey, ids, addresses);
    addresses.set(spec.name, [node.address]);
    nodes.set(spec.name, node);
  }
  return nodes;
}

export async function startNode(f: Issuers, spec: NodeSpec, key: PeerKey, ids: ReadonlyMap<string, string>, addresses: ReadonlyMap<string, string[]>): Promise<TestNode> {
  const derived = spec.transparency ? [spec.transparency.log] : [];
  const store = spec.level
    ? await LevelStore.open({ path: typeof spec.level === 'string' ? spec.level : await tempDir(), syncWrites: false, derived })
    : await createMemoryStore({ derived });
  let policy = await enginePolicy(f, policyObject(f, spec.domains, spec.peers, ids, addresses));
  const logger: Logger = (spec.logs ? capture(spec.logs) : silent).child({ node: spec.name });
  const ingest = new Ingest({}, { store, policy: { issuerRing: () => policy.issuerRing(), admit: (r) => policy.admit(r), issuerName: (x) => policy.issuerName(x) }, logger });
  const service = createSyncService(
    { privateKey: key.privateKey, ...spec.init },
    { store, policy: () => policy, ingest, logger, ...(spec.metrics && { metrics: spec.metrics }), ...(spec.transparency && { transparency: syncTransparency(spec.name, spec.transparency) }) },
  );
  const started = await service.start();
  const node: TestNode = {
    name: spec.name,
    peerId: started.peerId,
    key,
    store,
    ingest,
    service,
    address: started.addresses[0] as string,
    get policy() {
      return policy;
    },
    set policy(p: PolicyEngine) {
      policy = p;
    },
    async stop() {
      await service.stop();
      await store.close();
    },
  };
  return node;
}

export async function stopAll(nodes: Iterable<TestNode>): Promise<void> {
  for (const n of nodes) await n.stop().catch(() => undefined);
}

export async function items(store: RecordStore, domain: string): Promise<SyncItem[]> {
  return store.syncRange(domain, { time: 0, id: '' }, undefined, 1e9);
}

/** Polls `check` until it holds or `ms` pass; the last failure is the assertion error. */
export async function eventually(check: () => Promise<void> | void, ms = 10_000, every = 50): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, every));
    }
  }
}
