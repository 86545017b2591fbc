// The sync service (DESIGN §6): libp2p over TCP with Noise and Yamux, protocol
// /cm4it/sync/1.0.0 (docs/sync-protocol.md). It refuses peer ids the policy does not name,
// serves each peer the domains it may read, reconciles the domains it pulls — at connect,
// when a peer announces a change, and every `intervalSeconds` — fetches what it lacks
// through the ingest path, and announces local changes to the peers it pushes to.
// Everything it needs comes in SyncComponents; the store never calls it (it subscribes).
//
// This module composes the parts and keeps the schedule: transport.ts (libp2p, gating,
// caps), registry.ts (peers, dialing, per-peer workers), handshake.ts (HELLO), client.ts
// (reconciling and fetching), server.ts (answering peers).
import type { Logger } from 'pino';
import { IcsError } from '../errors.ts';
import type { ChangeEvent } from '../store/types.ts';
import { ReconcileClient } from './client.ts';
import { TICK_MS } from './consts.ts';
import { Handshake } from './handshake.ts';
import { registerSyncMetrics } from './metrics.ts';
import { PeerRegistry } from './registry.ts';
import { SyncServer } from './server.ts';
import { type Settings, settingsOf } from './settings.ts';
import { Transport } from './transport.ts';
import type { PeerSyncStatus, SyncComponents, SyncInit, SyncReport, SyncService } from './types.ts';
import { peerWorkers } from './workers.ts';
import { LogWitnessing } from './witnessing.ts';

export function createSyncService(init: SyncInit, components: SyncComponents): SyncService {
  return new SyncNode(init, components);
}

class SyncNode implements SyncService {
  readonly #settings: Settings;
  readonly #components: SyncComponents;
  readonly #log: Logger;
  readonly #transport: Transport;
  readonly #registry: PeerRegistry;
  readonly #handshake: Handshake;
  readonly #client: ReconcileClient;
  readonly #server: SyncServer;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #unregister: (() => void) | undefined;
  #stopped = false;
  readonly #background = new Set<Promise<unknown>>();

  constructor(init: SyncInit, components: SyncComponents) {
    const settings = settingsOf(init);
    const { store, policy } = components;
    const log = components.logger; // node/ gives it as child({ component: 'sync' })
    this.#settings = settings;
    this.#components = components;
    this.#log = log;
    this.#transport = new Transport(
      {
        listen: settings.listen,
        privateKey: init.privateKey,
        ...(init.maxConnections !== undefined && { maxConnections: init.maxConnections }),
        ...(init.maxConnectionsPerAddress !== undefined && { maxConnectionsPerAddress: init.maxConnectionsPerAddress }),
        ...(init.exempt && { exempt: init.exempt }),
        inFlight: settings.limits.inFlight,
      },
      {
        log,
        ...(components.metrics && { metrics: components.metrics }),
        admits: (peerId) => !this.#stopped && this.#registry.admits(peerId),
        serve: (stream, connection) => this.#track(this.#server.serve(stream, connection)),
        connected: (peerId) => {
          if (this.#registry.connected(peerId)) setImmediate(() => this.#tick());
        },
        disconnected: (peerId) => this.#registry.disconnected(peerId),
      },
    );
    const workers = peerWorkers({
      settings,
      store,
      ingest: components.ingest,
      log,
      open: (peer) => this.#handshake.open(peer),
      misbehaved: (peer, reason) => this.#registry.misbehaved(peer, reason),
      failed: (peer, message, domain) => this.#registry.failed(peer, message, domain),
    });
    this.#registry = new PeerRegistry({ policy, log, limits: settings.limits, links: this.#transport, workers });
    const { transparency } = components;
    this.#handshake = new Handshake({ settings, policy, log, registry: this.#registry, keepsLog: transparency !== undefined });
    const witnessing = transparency && { evidence: transparency.evidence, peers: new LogWitnessing({ transparency, policy, log, timeoutMs: settings.limits.requestTimeoutMs }) };
    this.#client = new ReconcileClient({ settings, store, log, registry: this.#registry, handshake: this.#handshake, selfId: () => this.#transport.peerId, ...(witnessing && { witnessing }) });
    this.#server = new SyncServer({ settings, store, policy, log, registry: this.#registry, handshake: this.#handshake, ...(witnessing && { witnessing: witnessing.peers }) });
  }

  async start(): Promise<{ peerId: string; addresses: string[] }> {
    if (this.#transport.started) throw new IcsError('INTERNAL', 'sync service already started');
    const { store, policy, metrics } = this.#components;
    // The store's range index for each domain, built now (one scan; ~2 s for 1M records)
    // rather than inside the first peer's request.
    for (const name of policy().domainNames()) await store.syncSummaries(name, [{ time: 0, id: '' }], undefined);
    const addresses = await this.#transport.start();
    this.#unsubscribe = store.subscribe((event) => this.#changed(event));
    if (metrics) this.#unregister = registerSyncMetrics(metrics.registry, () => this.peers());
    this.#registry.refresh();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref();
    this.#tick();
    const peerId = this.#transport.peerId;
    this.#log.info({ peerId, addresses }, 'sync listening');
    return { peerId, addresses };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#unsubscribe?.();
    this.#unregister?.();
    const fetchers = this.#registry.stopWorkers();
    await this.#transport.stop();
    // Streams are closed now; records being ingested finish (the caller closes the store next).
    await Promise.allSettled([...this.#background, ...fetchers.map((f) => f.idle())]);
  }

  async syncNow(peerId?: string): Promise<SyncReport> {
    if (!this.#transport.started || this.#stopped) throw new IcsError('UNAVAILABLE', 'sync is not running');
    this.#registry.refresh();
    return this.#client.syncNow(peerId);
  }

  peers(): PeerSyncStatus[] {
    return this.#registry.status();
  }

  #track<T>(promise: Promise<T>): void {
    const p = promise.catch((error: unknown) => this.#log.error({ err: error }, 'sync task failed'));
    this.#background.add(p);
    void p.finally(() => this.#background.delete(p));
  }

  /** The schedule: redials peers not connected, starts reconciliation runs that are due. */
  #tick(): void {
    if (this.#stopped || !this.#transport.started) return;
    this.#registry.refresh();
    const now = Date.now();
    for (const peer of this.#registry.known()) {
      if (!peer.entry) continue;
      if (!peer.connected) {
        if (this.#registry.dialDue(peer, now)) this.#track(this.#registry.dial(peer));
        continue;
      }
      if (!peer.running && this.#client.due(peer, now)) this.#track(this.#client.run(peer, false));
    }
  }

  /** A committed local change: announced to the connected peers it may go to. */
  #changed(event: ChangeEvent): void {
    if (this.#stopped || !this.#settings.announce) return;
    this.#registry.announce(event);
  }
}
