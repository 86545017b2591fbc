// The store interface (DESIGN §4). Front ends and the ingest path use only this; the
// LevelDB and in-memory implementations live behind it, so that a distributed backend
// can be added later. Implementations MUST pass test/store/store.suite.ts.
import type { EntityKind, IdentityRecord } from '../record/index.ts';

/** Where an accepted change came from. */
export type ChangeSource = 'cli' | 'hkp' | 'ldap' | 'api' | 'peer' | 'import';

/** A record as stored: canonical bytes plus what the store derived from them. */
export interface StoredRecord {
  readonly id: string;
  readonly kind: EntityKind;
  /** Canonical record bytes (the record model's `bytes`). */
  readonly bytes: Uint8Array;
  /** sha256 of `bytes`, hex. */
  readonly digest: string;
  /** Policy domains the record belongs to, sorted. */
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
  /** Maximum ids returned. */
  readonly limit: number;
}

export interface ListOptions extends SearchOptions {
  /** Return ids strictly after this one (keyset paging). */
  readonly after?: string;
}

/** One entry of a domain's reconciliation set, ordered by (time, id). */
export interface SyncItem {
  readonly time: number;
  readonly id: string;
  readonly digest: string;
}

export interface StoreStats {
  readonly records: number;
  readonly byKind: Readonly<Record<string, number>>;
  readonly lastSeq: number;
}

export interface RecordStore {
  get(id: string): Promise<StoredRecord | undefined>;
  getMany(ids: readonly string[]): Promise<Array<StoredRecord | undefined>>;
  /** Records whose primary key or a subkey has this 16-hex-digit key id. */
  findByKeyId(keyId: string, options: SearchOptions): Promise<string[]>;
  /** Records whose primary key or a subkey has this 40-hex-digit fingerprint. */
  findByFingerprint(fingerprint: string, options: SearchOptions): Promise<string[]>;
  /**
   * Records with a user-ID token equal to `token` (or starting with it, with `prefix`).
   * Tokens are lower-cased runs of letters and digits of the user IDs (see `userIdTokens`).
   */
  findByToken(token: string, options: SearchOptions & { prefix?: boolean }): Promise<string[]>;
  /** Ids of a domain's records in id order. */
  listDomain(domain: string, options: ListOptions): Promise<string[]>;
  /** Ids of all records of a kind in id order. */
  listKind(kind: EntityKind, options: ListOptions): Promise<string[]>;
  /** A domain's reconciliation set between two (time, id) bounds, [from, to). */
  syncRange(
    domain: string,
    from: { time: number; id: string },
    to: { time: number; id: string } | undefined,
    limit: number,
  ): Promise<SyncItem[]>;
  /** Events with seq > `after`, oldest first. */
  changesSince(after: number, limit: number): Promise<ChangeEvent[]>;
  /** A record's events, oldest first. */
  history(id: string): Promise<ChangeEvent[]>;
  /** Writes record, indexes, sync-set entries and the event in one atomic batch. */
  write(request: WriteRequest): Promise<ChangeEvent>;
  /** Calls `listener` after each committed write; returns the unsubscribe function. */
  subscribe(listener: (event: ChangeEvent) => void): () => void;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}
