// The peers sync knows: the current policy's peers (taken up again whenever the policy
// changes) and recently refused strangers, each with its state (peer.ts); the connection
// gater's verdict on a peer id; connects, disconnects and redials; and each peer's workers
// (fetcher, announcer), dropped when the peer is removed from the policy or banned.
import type { Connection } from '@libp2p/interface';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import type { Logger } from 'pino';
import { IcsError, isIcsError } from '../errors.ts';
import type { PolicyEngine } from '../policy/index.ts';
import type { ChangeEvent } from '../store/types.ts';
import type { Announcer } from './announcer.ts';
import { DomainFlag } from './codec.ts';
import { MAX_REFUSED_REMEMBERED, REDIAL_MAX_MS, REDIAL_MIN_MS, type SyncLimits } from './consts.ts';
import type { Fetcher } from './fetcher.ts';
import { PeerState } from './peer.ts';
import { withDeadline } from './deadline.ts';
import { digestPrefix } from './reconcile.ts';
import type { PeerSyncStatus } from './types.ts';

/** What the registry needs of the transport. */
export interface PeerLinks {
  readonly started: boolean;
  openConnection(peerId: string): Connection | undefined;
  hasConnection(peerId: string): boolean;
  dial(addresses: Multiaddr[], signal: AbortSignal): Promise<Connection>;
  hangUp(peerId: string): void;
}

/** Makes a peer's workers; each opens its own streams to the peer. */
export interface PeerWorkers {
  fetcher(peer: PeerState): Fetcher;
  announcer(peer: PeerState): Announcer;
}

export interface PeerRegistryComponents {
  readonly policy: () => PolicyEngine;
  readonly log: Logger;
  readonly limits: SyncLimits;
  readonly links: PeerLinks;
  readonly workers: PeerWorkers;
}

const nextRedialDelay = (peer: PeerState) => Math.min(REDIAL_MAX_MS, peer.redialDelay === 0 ? REDIAL_MIN_MS : peer.redialDelay * 2);

export class PeerRegistry {
  readonly #c: PeerRegistryComponents;
  readonly #peers = new Map<string, PeerState>();
  readonly #refused = new Map<string, PeerState>();
  readonly #fetchers = new Map<string, Fetcher>();
  readonly #announcers = new Map<string, Announcer>();
  #policySeen: PolicyEngine | undefined;

  constructor(components: PeerRegistryComponents) {
    this.#c = components;
  }

  get(peerId: string): PeerState | undefined {
    return this.#peers.get(peerId);
  }

  /** The policy's peers. */
  known(): IterableIterator<PeerState> {
    return this.#peers.values();
  }

  /** The local definition digest of a domain; undefined when this node has no such domain. */
  localDigest(name: string): string | undefined {
    try {
      return this.#c.policy().domainDigest(name);
    } catch {
      return undefined;
    }
  }

