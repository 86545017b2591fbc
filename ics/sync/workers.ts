// A peer's workers: the fetcher that pulls the records reconciliation or announcements found
// missing, and the announcer that tells the peer of changes here. Each opens its own streams
// to the peer, handshake done, and reports failures and misbehaviour to the registry.
import type { Logger } from 'pino';
import type { RecordSubmitter } from '../ingest/index.ts';
import type { RecordReader } from '../store/types.ts';
import { Announcer } from './announcer.ts';
import { Fetcher } from './fetcher.ts';
import type { Session } from './handshake.ts';
import type { PeerState } from './peer.ts';
import type { PeerWorkers } from './registry.ts';
import type { Settings } from './settings.ts';

export interface PeerWorkersComponents {
  readonly settings: Settings;
  /** Where the fetcher looks for what is already held. */
  readonly store: RecordReader;
  readonly ingest: RecordSubmitter;
  readonly log: Logger;
  open(peer: PeerState): Promise<Session>;
  misbehaved(peer: PeerState, reason: string): void;
  failed(peer: PeerState, message: string, domain?: string): void;
}

export function peerWorkers(c: PeerWorkersComponents): PeerWorkers {
  const { limits } = c.settings;
  return {
    fetcher: (peer) =>
      new Fetcher({
        peer,
        store: c.store,
        ingest: c.ingest,
        batchSize: c.settings.batchSize,
        ingestConcurrency: limits.ingestConcurrency,
        maxPending: limits.maxPendingFetches,
        requestTimeoutMs: limits.requestTimeoutMs,
        open: () => c.open(peer),
        misbehaved: (reason) => c.misbehaved(peer, reason),
        failed: (message, domain) => c.failed(peer, message, domain),
        debug: (message, detail) => c.log.debug({ peer: peer.peerId, ...detail }, message),
      }),
    announcer: (peer) =>
      new Announcer({
        maxPending: limits.maxPendingAnnouncements,
        requestTimeoutMs: limits.requestTimeoutMs,
        connected: () => peer.connected,
        open: () => c.open(peer),
        failed: (message) => c.failed(peer, message),
        misbehaved: (reason) => c.misbehaved(peer, reason),
      }),
  };
}
