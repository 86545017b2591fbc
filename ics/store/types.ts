// The store interface (DESIGN §4), in the small parts its users need: a front end that only
// reads records names RecordReader and RecordIndexes, sync names SyncSet and EventLog, the
// ingest path RecordReader and RecordWriter, the certificate authority CertificateIndex
// (certificates.ts). RecordStore is all of them; the LevelDB and in-memory implementations
// provide it, so that a distributed backend can be added later. Implementations MUST pass
// test/store/store.suite.ts and test/store/certificates.suite.ts.
//
// Every method but `subscribe` fails with UNAVAILABLE once the store is closed. Ids are exact
// (record ids are lower-case); a string that is not a record id is simply not found.
import type { EntityKind } from '../record/index.ts';
import type { CertificateIndex } from './certificates.ts';
import type { SyncRole } from './role.ts';
import type {
  ChangeEvent,
  ListOptions,
  SearchOptions,
  StoredRecord,
  StoreStats,
  SyncBound,
  SyncItem,
  SyncPiece,
  SyncSummary,
  WriteRequest,
} from './model.ts';

export type * from './model.ts';
export type { DerivedBatch, DerivedRange, DerivedReader, DerivedStructure, RecordChange, StoreHooks } from './derived.ts';
export type { CertificateEntry, CertificateIndex, CertificateRevocation, RevocationReason } from './certificates.ts';
export type { SyncRole, SyncRoleEvents } from './role.ts';

/** Records by id. */
export interface RecordReader {
  get(id: string): Promise<StoredRecord | undefined>;
  /** One answer per id, in the order asked, undefined for ids not stored. */
  getMany(ids: readonly string[]): Promise<Array<StoredRecord | undefined>>;
}

/** Record ids by what records are found by (key ids, fingerprints, tokens), by domain and by kind. */
export interface RecordIndexes {
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
}

/** The per-domain reconciliation sets that sync reads (DESIGN §6), kept in the records' batch. */
export interface SyncSet {
  /**
   * A domain's reconciliation set between two (time, id) bounds, [from, to), in (time, id)
   * order; `to` undefined: to the end. A bound's id may be any string ('' is before every id
   * of that time; hex prefixes of ids fall where string order puts them); its time is taken
   * as whole ms, clamped to [0, MAX_SAFE_INTEGER].
   */
  syncRange(domain: string, from: SyncBound, to: SyncBound | undefined, limit: number): Promise<SyncItem[]>;
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
}

/** The append-only log of accepted changes and the feed of new ones. */
export interface EventLog {
  /** Events with seq > `after`, oldest first. */
  changesSince(after: number, limit: number): Promise<ChangeEvent[]>;
  /** A record's events, oldest first; [] for an unknown id. */
  history(id: string): Promise<ChangeEvent[]>;
  /**
   * Calls `listener` after each committed write, in seq order, never inside the batch; returns
   * the unsubscribe function. A listener that throws is ignored (and reported to the store's
   * `onListenerError`, if any): it affects neither the store nor the other listeners. A
   * listener runs synchronously in the commit path, so it MUST be quick (queue real work).
   */
  subscribe(listener: (event: ChangeEvent) => void): () => void;
}

/** The one way records change: the ingest path's compare-and-set write. */
export interface RecordWriter {
  /**
   * Writes record, indexes, the entries of every derived structure (the sync set first) and
   * the event in one atomic batch, after the compare-and-set on `expectedDigest` (CONFLICT
   * when it fails; nothing is written then, and no derived structure is called). Writes are
   * applied in call order: a write issued after another to the same id sees its result.
   * Resolves once the batch is durable (LevelDB: fsynced unless the store was opened with
   * `syncWrites: false`).
   */
  write(request: WriteRequest): Promise<ChangeEvent>;
}

/** Figures and shutdown. */
/** What a cache holds now: entries, and bytes as its byte bound counts them (0 when bounded by count only). */
export interface CacheFigures {
  readonly entries: number;
  readonly bytes: number;
}

export interface StoreLifecycle {
  stats(): Promise<StoreStats>;
  /** The store's own caches by name, for /metrics (a store without one need not say). */
  caches?(): Readonly<Record<string, CacheFigures>>;
  /** Waits for writes already issued, then releases the store (and its data directory lock). */
  close(): Promise<void>;
  /**
   * A new contender for the sync role among the processes sharing this store (role.ts). A
   * store only one process can open does not offer it: its process always holds the role.
   */
  syncRole?(): SyncRole;
}

/** The whole store: what node/ opens and hands to front ends that need every part. */
export interface RecordStore extends RecordReader, RecordIndexes, SyncSet, EventLog, RecordWriter, CertificateIndex, StoreLifecycle {}