  /** Takes up the current policy's peers: new ones are added, removed ones hung up. */
  refresh(): void {
    const policy = this.#c.policy();
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
        this.#dropWorkers(peerId);
        this.#c.links.hangUp(peerId);
        this.#c.log.info({ peer: peerId }, 'peer removed from the policy: disconnected');
      }
    }
    for (const [peerId, entry] of current) {
      if (!this.#peers.has(peerId)) {
        const state = this.#refused.get(peerId) ?? new PeerState(peerId, entry, this.#c.limits.requestsPerSecond);
        state.entry = entry;
        this.#refused.delete(peerId);
        this.#peers.set(peerId, state);
      }
    }
    if (changed) {
      for (const state of this.#peers.values()) for (const name of state.entry?.pull ?? []) state.domain(name).due = 0;
      this.#c.log.info({ peers: current.size }, 'sync took up a new policy');
    }
  }

  /** The connection gater's verdict on an authenticated peer id: policy peers only, not banned. */
  admits(peerId: string): boolean {
    this.refresh();
    const peer = this.get(peerId);
    if (peer && !peer.banned()) return true;
    const state = peer ?? this.#rememberRefused(peerId);
    state.refused += 1;
    if (state.refused === 1 || state.refused % 100 === 0) {
      this.#c.log.warn({ peer: peerId, refused: state.refused, banned: peer?.banned() ?? false }, peer ? 'refused a connection from a banned peer' : 'refused a connection from a peer id the policy does not name');
    }
    return false;
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

  /** A connection to the peer came up; false for a peer the registry does not know. */
  connected(peerId: string): boolean {
    const peer = this.get(peerId);
    if (!peer) return false;
    peer.connected = true;
    peer.connectedAt = Date.now();
    peer.lastConnected = new Date();
    peer.redialDelay = 0;
    for (const name of peer.entry?.pull ?? []) peer.domain(name).due = 0;
    this.#announcers.get(peerId)?.flushSoon();
    this.#c.log.info({ peer: peerId, name: peer.name }, 'peer connected');
    return true;
  }

  disconnected(peerId: string): void {
    const peer = this.get(peerId);
    if (!peer) return;
    peer.connected = false;
    peer.redialDelay = nextRedialDelay(peer);
    peer.redialAt = Date.now() + peer.redialDelay;
    this.#c.log.info({ peer: peerId, name: peer.name }, 'peer disconnected');
  }

  /** Connected, or a connection to it still open (its disconnect not seen yet). */
  reachable(peer: PeerState): boolean {
    return peer.connected || this.#c.links.hasConnection(peer.peerId);
  }

  /** A peer not connected that this node syncs with, has addresses for, and may redial now. */
  dialDue(peer: PeerState, now: number): boolean {
    const entry = peer.entry;
    if (!entry || peer.connected) return false;
    const wanted = entry.pull.length > 0 || entry.push.length > 0;
    return wanted && entry.addresses.length > 0 && !peer.dialing && now >= peer.redialAt && !peer.banned(now);
  }

  async dial(peer: PeerState): Promise<void> {
    if (!this.#c.links.started || !peer.entry) return;
    peer.dialing = true;
    try {
      await this.connection(peer);
    } catch (error) {
      peer.redialDelay = nextRedialDelay(peer);
      peer.redialAt = Date.now() + peer.redialDelay;
      if (isIcsError(error, 'CONFIG_INVALID')) this.#c.log.warn({ peer: peer.peerId, name: peer.name }, (error as Error).message);
      else this.#c.log.debug({ peer: peer.peerId, err: (error as Error).message }, 'dial failed');
    } finally {
      peer.dialing = false;
    }
  }

  /** An open connection to the peer: an existing one, else dialled at its policy addresses. */
  async connection(peer: PeerState): Promise<Connection> {
    const open = this.#c.links.openConnection(peer.peerId);
    if (open) return open;
    const addresses = (peer.entry?.addresses ?? []).map((a) => {
      const ma = multiaddr(a);
      const named = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      if (named && named !== peer.peerId) throw new IcsError('CONFIG_INVALID', `address ${a} names peer ${named}, not ${peer.peerId}`);
      // With /p2p/<id>, Noise checks that the remote holds that id's key.
      return named ? ma : ma.encapsulate(`/p2p/${peer.peerId}`);
    });
    if (addresses.length === 0) throw new IcsError('UNAVAILABLE', `peer ${peer.name ?? peer.peerId} is not connected and the policy gives no address`);
    return withDeadline(this.#c.limits.requestTimeoutMs, (signal) => this.#c.links.dial(addresses, signal));
  }

  misbehaved(peer: PeerState, reason: string): void {
    peer.ban(reason, this.#c.limits.banMs);
    this.#c.log.warn({ peer: peer.peerId, name: peer.name, reason, bannedForMs: peer.misbehaviour.banMs }, 'peer misbehaved: disconnected and banned');
    this.#dropWorkers(peer.peerId);
    this.#c.links.hangUp(peer.peerId);
  }

  failed(peer: PeerState, message: string, domain?: string): void {
    peer.error(message);
    if (domain) peer.domain(domain).lastError = message;
    this.#c.log.warn({ peer: peer.peerId, name: peer.name, domain }, message);
  }

  fetcher(peer: PeerState): Fetcher {
    let fetcher = this.#fetchers.get(peer.peerId);
    if (!fetcher) this.#fetchers.set(peer.peerId, (fetcher = this.#c.workers.fetcher(peer)));
    return fetcher;
  }

  announcer(peer: PeerState): Announcer {
    let announcer = this.#announcers.get(peer.peerId);
    if (!announcer) this.#announcers.set(peer.peerId, (announcer = this.#c.workers.announcer(peer)));
    return announcer;
  }

  #dropWorkers(peerId: string): void {
    this.#fetchers.get(peerId)?.stop();
    this.#fetchers.delete(peerId);
    this.#announcers.get(peerId)?.stop();
    this.#announcers.delete(peerId);
  }

  /** Stops every worker; returns the fetchers, whose records being ingested finish on their own. */
  stopWorkers(): Fetcher[] {
    const fetchers = [...this.#fetchers.values()];
    for (const f of fetchers) f.stop();
    for (const a of this.#announcers.values()) a.stop();
    return fetchers;
  }

  /** This node may announce `domain` to the peer: it pushes it, lets the peer read it, and the peer has not said it won't take it. */
  mayPush(peer: PeerState, domain: string): boolean {
    if (!peer.pushes(domain) || !this.#c.policy().canRead(domain, { kind: 'peer', peerId: peer.peerId })) return false;
    const d = peer.domains.get(domain);
    if (!d || d.remoteFlags === 0) return true; // no handshake yet: the peer answers "not pulled" if so
    return (d.remoteFlags & DomainFlag.pull) !== 0 && d.remoteDigest === this.localDigest(domain);
  }

  /** A committed local change: announced to the connected peers it may go to. */
  announce(event: ChangeEvent): void {
    const prefix = digestPrefix(event.digest);
    for (const peer of this.#peers.values()) {
      if (!peer.connected || peer.banned()) continue;
      if (event.source === 'peer' && event.origin === peer.peerId) continue; // it came from there
      for (const domain of event.domains) if (this.mayPush(peer, domain)) this.announcer(peer).add(domain, [{ id: event.id, prefix }]);
    }
  }

  /** Status of every policy peer and of recently refused unknown ones. */
  status(): PeerSyncStatus[] {
    const digest = (name: string) => this.localDigest(name);
    return [...[...this.#peers.values()].map((p) => p.status(digest)), ...[...this.#refused.values()].map((p) => p.status(digest))];
  }
}
