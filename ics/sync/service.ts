// The sync service (DESIGN §6): libp2p over TCP with Noise and Yamux, protocol
// /cm4it/sync/1.0.0 (docs/sync-protocol.md). It refuses peer ids the policy does not name,
// serves each peer the domains it may read, reconciles the domains it pulls — at connect,
// when a peer announces a change, and every `intervalSeconds` — fetches what it lacks
// through the ingest path, and announces local changes to the peers it pushes to.
// Everything it needs comes in SyncComponents; the store never calls it (it subscribes).
import './polyfill.ts';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Connection, Libp2p, MultiaddrConnection, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import type { Logger } from 'pino';
import { IcsError, isIcsError } from '../errors.ts';
import { AddressSet, ClientMetrics, ThrottledWarning } from '../net/clients.ts';
import type { PolicyEngine } from '../policy/index.ts';
import type { ChangeEvent } from '../store/types.ts';
import { Announcer } from './announcer.ts';
import { type ByteCounter, Channel, StreamEnded } from './channel.ts';
import {
  DomainFlag,
  DomainStatus,
  ErrorCode,
  errorName,
  type HelloDomain,
  type HelloOkDomain,
  type Message,
  MessageType,
  ProtocolError,
  type Range,
  type WireLimits,
} from './codec.ts';
import {
  DEFAULT_LIMITS,
  INBOUND_CONNECTIONS_PER_SECOND,
  MAX_CONNECTIONS,
  MAX_CONNECTIONS_PER_ADDRESS,
  MAX_PENDING_INBOUND,
  MAX_PENDING_PER_ADDRESS,
  MAX_REFUSED_REMEMBERED,
  MESSAGE_SLACK,
  PROTOCOL,
  PROTOCOL_VERSION,
  REDIAL_MAX_MS,
  REDIAL_MIN_MS,
  type SyncLimits,
  TICK_MS,
} from './consts.ts';
import { Fetcher } from './fetcher.ts';
import { registerSyncMetrics } from './metrics.ts';
import { PeerState } from './peer.ts';
import { digestPrefix, Reconciler, storeView } from './reconcile.ts';
import type { DomainSyncReport, DomainSyncState, PeerSyncReport, PeerSyncStatus, SyncComponents, SyncInit, SyncReport, SyncService } from './types.ts';

/** Defaults of SyncInit (the node config's `sync` section has the same). */
export const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/0';
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_BATCH_SIZE = 256;
/** A server stream left idle this long is closed (a client keeps one per task, then closes it). */
const SERVER_IDLE_MS = 300_000;
/** A domain whose last reconciliation failed is tried again after this long at most. */
const RETRY_MS = 30_000;

interface Settings {
  readonly listen: string;
  readonly maxMessageBytes: number;
  readonly batchSize: number;
  readonly announce: boolean;
  readonly limits: SyncLimits;
}

/** A client stream after the handshake. */
interface Session {
  readonly channel: Channel;
  /** What the peer accepts (its HELLO_OK), already capped by this node's own limits. */
  readonly limits: WireLimits;
}

/** A reconciliation that failed for a reason the peer gave or this node found. */
class SyncFailure extends Error {
  constructor(
    message: string,
    readonly state: DomainSyncState,
  ) {
    super(message);
  }
}

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);
const zeroReport = (name: string, state: DomainSyncState, error?: string): DomainSyncReport => ({
  name,
  state,
  rounds: 0,
  haves: 0,
  needs: 0,
  fetched: 0,
  inserted: 0,
  updated: 0,
  unchanged: 0,
  rejected: 0,
  bytesSent: 0,
  bytesReceived: 0,
  ms: 0,
  ...(error && { error }),
});

/** The IP address of a multiaddr, if it has one. */
function hostOf(address: Multiaddr): string | undefined {
  return address.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value;
}

export function createSyncService(init: SyncInit, components: SyncComponents): SyncService {
  return new SyncNode(init, components);
}

class SyncNode implements SyncService {
  readonly #init: SyncInit;
  readonly #settings: Settings;
  readonly #components: SyncComponents;
  readonly #log: Logger;
  #libp2p: Libp2p | undefined;
  #selfId = '';
  readonly #peers = new Map<string, PeerState>();
  readonly #refused = new Map<string, PeerState>();
  readonly #fetchers = new Map<string, Fetcher>();
  readonly #announcers = new Map<string, Announcer>();
  readonly #total: ByteCounter = { in: 0, out: 0 };
  #policySeen: PolicyEngine | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #unregister: (() => void) | undefined;
  #stopped = false;
  readonly #background = new Set<Promise<unknown>>();
  readonly #exempt: AddressSet;
  readonly #refusedMetric: ClientMetrics['refused'] | undefined;
  readonly #refusedLog: ThrottledWarning;
  /** Inbound connections open per IP address, from acceptance (before any handshake) to close. */
  readonly #inbound = new Map<string, number>();

