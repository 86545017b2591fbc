// What the store holds and answers with: stored records, change events, write requests and
// the sync set's items and summaries. Data shapes only, imported by the interfaces (types.ts)
// and by the shared helpers (fingerprint.ts, change.ts) alike, so that neither imports the other.
import type { EntityKind, IdentityRecord } from '../record/index.ts';

/** Where an accepted change came from (`est`: an issuance statement written at an EST enrolment). */
export type ChangeSource = 'cli' | 'hkp' | 'ldap' | 'api' | 'peer' | 'import' | 'est' | 'admin';

/**
 * A record as stored: canonical bytes plus what the store derived from them. Callers MUST
 * NOT mutate it (nor its bytes): a store MAY hand the same object to every reader.
 */
export interface StoredRecord {
  readonly id: string;
  readonly kind: EntityKind;
  /** Canonical record bytes (the record model's `bytes`). */
  readonly bytes: Uint8Array;
  /** sha256 of `bytes`, hex. */
  readonly digest: string;
  /** Policy domains the record belongs to, sorted, without duplicates. */
  readonly domains: readonly string[];
  /**
   * Content time: the newest signature creation time in the record. Derived from content
   * alone, so equal records have equal times on every node (the sync set's order).
   */
  readonly contentTime: Date;
  /** When this node last accepted a change to the record. */
  readonly updated: Date;
  /** Sequence number of the event that wrote this version. */
  readonly seq: number;
}

/** One accepted change: an entry of the append-only event log. */
export interface ChangeEvent {
  /** Strictly increasing per store, starting at 1. */
  readonly seq: number;
  readonly at: Date;
  readonly id: string;
  readonly kind: EntityKind;
  readonly action: 'insert' | 'update';
  readonly source: ChangeSource;
  /** Who sent it: peer id, client address or local user; never secret. */
  readonly origin: string | undefined;
  readonly digest: string;
  readonly previousDigest: string | undefined;
  /** Signatures this change added to the record. */
  readonly signaturesAdded: number;
  /** A short human-readable account, e.g. `status stolen by manufacturer 3203…`. */
  readonly summary: string;
  readonly domains: readonly string[];
}

/** What the ingest path asks the store to write, atomically. */
export interface WriteRequest {
  /** The merged, verified, policy-filtered record. */
  readonly record: IdentityRecord;
  readonly domains: readonly string[];
  /**
   * Digest of the stored version the merge started from (undefined: there was none).
   * The write fails with CONFLICT when the stored version differs, so that a concurrent
   * writer's signatures are never lost; the caller merges again and retries.
   */
  readonly expectedDigest: string | undefined;
  readonly source: ChangeSource;
  readonly origin?: string;
  readonly signaturesAdded: number;
  readonly summary: string;
}

export interface SearchOptions {
  /** Maximum (distinct) ids returned; 0 or less returns none. */
  readonly limit: number;
}

export interface ListOptions extends SearchOptions {
  /**
   * Return ids strictly after this one (keyset paging). Any string is accepted and placed
   * by string order, e.g. a hex prefix of an id.
   */
  readonly after?: string;
}

/**
 * One entry of a domain's reconciliation set, ordered by (time, id): time numerically, then
 * id by string order (`compareIds`), the same on every node.
 */
export interface SyncItem {
  /** The record's content time, whole ms since the epoch. */
  readonly time: number;
  readonly id: string;
  readonly digest: string;
}

/** A position in a domain's (time, id) order: `id` may be a prefix of ids, or '' (before all ids of that time). */
export interface SyncBound {
  readonly time: number;
  readonly id: string;
}

/** How many items a range holds and the sum of their digests (32 bytes, little-endian). */
export interface SyncSummary {
  readonly count: number;
  readonly sum: Uint8Array;
}

/** One piece of a cut range: it starts at `from` and ends where the next piece starts. */
export interface SyncPiece extends SyncSummary {
  readonly from: SyncBound;
}

export interface StoreStats {
  readonly records: number;
  readonly byKind: Readonly<Record<string, number>>;
  readonly lastSeq: number;
}
