// The sync component's public types (STYLE "Components"): its tuning (SyncInit), what it needs
// (SyncComponents), and what it offers (SyncService), with the status and report shapes that
// `ics peers` and the JSON API show.
import type { PrivateKey } from '@libp2p/interface';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RecordSubmitter } from '../ingest/index.ts';
import type { PolicyEngine } from '../policy/index.ts';
import type { EventLog, RecordReader, SyncSet } from '../store/types.ts';
import type { CheckpointSigner, TransparencyLog, Witness } from '../tlog/index.ts';
import type { SyncLimits } from './consts.ts';

export interface SyncInit {
  /** libp2p listen multiaddr, e.g. `/ip4/127.0.0.1/tcp/4001`; port 0 picks a free one. Default loopback, port 0. */
  readonly listen?: string;
  /** The node's libp2p key (see `loadOrCreatePeerKey`). */
  readonly privateKey: PrivateKey;
  /** Bytes of one protocol message at most, in and out (config `sync.maxMessageBytes`). */
  readonly maxMessageBytes?: number;
  /** Records asked for in one FETCH at most, and ids accepted in one (config `sync.batchSize`). */
  readonly batchSize?: number;
  /** Announce local changes to peers at once (config `sync.announce`); periodic reconciliation runs either way. */
  readonly announce?: boolean;
  readonly limits?: Partial<SyncLimits>;
  /** libp2p connections open at once; default MAX_CONNECTIONS (consts.ts). */
  readonly maxConnections?: number;
  /** Connections from one IP address; default MAX_CONNECTIONS_PER_ADDRESS. */
  readonly maxConnectionsPerAddress?: number;
  /** Addresses and CIDR blocks exempt from the per-address limits. */
  readonly exempt?: readonly string[];
}

/** What a node's transparency log needs of sync (tlog/, DESIGN §8): absent, no checkpoints are exchanged. */
export interface SyncTransparency {
  readonly log: TransparencyLog;
  /** This node's checkpoints, which peers witness. */
  signer(): Promise<CheckpointSigner>;
  /** This node as a witness of its peers' logs. */
  witness(): Promise<Witness>;
  /** Split views found, kept as evidence; while one is kept, the domain is not synced with that peer. */
  readonly evidence: {
    has(peer: string, domain: string): Promise<boolean>;
    keep(peer: string, domain: string, evidence: Record<string, unknown>): Promise<void>;
  };
  /** Counts what witnessing did (metrics). */
  readonly count?: (event: 'cosigned' | 'split-view' | 'cosignature-kept' | 'cosignature-refused') => void;
}

export interface SyncComponents {
  /** The sync sets reconciled, the records served and compared, the change feed announced; writes go through `ingest`. */
  readonly store: SyncSet & RecordReader & EventLog;
  /** The current policy: read on every decision, so that a reloaded policy applies at once. */
  readonly policy: () => PolicyEngine;
  /** The ingest path: every record a peer sends goes through it. */
  readonly ingest: RecordSubmitter;
  readonly logger: Logger;
  /** The node's Prometheus registry: the service registers `ics_sync_…` gauges in it (metrics.ts). */
  readonly metrics?: { readonly registry: Registry };
  readonly transparency?: SyncTransparency;
}

/**
 * Where one domain stands with one peer:
 * - `split-view`: the peer showed two inconsistent checkpoints of its log of the domain
 *   (tlog/witness.ts); not synced until an operator removes the evidence (log/evidence/);
 * - `pending`: not reconciled yet on this connection;
 * - `in-sync`: the last reconciliation found nothing to fetch (or fetched it all);
 * - `syncing`: a reconciliation or its fetches are running;
 * - `definition-mismatch`: the peer's definition digest differs (reported, not retried until one side changes);
 * - `unknown-at-peer`: the peer has no such domain;
 * - `not-permitted`: the peer does not let this node read it (pull), or this node does not let the peer (push);
 * - `error`: the last attempt failed (see `lastError`).
 */
export type DomainSyncState = 'pending' | 'in-sync' | 'syncing' | 'definition-mismatch' | 'unknown-at-peer' | 'not-permitted' | 'error' | 'split-view';

export interface DomainSyncStatus {
  readonly name: string;
  /** This node pulls the domain from the peer / pushes it to the peer (its policy). */
  readonly pull: boolean;
  readonly push: boolean;
  readonly state: DomainSyncState;
  readonly localDigest: string | undefined;
  /** The definition digest the peer last reported. */
  readonly remoteDigest: string | undefined;
  readonly lastReconciled: Date | undefined;
  readonly lastError: string | undefined;
  /** Records fetched from the peer in this domain and stored (inserted or updated). */
  readonly recordsReceived: number;
  /** Records this node served to the peer in this domain. */
  readonly recordsSent: number;
}

export interface PeerSyncStatus {
  readonly peerId: string;
  /** The policy's name for the peer; undefined for an unknown peer (refused). */
  readonly name: string | undefined;
  readonly known: boolean;
  readonly addresses: readonly string[];
  readonly connected: boolean;
  readonly lastConnected: Date | undefined;
  /** End of the last reconciliation that completed for every pulled domain. */
  readonly lastSync: Date | undefined;
  readonly domains: readonly DomainSyncStatus[];
  readonly recordsReceived: number;
  readonly recordsSent: number;
  /** Records the peer sent that ingest refused (policy, limits) or that changed nothing. */
  readonly recordsRejected: number;
  readonly recordsUnchanged: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Connections from this peer refused (unknown peer id, or banned). */
  readonly refused: number;
  readonly misbehaviour: { readonly count: number; readonly lastReason: string | undefined; readonly lastAt: Date | undefined; readonly bannedUntil: Date | undefined };
  /** The most recent errors, newest last. */
  readonly errors: ReadonlyArray<{ readonly at: Date; readonly message: string }>;
}

export interface DomainSyncReport {
  readonly name: string;
  readonly state: DomainSyncState;
  readonly rounds: number;
  /** Items this node holds that the peer lacks, and the reverse. */
  readonly haves: number;
  readonly needs: number;
  readonly fetched: number;
  readonly inserted: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly rejected: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly ms: number;
  readonly error?: string;
}

export interface PeerSyncReport {
  readonly peerId: string;
  readonly name: string | undefined;
  readonly ok: boolean;
  readonly error?: string;
  readonly domains: readonly DomainSyncReport[];
}

export interface SyncReport {
  readonly peers: readonly PeerSyncReport[];
}

export interface SyncService {
  /** Starts libp2p, serves the protocol, dials the policy's peers. */
  start(): Promise<{ peerId: string; addresses: string[] }>;
  /** Stops announcing and reconciling, closes every connection. */
  stop(): Promise<void>;
  /** Reconciles every domain pulled from `peerId` (all policy peers when absent) now, with fetches, and reports. */
  syncNow(peerId?: string): Promise<SyncReport>;
  /** Status of every policy peer and of recently refused unknown peers. */
  peers(): PeerSyncStatus[];
}