  constructor(init: SyncInit, components: SyncComponents) {
    this.#init = init;
    this.#settings = Object.freeze({
      listen: init.listen ?? DEFAULT_LISTEN,
      maxMessageBytes: init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      batchSize: init.batchSize ?? DEFAULT_BATCH_SIZE,
      announce: init.announce ?? true,
      limits: Object.freeze({ ...DEFAULT_LIMITS, ...init.limits }),
    });
    this.#components = components;
    this.#log = components.logger; // node/ gives it as child({ component: 'sync' })
    this.#exempt = new AddressSet(init.exempt);
    this.#refusedMetric = components.metrics ? ClientMetrics.of(components.metrics.registry).refused : undefined;
    this.#refusedLog = new ThrottledWarning(this.#log, 'connection refused: too many connections');
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<{ peerId: string; addresses: string[] }> {
    if (this.#libp2p) throw new IcsError('INTERNAL', 'sync service already started');
    const { limits } = this.#settings;
    // The store's range index for each domain, built now (one scan; ~2 s for 1M records)
    // rather than inside the first peer's request.
    for (const name of this.#policy().domainNames()) await this.#components.store.syncSummaries(name, [{ time: 0, id: '' }], undefined);
    let libp2p: Libp2p;
    try {
      libp2p = await createLibp2p({
        privateKey: this.#init.privateKey,
        addresses: { listen: [this.#settings.listen] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionGater: {
          // Loopback and private addresses are where a mesh lives: do not filter them.
          denyDialMultiaddr: () => false,
          // Before any handshake: the per-address cap (libp2p's own caps are below).
          denyInboundConnection: (connection) => this.#denyAddress(connection),
          // After Noise has authenticated the remote key: only policy peers, not banned.
          denyInboundEncryptedConnection: (peerId: PeerId) => this.#deny(peerId.toString()),
          denyOutboundEncryptedConnection: (peerId: PeerId) => this.#deny(peerId.toString()),
        },
        connectionManager: {
          maxConnections: this.#init.maxConnections ?? MAX_CONNECTIONS,
          maxIncomingPendingConnections: MAX_PENDING_INBOUND,
          inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_SECOND,
          // libp2p lets allow-listed addresses past every cap, its total included.
          allow: this.#exemptMultiaddrs(),
        },
      });
    } catch (cause) {
      throw new IcsError('UNAVAILABLE', `sync cannot listen on ${this.#settings.listen}`, { cause });
    }
    this.#libp2p = libp2p;
    this.#selfId = libp2p.peerId.toString();
    try {
      await libp2p.handle(PROTOCOL, (stream, connection) => this.#track(this.#serve(stream, connection)), {
        maxInboundStreams: limits.inFlight,
        maxOutboundStreams: limits.inFlight + 2,
      });
    } catch (error) {
      await libp2p.stop();
      throw error;
    }
    libp2p.addEventListener('peer:connect', (event) => this.#connected(event.detail.toString()));
    libp2p.addEventListener('peer:disconnect', (event) => this.#disconnected(event.detail.toString()));
    this.#unsubscribe = this.#components.store.subscribe((event) => this.#changed(event));
    if (this.#components.metrics) this.#unregister = registerSyncMetrics(this.#components.metrics.registry, () => this.peers());
    this.#refreshPolicy();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref();
    this.#tick();
    const addresses = libp2p.getMultiaddrs().map((a) => a.toString());
    this.#log.info({ peerId: this.#selfId, addresses }, 'sync listening');
    return { peerId: this.#selfId, addresses };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#unsubscribe?.();
    this.#unregister?.();
    const fetchers = [...this.#fetchers.values()];
    for (const f of fetchers) f.stop();
    for (const a of this.#announcers.values()) a.stop();
    const libp2p = this.#libp2p;
    if (libp2p) {
      await libp2p.unhandle(PROTOCOL).catch(() => undefined);
      await libp2p.stop();
    }
    // Streams are closed now; records being ingested finish (the caller closes the store next).
    await Promise.allSettled([...this.#background, ...fetchers.map((f) => f.idle())]);
  }

  #track<T>(promise: Promise<T>): void {
    const p = promise.catch((error: unknown) => this.#log.error({ err: error }, 'sync task failed'));
    this.#background.add(p);
    void p.finally(() => this.#background.delete(p));
  }

  #policy(): PolicyEngine {
    return this.#components.policy();
  }

  #localDigest(name: string): string | undefined {
    try {
      return this.#policy().domainDigest(name);
    } catch {
      return undefined;
    }
  }

  // ---- peers, connections, schedule ------------------------------------------------------------

  #peer(peerId: string): PeerState | undefined {
    return this.#peers.get(peerId);
  }

  /** Takes up the current policy's peers: new ones are added, removed ones hung up. */
  #refreshPolicy(): void {
    const policy = this.#policy();
    if (policy === this.#policySeen) return;
    const changed = this.#policySeen !== undefined;
    this.#policySeen = policy;
    const current = new Map(policy.syncPeers().map((p) => [p.peerId, p]));
    for (const [peerId, state] of this.#peers) {
      const entry = current.get(peerId);
      state.entry = entry;
      // A new policy may accept what it refused: forget what was refused or merged.
      state.memo.clear();
      if (!entry) {
        this.#peers.delete(peerId);
        this.#fetchers.get(peerId)?.stop();
        this.#fetchers.delete(peerId);
        this.#announcers.get(peerId)?.stop();
        this.#announcers.delete(peerId);
        void this.#libp2p?.hangUp(peerIdFromString(peerId)).catch(() => undefined);
        this.#log.info({ peer: peerId }, 'peer removed from the policy: disconnected');
      }
    }
    for (const [peerId, entry] of current) {
      if (!this.#peers.has(peerId)) {
        const state = this.#refused.get(peerId) ?? new PeerState(peerId, entry, this.#settings.limits.requestsPerSecond);
        state.entry = entry;
        this.#refused.delete(peerId);
        this.#peers.set(peerId, state);
      }
    }
    if (changed) {
      for (const state of this.#peers.values()) for (const name of state.entry?.pull ?? []) state.domain(name).due = 0;
      this.#log.info({ peers: current.size }, 'sync took up a new policy');
    }
  }

  /** The exempt addresses as libp2p's allow list wants them (`/ip4/…/ipcidr/…`). */
  #exemptMultiaddrs(): string[] {
    return (this.#init.exempt ?? []).map((entry) => {
      const [address = '', bits] = entry.trim().split('/');
      const ip = address.includes(':') ? 'ip6' : 'ip4';
      return `/${ip}/${address}/ipcidr/${bits ?? (ip === 'ip4' ? 32 : 128)}`;
    });
  }

  /**
   * The connection gater's per-address answer: refuse a connection over the cap of its IP
   * address. Inbound connections count from the moment they are accepted, so that sockets that
   * never finish the Noise handshake count too; of those, one address may hold MAX_PENDING_PER_ADDRESS.
   */
  #denyAddress(maConn: MultiaddrConnection): boolean {
    const host = hostOf(maConn.remoteAddr);
    if (host === undefined || this.#exempt.has(host)) return false;
    const max = this.#init.maxConnectionsPerAddress ?? MAX_CONNECTIONS_PER_ADDRESS;
    const inbound = this.#inbound.get(host) ?? 0;
    let outbound = 0;
    let upgraded = 0;
    for (const c of this.#libp2p?.getConnections() ?? []) {
      if (hostOf(c.remoteAddr) !== host) continue;
      if (c.direction === 'outbound') outbound++;
      else upgraded++;
    }
    const pending = inbound - upgraded;
    if (inbound + outbound < max && pending < MAX_PENDING_PER_ADDRESS) {
      if (maConn.status !== 'open') return false;
      this.#inbound.set(host, inbound + 1);
      maConn.addEventListener(
        'close',
        () => {
          const n = (this.#inbound.get(host) ?? 1) - 1;
          if (n <= 0) this.#inbound.delete(host);
          else this.#inbound.set(host, n);
        },
        { once: true },
      );
      return false;
    }
    this.#refusedMetric?.inc({ listener: 'sync', reason: 'per-address' });
    this.#refusedLog.warn({ listener: 'sync', reason: 'per-address', client: host, limit: pending >= MAX_PENDING_PER_ADDRESS ? `${MAX_PENDING_PER_ADDRESS} handshakes` : max });
    return true;
  }

  /** The connection gater's answer: refuse unknown and banned peers. */
  #deny(peerId: string): boolean {
    if (this.#stopped) return true;
    this.#refreshPolicy();
    const peer = this.#peer(peerId);
    if (peer && !peer.banned()) return false;
    const state = peer ?? this.#rememberRefused(peerId);
    state.refused += 1;
    if (state.refused === 1 || state.refused % 100 === 0) {
      this.#log.warn({ peer: peerId, refused: state.refused, banned: peer?.banned() ?? false }, peer ? 'refused a connection from a banned peer' : 'refused a connection from a peer id the policy does not name');
    }
    return true;
  }

  #rememberRefused(peerId: string): PeerState {
    let state = this.#refused.get(peerId);
    if (!state) {
      state = new PeerState(peerId, undefined, 1);
      this.#refused.set(peerId, state);
      if (this.#refused.size > MAX_REFUSED_REMEMBERED) this.#refused.delete(this.#refused.keys().next().value as string);
    }
    return state;
  }

  #connected(peerId: string): void {
    const peer = this.#peer(peerId);
    if (!peer) return;
    peer.connected = true;
    peer.connectedAt = Date.now();
    peer.lastConnected = new Date();
    peer.redialDelay = 0;
    for (const name of peer.entry?.pull ?? []) peer.domain(name).due = 0;
    this.#announcers.get(peerId)?.flushSoon();
    this.#log.info({ peer: peerId, name: peer.name }, 'peer connected');
    setImmediate(() => this.#tick());
  }

  #disconnected(peerId: string): void {
    const peer = this.#peer(peerId);
    if (!peer) return;
    peer.connected = false;
    peer.redialDelay = Math.min(REDIAL_MAX_MS, peer.redialDelay === 0 ? REDIAL_MIN_MS : peer.redialDelay * 2);
    peer.redialAt = Date.now() + peer.redialDelay;
    this.#log.info({ peer: peerId, name: peer.name }, 'peer disconnected');
  }

  #tick(): void {
    if (this.#stopped || !this.#libp2p) return;
    this.#refreshPolicy();
    const now = Date.now();
    for (const peer of this.#peers.values()) {
      const entry = peer.entry;
      if (!entry) continue;
      if (!peer.connected) {
        const wanted = entry.pull.length > 0 || entry.push.length > 0;
        if (wanted && entry.addresses.length > 0 && !peer.dialing && now >= peer.redialAt && !peer.banned(now)) this.#track(this.#dial(peer));
        continue;
      }
      if (peer.running) continue;
      if (entry.pull.some((name) => peer.domain(name).due <= now)) this.#track(this.#run(peer, false));
    }
  }

  async #dial(peer: PeerState): Promise<void> {
    const libp2p = this.#libp2p;
    if (!libp2p || !peer.entry) return;
    peer.dialing = true;
    try {
      await this.#connection(peer);
    } catch (error) {
      peer.redialDelay = Math.min(REDIAL_MAX_MS, peer.redialDelay === 0 ? REDIAL_MIN_MS : peer.redialDelay * 2);
      peer.redialAt = Date.now() + peer.redialDelay;
      if (isIcsError(error, 'CONFIG_INVALID')) this.#log.warn({ peer: peer.peerId, name: peer.name }, (error as Error).message);
      else this.#log.debug({ peer: peer.peerId, err: (error as Error).message }, 'dial failed');
    } finally {
      peer.dialing = false;
    }
  }

  /** An open connection to the peer: an existing one, else dialled at its policy addresses. */
  async #connection(peer: PeerState): Promise<Connection> {
    const libp2p = this.#libp2p;
    if (!libp2p) throw new IcsError('UNAVAILABLE', 'sync is not running');
    const id = peerIdFromString(peer.peerId);
    const open = libp2p.getConnections(id).find((c) => c.status === 'open');
    if (open) return open;
    const addresses = (peer.entry?.addresses ?? []).map((a) => {
      const ma = multiaddr(a);
      const named = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      if (named && named !== peer.peerId) throw new IcsError('CONFIG_INVALID', `address ${a} names peer ${named}, not ${peer.peerId}`);
      // With /p2p/<id>, Noise checks that the remote holds that id's key.
      return named ? ma : ma.encapsulate(`/p2p/${peer.peerId}`);
    });
    if (addresses.length === 0) throw new IcsError('UNAVAILABLE', `peer ${peer.name ?? peer.peerId} is not connected and the policy gives no address`);
    return libp2p.dial(addresses, { signal: AbortSignal.timeout(this.#settings.limits.requestTimeoutMs) });
  }

  #misbehaved(peer: PeerState, reason: string): void {
    peer.ban(reason, this.#settings.limits.banMs);
    this.#log.warn({ peer: peer.peerId, name: peer.name, reason, bannedForMs: peer.misbehaviour.banMs }, 'peer misbehaved: disconnected and banned');
    this.#fetchers.get(peer.peerId)?.stop();
    this.#fetchers.delete(peer.peerId);
    this.#announcers.get(peer.peerId)?.stop();
    this.#announcers.delete(peer.peerId);
    void this.#libp2p?.hangUp(peerIdFromString(peer.peerId)).catch(() => undefined);
  }

  #fetcher(peer: PeerState): Fetcher {
    let fetcher = this.#fetchers.get(peer.peerId);
    if (!fetcher) {
      const { limits } = this.#settings;
      fetcher = new Fetcher({
        peer,
        store: this.#components.store,
        ingest: this.#components.ingest,
        batchSize: this.#settings.batchSize,
        ingestConcurrency: limits.ingestConcurrency,
        maxPending: limits.maxPendingFetches,
        requestTimeoutMs: limits.requestTimeoutMs,
        open: () => this.#open(peer),
        misbehaved: (reason) => this.#misbehaved(peer, reason),
        failed: (message, domain) => this.#failed(peer, message, domain),
        debug: (message, detail) => this.#log.debug({ peer: peer.peerId, ...detail }, message),
      });
      this.#fetchers.set(peer.peerId, fetcher);
    }
    return fetcher;
  }

  #announcer(peer: PeerState): Announcer {
    let announcer = this.#announcers.get(peer.peerId);
    if (!announcer) {
      announcer = new Announcer({
        maxPending: this.#settings.limits.maxPendingAnnouncements,
        requestTimeoutMs: this.#settings.limits.requestTimeoutMs,
        connected: () => peer.connected,
        open: () => this.#open(peer),
        failed: (message) => this.#failed(peer, message),
        misbehaved: (reason) => this.#misbehaved(peer, reason),
      });
      this.#announcers.set(peer.peerId, announcer);
    }
    return announcer;
  }

  #failed(peer: PeerState, message: string, domain?: string): void {
    peer.error(message);
    if (domain) peer.domain(domain).lastError = message;
    this.#log.warn({ peer: peer.peerId, name: peer.name, domain }, message);
  }

  /** This node may announce `domain` to the peer: it pushes it, lets the peer read it, and the peer has not said it won't take it. */
  #mayPush(peer: PeerState, domain: string): boolean {
    if (!peer.pushes(domain) || !this.#policy().canRead(domain, { kind: 'peer', peerId: peer.peerId })) return false;
    const d = peer.domains.get(domain);
    if (!d || d.remoteFlags === 0) return true; // no handshake yet: the peer answers "not pulled" if so
    return (d.remoteFlags & DomainFlag.pull) !== 0 && d.remoteDigest === this.#localDigest(domain);
  }

  /** A committed local change: announced to the connected peers it may go to. */
  #changed(event: ChangeEvent): void {
    if (this.#stopped || !this.#settings.announce) return;
    const prefix = digestPrefix(event.digest);
    for (const peer of this.#peers.values()) {
      if (!peer.connected || peer.banned()) continue;
      if (event.source === 'peer' && event.origin === peer.peerId) continue; // it came from there
      for (const domain of event.domains) if (this.#mayPush(peer, domain)) this.#announcer(peer).add(domain, [{ id: event.id, prefix }]);
    }
  }

  // ---- the client side: handshake, reconciliation ----------------------------------------------

  #hello(peer: PeerState): Message {
    const policy = this.#policy();
    const names = new Set([...(peer.entry?.pull ?? []), ...(peer.entry?.push ?? [])]);
    const domains: HelloDomain[] = [];
    for (const name of names) {
      const digest = this.#localDigest(name);
      if (!digest) continue;
      const flags =
        (peer.pulls(name) ? DomainFlag.pull : 0) |
        (peer.pushes(name) ? DomainFlag.push : 0) |
        (policy.canRead(name, { kind: 'peer', peerId: peer.peerId }) ? DomainFlag.readable : 0);
      domains.push({ name, digest: Buffer.from(digest, 'hex'), flags });
    }
    return { type: MessageType.hello, version: PROTOCOL_VERSION, limits: this.#wireLimits(), domains };
  }

  #wireLimits(): WireLimits {
    return { maxMessageBytes: this.#settings.maxMessageBytes, batchSize: this.#settings.batchSize };
  }

  /** Limits both sides keep: the smaller of each. */
  #agreed(theirs: WireLimits): WireLimits {
    return {
      maxMessageBytes: Math.min(theirs.maxMessageBytes, this.#settings.maxMessageBytes),
      batchSize: Math.min(theirs.batchSize, this.#settings.batchSize),
    };
  }

  #channel(stream: Stream, peer: PeerState): Channel {
    const max = this.#settings.maxMessageBytes;
    return new Channel(stream, max, { maxFetchIds: this.#settings.batchSize, maxRecordBytes: max }, [peer.bytes, this.#total]);
  }

  /** A new stream to the peer with the handshake done. */
  async #open(peer: PeerState): Promise<Session> {
    const connection = await this.#connection(peer);
    const timeout = this.#settings.limits.requestTimeoutMs;
    const stream = await connection.newStream(PROTOCOL, { signal: AbortSignal.timeout(timeout) });
    const channel = this.#channel(stream, peer);
    try {
      await channel.send(this.#hello(peer), AbortSignal.timeout(timeout));
      const reply = await channel.receive(AbortSignal.timeout(timeout));
      if (reply.type === MessageType.error) throw new SyncFailure(`peer refused the handshake: ${errorName(reply.code)} ${reply.text}`, 'error');
      if (reply.type !== MessageType.helloOk) throw new ProtocolError('expected HELLO_OK');
      if (reply.version !== PROTOCOL_VERSION) throw new SyncFailure(`peer speaks protocol version ${reply.version}`, 'error');
      this.#applyHelloOk(peer, reply.domains);
      return { channel, limits: this.#agreed(reply.limits) };
    } catch (error) {
      channel.abort('handshake failed');
      if (error instanceof ProtocolError) this.#misbehaved(peer, error.message);
      throw error;
    }
  }

  /** Client side: what the peer said of each domain this node named. */
  #applyHelloOk(peer: PeerState, domains: readonly HelloOkDomain[]): void {
    const said = new Map(domains.map((d) => [d.name, d]));
    for (const name of new Set([...(peer.entry?.pull ?? []), ...(peer.entry?.push ?? [])])) {
      const local = this.#localDigest(name);
      if (!local) continue;
      const d = peer.domain(name);
      const theirs = said.get(name);
      d.remoteFlags = theirs?.flags ?? 0;
      d.remoteDigest = hex(theirs?.digest);
      let state: DomainSyncState | undefined;
      if (!theirs || theirs.status === DomainStatus.unknown) state = 'unknown-at-peer';
      else if (theirs.status === DomainStatus.mismatch || d.remoteDigest !== local) state = 'definition-mismatch';
      else if (peer.pulls(name) && (theirs.flags & DomainFlag.readable) === 0) state = 'not-permitted';
      this.#setState(peer, name, state);
    }
  }

  /** Server side: what the peer said in its HELLO. */
  #applyHello(peer: PeerState, domains: readonly HelloDomain[]): HelloOkDomain[] {
    const policy = this.#policy();
    return domains.map((theirs) => {
      const local = this.#localDigest(theirs.name);
      const remote = hex(theirs.digest);
      const status = local === undefined ? DomainStatus.unknown : local === remote ? DomainStatus.match : DomainStatus.mismatch;
      const flags =
        (policy.canRead(theirs.name, { kind: 'peer', peerId: peer.peerId }) ? DomainFlag.readable : 0) |
        (peer.pulls(theirs.name) ? DomainFlag.pull : 0) |
        (peer.pushes(theirs.name) ? DomainFlag.push : 0);
      if (local !== undefined || peer.pulls(theirs.name) || peer.pushes(theirs.name)) {
        const d = peer.domain(theirs.name);
        d.remoteDigest = remote;
        d.remoteFlags = theirs.flags;
        this.#setState(peer, theirs.name, status === DomainStatus.mismatch ? 'definition-mismatch' : status === DomainStatus.unknown ? 'unknown-at-peer' : undefined);
      }
      return { name: theirs.name, status, flags, digest: local === undefined ? undefined : Buffer.from(local, 'hex') };
    });
  }

  /**
   * Records a handshake verdict: a problem state (logged once when it starts), or undefined
   * for "nothing wrong" (which clears a problem state the handshake had set).
   */
  #setState(peer: PeerState, name: string, state: DomainSyncState | undefined): void {
    const d = peer.domain(name);
    const problem = state === 'definition-mismatch' || state === 'unknown-at-peer' || state === 'not-permitted';
    if (state && problem) {
      if (d.state !== state) {
        const why =
          state === 'definition-mismatch'
            ? 'domain definitions differ (selectors, accept or write rules, or trusted issuers): the domain will not converge and is not synced until one side changes'
            : state === 'unknown-at-peer'
              ? 'the peer has no such domain'
              : 'the peer does not let this node read the domain';
        this.#log.warn({ peer: peer.peerId, name: peer.name, domain: name, local: this.#localDigest(name), remote: d.remoteDigest }, `sync: ${why}`);
      }
      d.state = state;
      d.lastError = state;
    } else if (d.state === 'definition-mismatch' || d.state === 'unknown-at-peer' || d.state === 'not-permitted') {
      d.state = 'pending';
      d.lastError = undefined;
    }
  }

  /** Scheduled reconciliation of a two-way domain runs on one side: the smaller peer id (the other falls back). */
  #defers(peer: PeerState, name: string, now: number): boolean {
    const d = peer.domain(name);
    const both = DomainFlag.pull | DomainFlag.push;
    const twoWay = peer.pulls(name) && peer.pushes(name) && (d.remoteFlags & both) === both;
    if (!twoWay || this.#selfId < peer.peerId) return false;
    const interval = (peer.entry?.intervalSeconds ?? 60) * 1000;
    return now - Math.max(d.lastServed, peer.connectedAt) < 2 * interval;
  }

  async #run(peer: PeerState, force: boolean): Promise<PeerSyncReport> {
    while (peer.running) {
      if (!force) return { peerId: peer.peerId, name: peer.name, ok: true, domains: [] };
      await peer.running.catch(() => undefined);
    }
    const run = this.#reconcilePeer(peer, force);
    peer.running = run;
    try {
      return await run;
    } finally {
      if (peer.running === run) peer.running = undefined;
    }
  }

  async #reconcilePeer(peer: PeerState, force: boolean): Promise<PeerSyncReport> {
    const entry = peer.entry;
    const base = { peerId: peer.peerId, name: peer.name };
    if (!entry) return { ...base, ok: false, error: 'not a peer in the policy', domains: [] };
    const interval = entry.intervalSeconds * 1000;
    const pulls = entry.pull.filter((name) => this.#localDigest(name) !== undefined);
    let session: Session;
    try {
      session = await this.#open(peer);
    } catch (error) {
      const message = `cannot reach the peer: ${(error as Error).message}`;
      for (const name of pulls) peer.domain(name).due = Date.now() + Math.min(interval, RETRY_MS);
      if (!(error instanceof ProtocolError)) this.#failed(peer, message);
      return { ...base, ok: false, error: message, domains: [] };
    }
    const reports: DomainSyncReport[] = [];
    try {
      for (const name of pulls) {
        const d = peer.domain(name);
        const now = Date.now();
        if (!force && (d.due > now || this.#defers(peer, name, now))) {
          if (d.due <= now) d.due = now + interval;
          continue;
        }
        if (d.state === 'definition-mismatch' || d.state === 'unknown-at-peer' || d.state === 'not-permitted') {
          d.due = now + interval;
          reports.push(zeroReport(name, d.state, d.lastError));
          continue;
        }
        reports.push(await this.#reconcileDomain(peer, session, name));
        d.due = Date.now() + (d.state === 'in-sync' ? interval : Math.min(interval, RETRY_MS));
        if (!peer.connected && !this.#libp2p?.getConnections(peerIdFromString(peer.peerId)).length) break;
      }
    } finally {
      await session.channel.close();
    }
    const ok = reports.every((r) => r.error === undefined);
    if (ok && reports.length > 0 && reports.length === pulls.length) peer.lastSync = new Date();
    return { ...base, ok, ...(!ok && { error: reports.find((r) => r.error)?.error }), domains: reports };
  }

  async #reconcileDomain(peer: PeerState, session: Session, name: string): Promise<DomainSyncReport> {
    const started = performance.now();
    const d = peer.domain(name);
    d.state = 'syncing';
    const fetcher = this.#fetcher(peer);
    const before = { ...fetcher.counts(name) };
    const bytes = { ...peer.bytes };
    const { store } = this.#components;
    const { limits } = this.#settings;
    const timeout = limits.requestTimeoutMs;
    const reconciler = new Reconciler(storeView(store, name), 'initiator', { maxBytes: session.limits.maxMessageBytes - MESSAGE_SLACK });
    const push = this.#mayPush(peer, name);
    let rounds = 0;
    let haves = 0;
    let needs = 0;
    let error: string | undefined;
    try {
      let ranges: Range[] | undefined = await reconciler.initiate();
      while (ranges) {
        if (++rounds > limits.maxRounds) throw new ProtocolError(`reconciliation did not end within ${limits.maxRounds} rounds`);
        await session.channel.send({ type: MessageType.reconcile, domain: name, ranges }, AbortSignal.timeout(timeout));
        const reply = await session.channel.receive(AbortSignal.timeout(timeout));
        if (reply.type === MessageType.error) {
          const state: DomainSyncState =
            reply.code === ErrorCode.notPermitted ? 'not-permitted' : reply.code === ErrorCode.mismatch ? 'definition-mismatch' : reply.code === ErrorCode.unknownDomain ? 'unknown-at-peer' : 'error';
          throw new SyncFailure(`peer refused RECONCILE: ${errorName(reply.code)} ${reply.text}`, state);
        }
        if (reply.type !== MessageType.reconcileReply) throw new ProtocolError('expected RECONCILE_REPLY');
        const outcome = await reconciler.process(reply.ranges);
        this.#log.debug({ peer: peer.peerId, domain: name, round: rounds, in: reply.ranges.length, out: outcome.ranges?.length ?? 0, needs: outcome.needs.length, haves: outcome.haves.length, ms: Math.round(performance.now() - started) }, 'reconciliation round');
        needs += outcome.needs.length;
        haves += outcome.haves.length;
        if (outcome.haves.length > 0 && push) this.#announcer(peer).add(name, outcome.haves.map((h) => ({ id: h.id, prefix: digestPrefix(h.digest) })));
        if (outcome.needs.length > 0) {
          fetcher.enqueue(name, outcome.needs);
          await fetcher.room();
        }
        ranges = outcome.ranges;
      }
      this.#log.debug({ peer: peer.peerId, domain: name, rounds, ms: Math.round(performance.now() - started) }, 'reconciliation done, waiting for fetches');
      await fetcher.idle();
      d.lastReconciled = new Date();
      if (fetcher.counts(name).failed > before.failed) {
        // What could not be fetched is tried again at the next reconciliation.
        error = d.lastError ?? 'fetching failed';
        d.state = 'error';
      } else {
        d.state = 'in-sync';
        d.lastError = undefined;
      }
    } catch (e) {
      error = (e as Error).message;
      if (e instanceof ProtocolError) {
        this.#misbehaved(peer, e.message);
        d.state = 'error';
      } else if (e instanceof SyncFailure) {
        if (e.state === 'error') this.#failed(peer, error, name);
        else this.#setState(peer, name, e.state);
        d.state = e.state;
      } else {
        this.#failed(peer, `reconciliation of ${name} failed: ${error}`, name);
        d.state = 'error';
      }
      d.lastError = error;
    }
    const after = fetcher.counts(name);
    const report: DomainSyncReport = {
      name,
      state: d.state,
      rounds,
      haves,
      needs,
      fetched: after.fetched - before.fetched,
      inserted: after.inserted - before.inserted,
      updated: after.updated - before.updated,
      unchanged: after.unchanged - before.unchanged,
      rejected: after.rejected - before.rejected,
      bytesSent: peer.bytes.out - bytes.out,
      bytesReceived: peer.bytes.in - bytes.in,
      ms: performance.now() - started,
      ...(error !== undefined && { error }),
    };
    const { name: _, state, ...figures } = report;
    this.#log[haves + needs > 0 ? 'info' : 'debug']({ peer: peer.peerId, name: peer.name, domain: name, state, ...figures, ms: Math.round(report.ms) }, 'reconciled');
    return report;
  }

  // ---- the server side ---------------------------------------------------------------------------

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const peerId = connection.remotePeer.toString();
    this.#refreshPolicy();
    const peer = this.#peer(peerId);
    if (!peer || peer.banned()) {
      // The gater refuses such connections; a policy reload may have removed the peer since.
      stream.abort(new Error('not a peer of this node'));
      await connection.close().catch(() => undefined);
      return;
    }
    const channel = this.#channel(stream, peer);
    const { limits } = this.#settings;
    try {
      const hello = await channel.receive(AbortSignal.timeout(limits.requestTimeoutMs));
      if (hello.type !== MessageType.hello) throw new ProtocolError('the first message must be HELLO');
      if (hello.version !== PROTOCOL_VERSION) {
        await channel.send({ type: MessageType.error, code: ErrorCode.version, text: `this node speaks version ${PROTOCOL_VERSION}` });
        await channel.close();
        return;
      }
      const theirDomains = new Map(hello.domains.map((d) => [d.name, hex(d.digest)]));
      const agreed = this.#agreed(hello.limits);
      await channel.send({ type: MessageType.helloOk, version: PROTOCOL_VERSION, limits: this.#wireLimits(), domains: this.#applyHello(peer, hello.domains) });
      for (;;) {
        let message: Message;
        try {
          message = await channel.receive(AbortSignal.timeout(SERVER_IDLE_MS));
        } catch (error) {
          if (error instanceof StreamEnded) break;
          throw error;
        }
        const wait = peer.rate.take();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const reply = await this.#answer(peer, message, theirDomains, agreed);
        await channel.send(reply, AbortSignal.timeout(limits.requestTimeoutMs));
      }
      await channel.close();
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.#misbehaved(peer, error.message);
        channel.abort(error.message);
      } else if (!(error instanceof StreamEnded)) {
        this.#log.debug({ peer: peerId, err: (error as Error).message }, 'sync stream ended with an error');
        channel.abort('error');
      }
    }
  }

  /** Why `domain` is not served to the peer, or undefined when it is. */
  #refusal(peer: PeerState, domain: string, theirDigest: string | undefined): Message | undefined {
    const local = this.#localDigest(domain);
    if (local === undefined) return { type: MessageType.error, code: ErrorCode.unknownDomain, text: `no domain ${domain} here` };
    if (!this.#policy().canRead(domain, { kind: 'peer', peerId: peer.peerId })) return { type: MessageType.error, code: ErrorCode.notPermitted, text: `${domain} is not readable by this peer` };
    if (theirDigest !== local) return { type: MessageType.error, code: ErrorCode.mismatch, text: `${domain} is defined differently here` };
    return undefined;
  }

  async #answer(peer: PeerState, message: Message, theirDomains: ReadonlyMap<string, string | undefined>, agreed: WireLimits): Promise<Message> {
    const { store } = this.#components;
    try {
      switch (message.type) {
        case MessageType.reconcile: {
          const refused = this.#refusal(peer, message.domain, theirDomains.get(message.domain));
          if (refused) return refused;
          peer.domain(message.domain).lastServed = Date.now();
          const responder = new Reconciler(storeView(store, message.domain), 'responder', { maxBytes: agreed.maxMessageBytes - MESSAGE_SLACK });
          const started = performance.now();
          const outcome = await responder.process(message.ranges);
          this.#log.debug({ peer: peer.peerId, domain: message.domain, in: message.ranges.length, out: outcome.ranges?.length, ms: Math.round(performance.now() - started) }, 'served a reconciliation round');
          return { type: MessageType.reconcileReply, ranges: outcome.ranges ?? [] };
        }
        case MessageType.fetch: {
          const refused = this.#refusal(peer, message.domain, theirDomains.get(message.domain));
          if (refused) return refused;
          return await this.#records(peer, message.domain, message.ids, agreed.maxMessageBytes - MESSAGE_SLACK);
        }
        case MessageType.announce: {
          const d = peer.domains.get(message.domain);
          const pulled = peer.pulls(message.domain) && this.#localDigest(message.domain) !== undefined && theirDomains.get(message.domain) === this.#localDigest(message.domain);
          if (!pulled || d?.state === 'not-permitted') return { type: MessageType.ack, status: 1 };
          // More than the fetcher holds: the rest is found by reconciling instead.
          const dropped = message.items.length > 0 ? this.#fetcher(peer).enqueue(message.domain, message.items, true) : 0;
          if (message.hint || dropped > 0) peer.domain(message.domain).due = 0;
          return { type: MessageType.ack, status: 0 };
        }
        default:
          throw new ProtocolError(`unexpected message type ${message.type}`);
      }
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      this.#log.error({ err: error, peer: peer.peerId }, 'sync request failed');
      return { type: MessageType.error, code: ErrorCode.unavailable, text: 'internal error' };
    }
  }

  /** RECORDS for a FETCH: records of the domain, in order, while they fit the message. */
  async #records(peer: PeerState, domain: string, ids: readonly string[], budget: number): Promise<Message> {
    const stored = await this.#components.store.getMany(ids);
    const entries: Array<{ status: 0; bytes: Uint8Array } | { status: 1 | 2 }> = [];
    let size = 16;
    let sent = 0;
    for (const record of stored) {
      if (!record || !record.domains.includes(domain)) {
        entries.push({ status: 1 });
        size += 1;
        continue;
      }
      const need = record.bytes.length + 6;
      if (need > budget) {
        entries.push({ status: 2 });
        size += 1;
        continue;
      }
      if (entries.length > 0 && size + need > budget) break;
      entries.push({ status: 0, bytes: record.bytes });
      size += need;
      sent++;
    }
    peer.recordsSent += sent;
    peer.domain(domain).recordsSent += sent;
    return { type: MessageType.records, entries };
  }

  // ---- public -----------------------------------------------------------------------------------

  async syncNow(peerId?: string): Promise<SyncReport> {
    if (!this.#libp2p || this.#stopped) throw new IcsError('UNAVAILABLE', 'sync is not running');
    this.#refreshPolicy();
    let targets: PeerState[];
    if (peerId === undefined) targets = [...this.#peers.values()].filter((p) => (p.entry?.pull.length ?? 0) > 0);
    else {
      const peer = this.#peer(peerId);
      if (!peer) throw new IcsError('NOT_FOUND', `no sync peer ${peerId} in the policy`, { details: { peerId } });
      targets = [peer];
    }
    const peers = await Promise.all(targets.map((peer) => this.#run(peer, true)));
    return { peers };
  }

  peers(): PeerSyncStatus[] {
    const digest = (name: string) => this.#localDigest(name);
    return [...[...this.#peers.values()].map((p) => p.status(digest)), ...[...this.#refused.values()].map((p) => p.status(digest))];
  }
}
