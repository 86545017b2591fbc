// The store interface (DESIGN §4). Front ends and the ingest path use only this; the
// LevelDB and in-memory implementations live behind it, so that a distributed backend
// can be added later. Implementations MUST pass test/store/store.suite.ts.
import type { EntityKind, IdentityRecord } from '../record/index.ts';
import type { SyncBound, SyncPiece, SyncSummary } from './fingerprint.ts';

export type { SyncBound, SyncPiece, SyncSummary } from './fingerprint.ts';

/** Where an accepted change came from. */
export type ChangeSource = 'cli' | 'hkp' | 'ldap' | 'api' | 'peer' | 'import';

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

export interface StoreStats {
  readonly records: number;
  readonly byKind: Readonly<Record<string, number>>;
  readonly lastSeq: number;
}

/**
 * Every method but `subscribe` fails with UNAVAILABLE once the store is closed. Ids are
 * exact (record ids are lower-case); a string that is not a record id is simply not found.
 */
export interface RecordStore {
  get(id: string): Promise<StoredRecord | undefined>;
  /** One answer per id, in the order asked, undefined for ids not stored. */
  getMany(ids: readonly string[]): Promise<Array<StoredRecord | undefined>>;
  /** Records whose primary key or a subkey has this 16-hex-digit key id (any case), oldest record first. */
  findByKeyId(keyId: string, options: SearchOptions): Promise<string[]>;
  /**
   * Records whose primary key or a subkey has this 40-hex-digit fingerprint (any case): the
   * record whose primary key it is first, then those holding it as a subkey.
   */
  findByFingerprint(fingerprint: string, options: SearchOptions): Promise<string[]>;
  /**
   * Records with a user-ID token equal to `token` (or starting with it, with `prefix`), the
   * query lower-cased first. Tokens are lower-cased runs of letters and digits of the user IDs
   * and more (see `userIdTokens`; code records: statement name, version, digests). Exact
   * matches come oldest record first; prefix matches by token, then oldest first. An empty
   * token matches nothing.
   */
  findByToken(token: string, options: SearchOptions & { prefix?: boolean }): Promise<string[]>;
  /** Ids of a domain's records in id (string) order. */
  listDomain(domain: string, options: ListOptions): Promise<string[]>;
  /** Ids of all records of a kind in id (string) order. */
  listKind(kind: EntityKind, options: ListOptions): Promise<string[]>;
  /**
   * A domain's reconciliation set between two (time, id) bounds, [from, to), in (time, id)
   * order; `to` undefined: to the end. A bound's id may be any string ('' is before every id
   * of that time; hex prefixes of ids fall where string order puts them); its time is taken
   * as whole ms, clamped to [0, MAX_SAFE_INTEGER].
   */
  syncRange(
    domain: string,
    from: { time: number; id: string },
    to: { time: number; id: string } | undefined,
    limit: number,
  ): Promise<SyncItem[]>;
  /**
   * Count and digest sum (see fingerprint.ts) of consecutive ranges of a domain's
   * reconciliation set: [bounds[i], bounds[i+1]) for each i, the last one [bounds[n-1], to).
   * Bounds MUST NOT decrease (a smaller one counts as the one before it). Implementations
   * SHOULD NOT read every item: the LevelDB store reads at most the buckets bounds fall in.
   */
  syncSummaries(domain: string, bounds: readonly SyncBound[], to: SyncBound | undefined): Promise<SyncSummary[]>;
  /**
   * Cuts a domain's reconciliation set in [from, to) into at most `parts` pieces of
   * near-equal count, at bucket starts only (fingerprint.ts: they depend on the items alone,
   * so peers holding much the same set cut alike), with each piece's summary. One piece when
   * no bucket starts inside the range. Every implementation MUST cut as BucketIndex does.
   */
  syncSplit(domain: string, from: SyncBound, to: SyncBound | undefined, parts: number): Promise<SyncPiece[]>;
  /** Events with seq > `after`, oldest first. */
  changesSince(after: number, limit: number): Promise<ChangeEvent[]>;
  /** A record's events, oldest first; [] for an unknown id. */
  history(id: string): Promise<ChangeEvent[]>;
  /**
   * Writes record, indexes, sync-set entries and the event in one atomic batch, after the
   * compare-and-set on `expectedDigest` (CONFLICT when it fails; nothing is written then).
   * Writes are applied in call order: a write issued after another to the same id sees its
   * result. Resolves once the batch is durable (LevelDB: fsynced unless the store was opened
   * with `syncWrites: false`).
   */
  write(request: WriteRequest): Promise<ChangeEvent>;
  /**
   * Calls `listener` after each committed write, in seq order, never inside the batch; returns
   * the unsubscribe function. A listener that throws is ignored (and reported to the store's
   * `onListenerError`, if any): it affects neither the store nor the other listeners. A
   * listener runs synchronously in the commit path, so it MUST be quick (queue real work).
   */
  subscribe(listener: (event: ChangeEvent) => void): () => void;
  stats(): Promise<StoreStats>;
  /** Waits for writes already issued, then releases the store (and its data directory lock). */
  close(): Promise<void>;
}
