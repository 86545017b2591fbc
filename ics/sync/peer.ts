// What the service keeps per peer: connection and schedule, per-domain state from the last
// handshake, counters, misbehaviour and bans, and the status view of it all.
import type { SyncPeer } from '../policy/index.ts';
import type { ByteCounter } from './channel.ts';
import { MAX_BAN_MS, MEMO_ENTRIES } from './consts.ts';
import { TokenBucket } from './rate.ts';
import type { DomainSyncState, DomainSyncStatus, PeerSyncStatus } from './types.ts';

/** Errors kept per peer for status. */
const MAX_ERRORS = 10;

export interface DomainState {
  readonly name: string;
  state: DomainSyncState;
  localDigest: string | undefined;
  remoteDigest: string | undefined;
  /** The peer's flags for the domain (codec DomainFlag), from its last HELLO or HELLO_OK. */
  remoteFlags: number;
  lastReconciled: Date | undefined;
  lastError: string | undefined;
  recordsReceived: number;
  recordsSent: number;
  /** When the peer last reconciled this domain against this node. */
  lastServed: number;
  /** Next scheduled reconciliation (ms since epoch); 0: due now. */
  due: number;
}

/** A set of recent keys with a size cap (oldest out first). */
export class Memo {
  readonly #keys = new Map<string, true>();

  constructor(private readonly cap = MEMO_ENTRIES) {}

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  add(key: string): void {
    this.#keys.delete(key);
    this.#keys.set(key, true);
    if (this.#keys.size > this.cap) this.#keys.delete(this.#keys.keys().next().value as string);
  }

  clear(): void {
    this.#keys.clear();
  }
}

export class PeerState {
  readonly peerId: string;
  entry: SyncPeer | undefined;
  connected = false;
  connectedAt = 0;
  lastConnected: Date | undefined;
  lastSync: Date | undefined;
  readonly domains = new Map<string, DomainState>();
  readonly bytes: ByteCounter = { in: 0, out: 0 };
  recordsReceived = 0;
  recordsSent = 0;
  recordsRejected = 0;
  recordsUnchanged = 0;
  refused = 0;
  readonly misbehaviour = { count: 0, lastReason: undefined as string | undefined, lastAt: undefined as Date | undefined, bannedUntil: 0, banMs: 0 };
  readonly errors: Array<{ at: Date; message: string }> = [];
  /** The reconciliation run in progress, if any (one at a time per peer). */
  running: Promise<unknown> | undefined;
  redialAt = 0;
  redialDelay = 0;
  dialing = false;
  /** (record id, digest prefix) pairs already fetched and merged, or refused: not fetched again. */
  readonly memo = new Memo();
  readonly rate: TokenBucket;

  constructor(peerId: string, entry: SyncPeer | undefined, requestsPerSecond: number) {
    this.peerId = peerId;
    this.entry = entry;
    this.rate = new TokenBucket(requestsPerSecond, requestsPerSecond * 2);
  }

  get name(): string | undefined {
    return this.entry?.name;
  }

  domain(name: string): DomainState {
    let d = this.domains.get(name);
    if (!d) {
      d = {
        name,
        state: 'pending',
        localDigest: undefined,
        remoteDigest: undefined,
        remoteFlags: 0,
        lastReconciled: undefined,
        lastError: undefined,
        recordsReceived: 0,
        recordsSent: 0,
        lastServed: 0,
        due: 0,
      };
      this.domains.set(name, d);
    }
    return d;
  }

  pulls(domain: string): boolean {
    return this.entry?.pull.includes(domain) ?? false;
  }

  pushes(domain: string): boolean {
    return this.entry?.push.includes(domain) ?? false;
  }

  error(message: string): void {
    this.errors.push({ at: new Date(), message });
    if (this.errors.length > MAX_ERRORS) this.errors.shift();
  }

  banned(now = Date.now()): boolean {
    return this.misbehaviour.bannedUntil > now;
  }

  /** Records misbehaviour and bans the peer for `baseMs`, doubling on each repeat up to MAX_BAN_MS. */
  ban(reason: string, baseMs: number): void {
    const m = this.misbehaviour;
    m.count += 1;
    m.lastReason = reason;
    m.lastAt = new Date();
    m.banMs = m.banMs === 0 ? baseMs : Math.min(MAX_BAN_MS, m.banMs * 2);
    m.bannedUntil = Date.now() + m.banMs;
    this.error(`misbehaviour: ${reason}`);
  }

  status(localDigest: (domain: string) => string | undefined): PeerSyncStatus {
    const names = new Set([...(this.entry?.pull ?? []), ...(this.entry?.push ?? []), ...this.domains.keys()]);
    const domains: DomainSyncStatus[] = [...names].sort().map((name) => {
      const d = this.domains.get(name);
      return {
        name,
        pull: this.pulls(name),
        push: this.pushes(name),
        state: d?.state ?? 'pending',
        localDigest: localDigest(name),
        remoteDigest: d?.remoteDigest,
        lastReconciled: d?.lastReconciled,
        lastError: d?.lastError,
        recordsReceived: d?.recordsReceived ?? 0,
        recordsSent: d?.recordsSent ?? 0,
      };
    });
    const m = this.misbehaviour;
    return {
      peerId: this.peerId,
      name: this.name,
      known: this.entry !== undefined,
      addresses: [...(this.entry?.addresses ?? [])],
      connected: this.connected,
      lastConnected: this.lastConnected,
      lastSync: this.lastSync,
      domains,
      recordsReceived: this.recordsReceived,
      recordsSent: this.recordsSent,
      recordsRejected: this.recordsRejected,
      recordsUnchanged: this.recordsUnchanged,
      bytesIn: this.bytes.in,
      bytesOut: this.bytes.out,
      refused: this.refused,
      misbehaviour: { count: m.count, lastReason: m.lastReason, lastAt: m.lastAt, bannedUntil: m.bannedUntil > Date.now() ? new Date(m.bannedUntil) : undefined },
      errors: this.errors.map((e) => ({ ...e })),
    };
  }
}
