// The LevelDB RecordStore (DESIGN §4): one classic-level database keyed as keys.ts lays out.
// Writes go through one queue and commit in groups: each group's compare-and-sets are checked
// against the committed state plus the group's earlier writes, and the whole group — records,
// indexes, derived structures' entries (the sync set's first), events, and the certificate
// index's writes queued meanwhile — is one LevelDB batch, fsynced by default. Listeners run
// after the batch has committed.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { IcsError } from '../../errors.ts';
import { type EntityKind, reviveRecord } from '../../record/index.ts';
import {
  addition,
  type CertificateDecision,
  checkAfterSerial,
  checkCertificateEntry,
  checkRevocation,
  checkSerial,
  copyEntry,
  expiryBound,
  expiryCursor,
  revocation,
} from '../certificate-rules.ts';
import type { CertificateEntry, CertificateRevocation } from '../certificates.ts';
import {
  type ChangeListener,
  changeEvent,
  checkExpected,
  checkWriteRequest,
  closedError,
  freezeStored,
  Listeners,
  normaliseLimit,
} from '../change.ts';
import { type DerivedReader, derivedStructures } from '../derived.ts';
import { BucketIndex, boundKey, type ItemReader, type SyncBound, type SyncPiece, type SyncSummary } from '../fingerprint.ts';
import { BucketIndexes, type PendingCertificateWrite, type PendingWrite, WriteQueue } from '../write-queue.ts';
import { Doorkeeper } from '../doorkeeper.ts';
import { decodeId, encodeId, encodeIdBound, encodeRecordId } from '../ids.ts';
import { contentTime, type IndexTerms, indexTermsOf, MAX_TOKEN_LENGTH } from '../indexing.ts';
import { readSyncRange, SYNC_SET, syncItemReader, syncSet } from '../sync-set.ts';
import type {
  CacheFigures,
  ChangeEvent,
  ListOptions,
  RecordStore,
  SearchOptions,
  StoredRecord,
  StoreStats,
  SyncItem,
  WriteRequest,
} from '../types.ts';
import { CommitClock, Lru } from './cache.ts';
import {
  type CertificateGroup,
  certificateGroup,
  readCertificate,
  readCertificatesOf,
  readExpiringBefore,
  readRevokedBy,
} from './certificates.ts';
import { decodeEvent, decodeRecordValue, eventRecordId, type StoredEntry } from './codec.ts';
import { checkFormat, loadableFormat, STORE_FORMAT } from './format.ts';
import { DerivedGroup, derivedReader, type DerivedSpace, derivedSpaces } from './derived.ts';
import {
  bucketIndexKey,
  docOf,
  domainPrefix,
  eventKey,
  historyRange,
  KINDS,
  keyIdKey,
  kindPrefix,
  MAX_SEQ,
  metaKey,
  range,
  readUint48,
  recordKey,
  SEQ_BYTES,
  Space,
  subkeyKey,
  syncPrefix,
  time64,
  tokenHeadKey,
  tokenPrefixRange,
  tokenRange,
  uint48,
} from './keys.ts';
import { type BatchOp, decodeIdList, isMany, type ListChange, listKeys, listOps, type Version, writeOps } from './ops.ts';
import { readAll, readBatches, steps } from './read.ts';
import { autoMaxOpenFiles, BLOCK_BYTES, type LevelStoreInit, MAX_FILE_BYTES, MAX_GROUP_WRITES, type ResolvedLevelOptions, resolveOptions } from './options.ts';

type Db = ClassicLevel<Buffer, Buffer>;

/** Version of the key layout and values, kept under meta `format`. */
/** Sync-set entries read per step when a domain's bucket index is built. */
const BUILD_STEP = 1024;
/** Events replayed into a derived structure per batch while it catches up with the event log (#catchUp). */
const REPLAY_PAGE = 1000;

/** A stored version whose index terms are worked out only when an update needs them. */
interface Current {
  readonly entry: StoredEntry;
  terms: IndexTerms | undefined;
}

const countKey = (kind: EntityKind) => metaKey(`count:${kind}`);
/**
 * Point reads of at most this many keys are made synchronously (getSync) on the calling
 * thread. A LevelDB point read of data in the block cache or the page cache takes a few
 * microseconds; handing it to libuv's pool instead (promise, mutex, a pool thread, a wake-up
 * of the event loop) cost an LDAP search by fingerprint ~290 µs of main-thread time against
 * ~120 µs, and ~30 % fewer searches a second at 1M records, on a 2-core machine (context
 * switches). The price: a read of data not in memory
 * blocks the event loop for one disk read. Larger reads (history, batches) stay on the pool.
 */
const SYNC_READ_KEYS = 16;
/** Records read from disk kept for a moment (#recent): those of the last request or few. */
const RECENT_READS = 32;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX40 = /^[0-9a-f]{40}$/;

/** LevelDB table files in a store directory (none when it does not exist yet). */
async function tableFiles(path: string): Promise<number> {
  try {
    return (await readdir(path)).filter((name) => name.endsWith('.ldb') || name.endsWith('.sst')).length;
  } catch {
    return 0;
  }
}

/** The process's soft limit on open files (Linux), or undefined where it cannot be read. */
function openFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The entry with its own copy of the record bytes, for the cache. Not from Buffer's shared
 * pool: a cached slice would keep a whole 8 KB pool slab alive.
 */
function ownedEntry(entry: StoredEntry): StoredEntry {
  const bytes = Buffer.allocUnsafeSlow(entry.stored.bytes.length);
  bytes.set(entry.stored.bytes);
  return { doc: entry.doc, stored: freezeStored({ ...entry.stored, bytes, domains: [...entry.stored.domains] }) };
}

/** Heap a cached entry holds: its bytes (owned, or the LevelDB value they are a view of) and the object around them. */
function cachedEntryBytes(entry: StoredEntry): number {
  return entry.stored.bytes.buffer.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** The StoredRecord object, its strings (id, digest, domains) and the cache's own node. */
const ENTRY_OVERHEAD_BYTES = 512;
/**
 * The certificate cache's bounds: 16 MiB holds ~20,000 entries (a certificate's DER and the
 * decoded fields), a gateway fleet's OCSP working set; beyond it each answer costs a read.
 */
const CERTIFICATE_CACHE_BYTES = 16 * 1024 * 1024;
const CERTIFICATE_CACHE_ENTRIES = 100_000;
const CERTIFICATE_ENTRY_OVERHEAD = 300;

function isLocked(error: unknown): boolean {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === 'LEVEL_LOCKED') return true;
  }
  return false;
}

function validName(name: string): boolean {
  return name.length > 0 && !name.includes('\0');
}

export class LevelStore implements RecordStore {
  readonly #db: Db;
  readonly #options: ResolvedLevelOptions;
  readonly #cache: Lru<string, StoredEntry>;
  /** Ids read from disk once lately: the cache's admission filter (see #admit). */
  readonly #seen: Doorkeeper<string>;
  readonly #clock = new CommitClock();
  /**
   * The last RECENT_READS records read from disk, current (a commit drops what it wrote): a
   * lookup that reads a record to learn that it exists, and the read of its content right
   * after (an LDAP search by fingerprint does both), cost one LevelDB read. Outside the cache
   * and its admission: a record read twice by one request is not thereby "read often".
   */
  readonly #recent = new Map<string, StoredEntry>();
  /**
   * Certificate entries by serial: what OCSP asks for each request, read once and then served
   * from memory until a commit changes them (kept current by #commit, guarded like records).
   */
  readonly #certificates = new Lru<string, CertificateEntry>(CERTIFICATE_CACHE_ENTRIES, { maxBytes: CERTIFICATE_CACHE_BYTES, sizeOf: (e) => e.der.byteLength + CERTIFICATE_ENTRY_OVERHEAD });
  readonly #certificateClock = new CommitClock();
  readonly #listeners: Listeners;
  /** Derived structures written with every record: the sync set, then those registered. */
  readonly #derived: readonly DerivedSpace[];
  /** The sync set's entries, for the store's own reads (which check that the store is open). */
  readonly #syncSet: DerivedReader;
  /** Record and certificate writes in call order, committed in groups (one batch each). */
  readonly #writer: WriteQueue;
  #lastSeq: number;
  #counts: Map<EntityKind, number>;
  #closed = false;
  readonly #buckets: BucketIndexes;
  readonly #onBucketIndex: LevelStoreInit['onBucketIndex'];
  readonly #onCatchUp: LevelStoreInit['onCatchUp'];

  private constructor(
    db: Db,
    options: ResolvedLevelOptions,
    lastSeq: number,
    counts: Map<EntityKind, number>,
    derived: readonly DerivedSpace[],
    init: LevelStoreInit,
  ) {
    this.#db = db;
    this.#options = options;
    this.#lastSeq = lastSeq;
    this.#counts = counts;
    this.#cache = new Lru(options.cacheRecords, { maxBytes: options.cacheBytes, sizeOf: cachedEntryBytes });
    this.#seen = new Doorkeeper(options.cacheRecords);
    this.#listeners = new Listeners(init.onListenerError);
    this.#derived = derived;
    this.#writer = new WriteQueue((writes, certificates) => this.#commit(writes, certificates), MAX_GROUP_WRITES);
    this.#buckets = new BucketIndexes(this.#writer);
    this.#onBucketIndex = init.onBucketIndex;
    this.#onCatchUp = init.onCatchUp;
    const space = (name: string) => derived.find((d) => d.structure.name === name) as DerivedSpace;
    this.#syncSet = derivedReader(db, space(SYNC_SET).prefix);
    for (const { structure, prefix } of derived) structure.attach?.(derivedReader(db, prefix, () => this.#checkOpen()));
  }

  /** Opens (creating when missing) the store at `init.path`. UNAVAILABLE when another process holds it. */
  static async open(init: LevelStoreInit): Promise<LevelStore> {
    const options = resolveOptions(init);
    const derived = derivedSpaces(derivedStructures([syncSet], init.derived));
    await mkdir(options.path, { recursive: true });
    const db: Db = new ClassicLevel<Buffer, Buffer>(options.path, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      createIfMissing: true,
      compression: true,
      cacheSize: options.blockCacheBytes,
      writeBufferSize: options.writeBufferBytes,
      maxOpenFiles: options.maxOpenFiles ?? autoMaxOpenFiles(await tableFiles(options.path), openFileLimit()),
      blockSize: BLOCK_BYTES,
      maxFileSize: MAX_FILE_BYTES,
    });
    try {
      await db.open();
    } catch (cause) {
      if (isLocked(cause)) throw new IcsError('UNAVAILABLE', 'data directory in use by another process', { cause, details: { locked: true } });
      throw new IcsError('UNAVAILABLE', `store at ${options.path} cannot be opened`, { cause });
    }
    try {
      const upgrade = await checkFormat(db, async () => (await readAll(db.keys({ limit: 1 }))).length === 0);
      if (upgrade) init.onUpgrade?.(upgrade);
      const [last] = await readAll(db.keys({ ...range(Buffer.of(Space.event)), reverse: true, limit: 1 }));
      const lastSeq = last ? readUint48(last, 1) : 0;
      const counts = new Map<EntityKind, number>();
      const stored = await db.getMany(KINDS.map(countKey));
      KINDS.forEach((kind, i) => {
        const value = stored[i];
        if (value) counts.set(kind, readUint48(value, 0));
      });
      const store = new LevelStore(db, options, lastSeq, counts, derived, init);
      await store.#catchUp();
      return store;
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Brings each derived structure that has not seen the whole event log up to it: one that can
   * be made from events (`replay`, e.g. the transparency log added to a store that already
   * holds records) gets every earlier event, in pages, each page in one batch with the
   * progress (so a crash resumes where it stopped); one that cannot is marked as present from
   * now on. Done once per structure, at open, before any write.
   */
  async #catchUp(): Promise<void> {
    const done = (seq: number) => Buffer.concat([uint48(seq), Buffer.of(1)]);
    for (let i = 0; i < this.#derived.length; i++) {
      const space = this.#derived[i] as DerivedSpace;
      const marker = metaKey(`derived/${space.structure.name}`);
      const state = await this.#db.get(marker);
      if (state?.[6] === 1) continue;
      let after = state ? readUint48(state, 0) : 0;
      const started = performance.now();
      const from = after;
      while (space.structure.replay && after < this.#lastSeq) {
        const events = await this.changesSince(after, REPLAY_PAGE);
        if (events.length === 0) break;
        const group = new DerivedGroup(this.#db, [space]);
        const ops: BatchOp[] = [];
        for (const event of events) group.accept([await group.replayed(0, event)], ops);
        after = (events.at(-1) as ChangeEvent).seq;
        ops.push({ type: 'put', key: marker, value: Buffer.concat([uint48(after), Buffer.of(0)]) });
        await this.#batch(ops);
      }
      await this.#db.put(marker, done(this.#lastSeq));
      if (after > from) this.#onCatchUp?.({ structure: space.structure.name, events: after - from, ms: performance.now() - started });
    }
  }

  /**
   * A LevelDB property for monitoring, e.g. `leveldb.stats`, `leveldb.sstables`,
   * `leveldb.approximate-memory-usage`, `leveldb.num-files-at-level0`.
   */
  levelProperty(name: string): string {
    this.#checkOpen();
    return this.#db.getProperty(name);
  }

  /** The options in force (defaults filled in). */
  get options(): ResolvedLevelOptions {
    return this.#options;
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError();
  }

  // ---- reads --------------------------------------------------------------------------

  /**
   * Admission to the record cache: a record read from disk is cached the second time it is
   * read within a while (the ids read once are remembered in a bounded set), so that scans and
   * uniformly random reads do not churn the cache at the expense of the records read often.
   * Not when a commit wrote the id while the read was in flight: the commit has the newer version.
   */
  #admit(id: string, entry: StoredEntry, readStarted: number): void {
    if (!this.#clock.unchangedSince(readStarted, id)) return;
    if (this.#seen.has(id)) this.#cache.set(id, entry);
    else this.#seen.add(id);
    this.#recent.delete(id);
    this.#recent.set(id, entry);
    if (this.#recent.size > RECENT_READS) this.#recent.delete(this.#recent.keys().next().value as string);
  }

  /** A record in memory: cached, or read from disk a moment ago. */
  #inMemory(id: string): StoredEntry | undefined {
    return this.#cache.get(id) ?? this.#recent.get(id);
  }

  async #entry(id: string): Promise<StoredEntry | undefined> {
    const hit = this.#inMemory(id);
    if (hit) return hit;
    const idKey = encodeId(id);
    if (!idKey) return undefined;
    const start = this.#clock.now();
    const value = this.#db.getSync(recordKey(idKey));
    if (value === undefined) return undefined;
    const entry = decodeRecordValue(id, value);
    this.#admit(id, entry, start);
    return entry;
  }

  caches(): Record<string, CacheFigures> {
    return {
      records: { entries: this.#cache.size, bytes: this.#cache.bytes },
      certificates: { entries: this.#certificates.size, bytes: this.#certificates.bytes },
      // Native memory, outside V8's heap: LevelDB's block cache (bounded by blockCacheBytes) and memtables.
      leveldb: { entries: 0, bytes: this.#closed ? 0 : Number(this.#db.getProperty('leveldb.approximate-memory-usage')) || 0 },
    };
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    this.#checkOpen();
    const hit = this.#inMemory(id);
    if (hit) return hit.stored;
    const key = encodeId(id, Space.record);
    if (!key) return undefined;
    const start = this.#clock.now();
    const value = this.#db.getSync(key);
    if (value === undefined) return undefined;
    const entry = decodeRecordValue(id, value);
    this.#admit(id, entry, start);
    return entry.stored;
  }

  /** Values of `keys` in order: synchronous point reads for a few (SYNC_READ_KEYS), the pool for more. */
  #read(keys: readonly Buffer[]): Array<Buffer | undefined> | Promise<Array<Buffer | undefined>> {
    if (keys.length > SYNC_READ_KEYS) return this.#db.getMany(keys as Buffer[]);
    return keys.map((key) => this.#db.getSync(key));
  }

  async getMany(ids: readonly string[]): Promise<Array<StoredRecord | undefined>> {
    this.#checkOpen();
    const out: Array<StoredRecord | undefined> = new Array(ids.length).fill(undefined);
    const missing: number[] = [];
    const keys: Buffer[] = [];
    ids.forEach((id, i) => {
      const hit = this.#inMemory(id);
      if (hit) out[i] = hit.stored;
      else {
        const idKey = encodeId(id);
        if (idKey) {
          missing.push(i);
          keys.push(recordKey(idKey));
        }
      }
    });
    if (keys.length === 0) return out;
    const start = this.#clock.now();
    const values = await this.#read(keys);
    values.forEach((value, j) => {
      if (value === undefined) return;
      const i = missing[j] as number;
      const id = ids[i] as string;
      const entry = decodeRecordValue(id, value);
      this.#admit(id, entry, start);
      out[i] = entry.stored;
    });
    return out;
  }

  /** Record numbers → ids, through each record's insert event. */
  async #idsOf(docs: readonly number[]): Promise<string[]> {
    if (docs.length === 0) return [];
    const values = await this.#read(docs.map(eventKey));
    return values.map((value, i) => {
      if (!value) throw new IcsError('INTERNAL', `record number ${docs[i]} has no insert event`);
      return eventRecordId(value);
    });
  }

  async #docsIn(bounds: { gte: Buffer; lt: Buffer }, limit: number): Promise<number[]> {
    if (limit === 0) return [];
    const keys = await readAll(this.#db.keys({ ...bounds, limit }));
    return keys.map(docOf);
  }

  async findByKeyId(keyId: string, options: SearchOptions): Promise<string[]> {
    this.#checkOpen();
    const k = keyId.toLowerCase();
    const limit = normaliseLimit(options.limit);
    if (!HEX16.test(k) || limit === 0) return [];
    const ids = decodeIdList(this.#db.getSync(keyIdKey(k)));
    return ids.slice(0, limit).map((id) => decodeId(id));
  }

  async findByFingerprint(fingerprint: string, options: SearchOptions): Promise<string[]> {
    this.#checkOpen();
    const f = fingerprint.toLowerCase();
    const limit = normaliseLimit(options.limit);
    if (!HEX40.test(f) || limit === 0) return [];
    // The primary key's fingerprint is the record id; subkeys have list entries.
    // Read whole (not only tested): the search that asks reads the record next (#recent).
    const primary = (await this.#entry(f)) !== undefined;
    const subkeys = this.#db.getSync(subkeyKey(f));
    const out = primary ? [f] : [];
    for (const id of decodeIdList(subkeys)) {
      const text = decodeId(id);
      if (!out.includes(text)) out.push(text);
    }
    return out.slice(0, limit);
  }

  async findByToken(token: string, options: SearchOptions & { prefix?: boolean }): Promise<string[]> {
    this.#checkOpen();
    const t = token.toLowerCase();
    const limit = normaliseLimit(options.limit);
    if (!validName(t) || t.length > MAX_TOKEN_LENGTH || limit === 0) return [];
    if (!options.prefix) {
      // The head answers for a token few records hold (keys.ts); MANY_IDS sends to the range.
      const head = this.#db.getSync(tokenHeadKey(t));
      if (head === undefined) return [];
      if (!isMany(head)) return decodeIdList(head, limit).map((id) => decodeId(id));
      return this.#idsOf(await this.#docsIn(tokenRange(t), limit));
    }
    // One record may hold several tokens with this prefix: collect distinct record numbers.
    const docs = new Set<number>();
    await readBatches(this.#db.keys(tokenPrefixRange(t)), (keys) => {
      for (const key of keys) {
        docs.add(docOf(key));
        if (docs.size >= limit) return false;
      }
      return true;
    });
    return this.#idsOf([...docs]);
  }

  async #page(prefix: Buffer, options: ListOptions): Promise<string[]> {
    const limit = normaliseLimit(options.limit);
    if (limit === 0) return [];
    const bounds = range(prefix);
    const lower = options.after === undefined ? { gte: bounds.gte } : { gt: Buffer.concat([prefix, encodeIdBound(options.after)]) };
    const keys = await readAll(this.#db.keys({ ...lower, lt: bounds.lt, limit }));
    return keys.map((key) => decodeId(key, prefix.length));
  }

  async listDomain(domain: string, options: ListOptions): Promise<string[]> {
    this.#checkOpen();
    if (!validName(domain)) return [];
    return this.#page(domainPrefix(domain), options);
  }

  async listKind(kind: EntityKind, options: ListOptions): Promise<string[]> {
    this.#checkOpen();
    if (!KINDS.includes(kind)) return [];
    return this.#page(kindPrefix(kind), options);
  }

  async syncRange(domain: string, from: SyncBound, to: SyncBound | undefined, limit: number): Promise<SyncItem[]> {
    this.#checkOpen();
    return readSyncRange(this.#syncSet, domain, from, to, limit);
  }

  /** Reads a domain's sync-set items with keys (time, id) in [from, to). */
  #itemReader(domain: string): ItemReader {
    return syncItemReader(this.#syncSet, domain);
  }

  /** The domain's bucket index, built by the writer (so that no commit interleaves with the scan). */
  #bucketIndex(domain: string): Promise<BucketIndex> {
    return this.#buckets.index(domain, async () => {
      const started = performance.now();
      const saved = await this.#savedBucketIndex(domain);
      if (saved) {
        this.#onBucketIndex?.({ domain, source: 'saved', buckets: saved.bucketCount, ms: performance.now() - started });
        return saved;
      }
      try {
        const index = new BucketIndex();
        const load = index.loader();
        const prefix = syncPrefix(domain);
        const iterator = this.#db.iterator(range(prefix));
        try {
          for (;;) {
            const entries = await iterator.nextv(BUILD_STEP);
            if (entries.length === 0) break;
            load(entries.map(([key, value]) => ({ key: key.subarray(prefix.length), digest: value })));
          }
        } finally {
          await iterator.close();
        }
        this.#onBucketIndex?.({ domain, source: 'built', buckets: index.bucketCount, ms: performance.now() - started });
        return index;
      } catch (cause) {
        throw new IcsError('UNAVAILABLE', 'store read failed', { cause });
      }
    });
  }

  /**
   * The index saved when the store last closed, if nothing was written since: its event
   * sequence number must be the last one (every change of a sync set is an event), so a store
   * written by a process that did not save (killed, or one that never built this index)
   * rebuilds instead. A value that does not decode is rebuilt too.
   */
  async #savedBucketIndex(domain: string): Promise<BucketIndex | undefined> {
    let value: Buffer | undefined;
    try {
      value = await this.#db.get(bucketIndexKey(domain));
    } catch {
      return undefined;
    }
    if (value === undefined || value.length < 6 || readUint48(value, 0) !== this.#lastSeq) return undefined;
    return BucketIndex.decode(value.subarray(6));
  }

  /** Saves the built bucket indexes with the last event's number (see #savedBucketIndex); on close. */
  async #saveBucketIndexes(): Promise<void> {
    const ops: BatchOp[] = [];
    for (const [domain, index] of this.#buckets.built()) {
      const bytes = index.encode();
      if (bytes) ops.push({ type: 'put', key: bucketIndexKey(domain), value: Buffer.concat([uint48(this.#lastSeq), bytes]) });
    }
    if (ops.length === 0) return;
    try {
      await this.#batch(ops);
    } catch {
      // Not saved: the next start builds the index from the sync set, as without a saved one.
    }
  }

  async syncSummaries(domain: string, bounds: readonly SyncBound[], to: SyncBound | undefined): Promise<SyncSummary[]> {
    this.#checkOpen();
    if (!validName(domain)) return bounds.map(() => ({ count: 0, sum: new Uint8Array(32) }));
    const index = await this.#bucketIndex(domain);
    return index.summaries(bounds.map(boundKey), to && boundKey(to), this.#itemReader(domain));
  }

  async syncSplit(domain: string, from: SyncBound, to: SyncBound | undefined, parts: number): Promise<SyncPiece[]> {
    this.#checkOpen();
    if (!validName(domain)) return [{ from, count: 0, sum: new Uint8Array(32) }];
    const index = await this.#bucketIndex(domain);
    return index.split(boundKey(from), from, to && boundKey(to), parts, this.#itemReader(domain));
  }

  async changesSince(after: number, limit: number): Promise<ChangeEvent[]> {
    this.#checkOpen();
    const n = normaliseLimit(limit);
    const start = Number.isNaN(after) || after < 0 ? 0 : Math.floor(after);
    if (n === 0 || start >= MAX_SEQ) return [];
    const entries = await readAll(this.#db.iterator({ gt: eventKey(start), lt: range(Buffer.of(Space.event)).lt, limit: n }));
    return entries.map(([key, value]) => decodeEvent(readUint48(key, 1), value));
  }

  async history(id: string): Promise<ChangeEvent[]> {
    this.#checkOpen();
    const entry = await this.#entry(id);
    if (!entry) return [];
    const keys = await readAll(this.#db.keys(historyRange(entry.doc)));
    const seqs = keys.map((key) => readUint48(key, 1 + SEQ_BYTES));
    const values = await this.#read(seqs.map(eventKey));
    return values.map((value, i) => {
      if (!value) throw new IcsError('INTERNAL', `event ${seqs[i]} of ${id} is missing`);
      return decodeEvent(seqs[i] as number, value);
    });
  }

  async stats(): Promise<StoreStats> {
    this.#checkOpen();
    const byKind: Record<string, number> = {};
    let records = 0;
    for (const [kind, count] of this.#counts) {
      if (count > 0) byKind[kind] = count;
      records += count;
    }
    return { records, byKind, lastSeq: this.#lastSeq };
  }

  subscribe(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  // ---- certificate index (certificates.ts) ----------------------------------------------

  async getCertificate(serial: string): Promise<CertificateEntry | undefined> {
    this.#checkOpen();
    // Copies in and out: a caller never holds the cached entry's DER or dates.
    const hit = this.#certificates.get(serial);
    if (hit) return copyEntry(hit);
    const start = this.#certificateClock.now();
    const entry = await readCertificate(this.#db, serial);
    if (entry && this.#certificateClock.unchangedSince(start, serial)) this.#certificates.set(serial, copyEntry(entry));
    return entry;
  }

  async certificatesOf(recordId: string): Promise<CertificateEntry[]> {
    this.#checkOpen();
    return readCertificatesOf(this.#db, recordId);
  }

  async expiringBefore(time: Date, limit: number, after?: { readonly notAfter: Date; readonly serial: string }): Promise<CertificateEntry[]> {
    this.#checkOpen();
    return readExpiringBefore(this.#db, expiryBound(time), normaliseLimit(limit), after === undefined ? undefined : expiryCursor(after));
  }

  async revokedBy(issuer: string, limit: number, afterSerial?: string): Promise<CertificateEntry[]> {
    this.#checkOpen();
    return readRevokedBy(this.#db, issuer, normaliseLimit(limit), afterSerial === undefined ? undefined : checkAfterSerial(afterSerial));
  }

  async addCertificate(entry: CertificateEntry): Promise<void> {
    this.#checkOpen();
    const checked = checkCertificateEntry(entry);
    await this.#queueCertificateWrite(checked.serial, addition(checked));
  }

  async revokeCertificate(serial: string, revoked: CertificateRevocation): Promise<CertificateEntry> {
    this.#checkOpen();
    return this.#queueCertificateWrite(checkSerial(serial), revocation(serial, checkRevocation(revoked)));
  }

  /** Queues a checked certificate write behind the writes already issued; resolves once its batch is durable. */
  #queueCertificateWrite(serial: string, decide: CertificateDecision): Promise<CertificateEntry> {
    return this.#writer.certificate(serial, decide);
  }

  // ---- writes -------------------------------------------------------------------------

  write(request: WriteRequest): Promise<ChangeEvent> {
    let domains: string[];
    try {
      this.#checkOpen();
      domains = checkWriteRequest(request);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#writer.write(request, domains);
  }

  /** Current versions of the group's ids: the cache (always current for committed state), then one read. */
  async #load(group: readonly PendingWrite[]): Promise<Map<string, Current | undefined>> {
    const state = new Map<string, Current | undefined>();
    const misses: string[] = [];
    for (const { request } of group) {
      const id = request.record.id;
      if (state.has(id)) continue;
      const hit = this.#cache.get(id);
      state.set(id, hit ? { entry: hit, terms: undefined } : undefined);
      if (!hit) misses.push(id);
    }
    if (misses.length > 0) {
      const values = await this.#db.getMany(misses.map((id) => recordKey(encodeRecordId(id))));
      values.forEach((value, i) => {
        const id = misses[i] as string;
        if (value) state.set(id, { entry: decodeRecordValue(id, value), terms: undefined });
      });
    }
    return state;
  }

  async #commit(group: PendingWrite[], certificateWrites: PendingCertificateWrite[]): Promise<void> {
    let state: Map<string, Current | undefined>;
    let certificates: CertificateGroup;
    try {
      state = await this.#load(group);
      certificates = await certificateGroup(this.#db, certificateWrites);
    } catch (cause) {
      const error = new IcsError('UNAVAILABLE', 'store read failed', { cause });
      for (const p of group) p.reject(error);
      for (const p of certificateWrites) p.reject(error);
      return;
    }
    // Each write's entries are collected apart and joined to the batch only once the write is
    // accepted, so that a write refused half-way (by a derived structure too) leaves nothing behind.
    const ops: BatchOp[] = [];
    const lists: ListChange[] = [];
    const derived = new DerivedGroup(this.#db, this.#derived);
    const accepted: Array<{ pending: PendingWrite; event: ChangeEvent; entry: StoredEntry; previous: StoredRecord | undefined }> = [];
    const counts = new Map(this.#counts);
    const kindsChanged = new Set<EntityKind>();
    let seq = this.#lastSeq;
    for (const pending of group) {
      const { request } = pending;
      const { record } = request;
      try {
        const current = state.get(record.id);
        const previous = current?.entry.stored;
        checkExpected(request, previous?.digest);
        if (current && !current.terms) current.terms = indexTermsOf(await reviveRecord(current.entry.stored.bytes));
        if (seq >= MAX_SEQ) throw new IcsError('LIMIT_EXCEEDED', 'event sequence exhausted');
        const at = new Date();
        const event = changeEvent(seq + 1, at, request, pending.domains, previous?.digest);
        const entry: StoredEntry = {
          doc: current?.entry.doc ?? event.seq,
          stored: freezeStored({
            id: record.id,
            kind: record.kind,
            // The caller's buffer: copied into the batch below, and copied again only if the
            // entry is cached (the caller may reuse its buffer).
            bytes: record.bytes,
            digest: record.digest,
            domains: pending.domains,
            contentTime: new Date(contentTime(record)),
            updated: at,
            seq: event.seq,
          }),
        };
        const next: Version = { entry, terms: indexTermsOf(record) };
        const mine = writeOps(encodeRecordId(record.id), current ? { entry: current.entry, terms: current.terms as IndexTerms } : undefined, next, event);
        const collected = derived.collect({ record, before: previous, after: entry.stored, event });
        const derivedOps = Array.isArray(collected) ? collected : await collected;
        // Accepted: from here on nothing throws.
        seq = event.seq;
        for (const op of mine.ops) ops.push(op);
        derived.accept(derivedOps, ops);
        for (const change of mine.lists) lists.push(change);
        if (previous?.kind !== record.kind) {
          if (previous) counts.set(previous.kind, (counts.get(previous.kind) ?? 0) - 1);
          counts.set(record.kind, (counts.get(record.kind) ?? 0) + 1);
          if (previous) kindsChanged.add(previous.kind);
          kindsChanged.add(record.kind);
        }
        state.set(record.id, { entry, terms: next.terms });
        accepted.push({ pending, event, entry, previous });
      } catch (error) {
        pending.reject(error);
      }
    }
    if (accepted.length === 0 && certificates.ops.length === 0) {
      certificates.settle();
      return;
    }
    for (const op of certificates.ops) ops.push(op);
    for (const kind of kindsChanged) ops.push({ type: 'put', key: countKey(kind), value: uint48(counts.get(kind) ?? 0) });
    try {
      // Key-id and subkey lists: read once for the group, rewritten with all its changes.
      if (lists.length > 0) {
        const keys = listKeys(lists);
        for (const op of listOps(lists, keys, await this.#db.getMany(keys))) ops.push(op);
      }
      await this.#batch(ops);
    } catch (cause) {
      const error = new IcsError('UNAVAILABLE', 'store write failed', { cause });
      for (const a of accepted) a.pending.reject(error);
      certificates.fail(error);
      return;
    }
    this.#lastSeq = seq;
    this.#counts = counts;
    if (this.#buckets.size > 0) await this.#updateBuckets(accepted);
    const ids = new Set<string>();
    for (const a of accepted) {
      // Cached versions are replaced; others are not added: a bulk import would otherwise
      // push the hot records out with records nobody has asked for.
      if (this.#cache.get(a.entry.stored.id)) this.#cache.set(a.entry.stored.id, ownedEntry(a.entry));
      ids.add(a.entry.stored.id);
    }
    // A batch of certificate writes alone changed no record: cached reads stay current.
    if (ids.size > 0) this.#clock.committed(ids);
    for (const id of ids) this.#recent.delete(id);
    if (certificates.changed.size > 0) {
      for (const [serial, entry] of certificates.changed) this.#certificates.set(serial, copyEntry(entry));
      this.#certificateClock.committed(new Set(certificates.changed.keys()));
    }
    for (const a of accepted) this.#listeners.emit(a.event);
    for (const a of accepted) a.pending.resolve(a.event);
    certificates.settle();
  }

  /** Brings the built bucket indexes in step with a committed group (same order as its writes). */
  async #updateBuckets(accepted: ReadonlyArray<{ entry: StoredEntry; previous: StoredRecord | undefined }>): Promise<void> {
    const touched = new Set<string>();
    for (const { entry, previous } of accepted) {
      const idKey = encodeRecordId(entry.stored.id);
      if (previous) {
        const key = Buffer.concat([time64(previous.contentTime.getTime()), idKey]);
        const digest = Buffer.from(previous.digest, 'hex');
        for (const d of previous.domains) this.#buckets.get(d)?.remove(key, digest);
      }
      const key = Buffer.concat([time64(entry.stored.contentTime.getTime()), idKey]);
      const digest = Buffer.from(entry.stored.digest, 'hex');
      for (const d of entry.stored.domains) {
        const index = this.#buckets.get(d);
        if (!index) continue;
        index.add(key, digest);
        touched.add(d);
      }
    }
    for (const d of touched) {
      const index = this.#buckets.get(d);
      if (!index?.unsettled) continue;
      try {
        await index.settle(this.#itemReader(d));
      } catch {
        // A failed read leaves the index short of a bucket: drop it, the next request rebuilds it.
        this.#buckets.delete(d);
      }
    }
  }

  /**
   * Commits one batch. abstract-level's public array form copies every entry into a new
   * object (~5 µs each: bulk import would spend most of its time there); its chained form is
   * fast but leaves each native batch to the garbage collector (classic-level's own TODO),
   * which does not see its size. classic-level's own `_batch` takes the array as it is and
   * frees the native batch once written. Keys and values are Buffers already, so
   * the encoding step it skips has nothing to do; hooks and events are not used here.
   */
  async #batch(ops: readonly BatchOp[]): Promise<void> {
    const sync = this.#options.syncWrites;
    const direct = (this.#db as unknown as { _batch?: (ops: readonly BatchOp[], options: object) => Promise<void> })._batch;
    if (typeof direct === 'function') await direct.call(this.#db, ops, { sync });
    else await this.#db.batch(ops as BatchOp[], { sync });
  }

  /**
   * Every key and value of the database as of one moment (a LevelDB iterator reads from a
   * snapshot; writes go on meanwhile), in batches: what `ics backup` saves. Loaded into an
   * empty directory (loadSnapshot) they make the same store, indexes and logs included.
   */
  snapshot(): AsyncGenerator<Array<[Buffer, Buffer]>> {
    this.#checkOpen();
    return steps(this.#db.iterator());
  }

  /** Waits for queued writes, then closes the database. Later calls fail with UNAVAILABLE. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer.idle();
    await this.#saveBucketIndexes();
    this.#listeners.clear();
    this.#cache.clear();
    this.#recent.clear();
    this.#seen.clear();
    this.#buckets.clear();
    await this.#db.close();
  }
}

/** Entries written per batch when a snapshot is loaded: a few MB. */
const LOAD_BATCH = 2048;

/**
 * Writes a snapshot's entries (LevelStore.snapshot, as `ics restore` reads them from a backup)
 * into a new database at `path`, which must not hold one. Refused, with nothing left behind,
 * when the entries are not an ICS store this version reads.
 */
export async function loadSnapshot(path: string, batches: AsyncIterable<Array<[Buffer, Buffer]>>): Promise<{ entries: number }> {
  const db: Db = new ClassicLevel<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer', errorIfExists: true });
  let entries = 0;
  let format: Buffer | undefined;
  const formatKey = metaKey('format');
  try {
    await db.open();
    for await (const batch of batches) {
      for (let i = 0; i < batch.length; i += LOAD_BATCH) {
        const part = batch.slice(i, i + LOAD_BATCH);
        for (const [key, value] of part) if (key.equals(formatKey)) format = value;
        await db.batch(part.map(([key, value]) => ({ type: 'put' as const, key, value })));
        entries += part.length;
      }
    }
    if (!format) throw new IcsError('BAD_REQUEST', 'the snapshot holds no ICS store (no format entry)');
    if (!loadableFormat(format[0] as number)) throw new IcsError('UNAVAILABLE', `the snapshot is of store format ${format[0]}; this version reads ${STORE_FORMAT}`);
    await db.close();
    return { entries };
  } catch (error) {
    await db.close().catch(() => undefined);
    await rm(path, { recursive: true, force: true });
    throw error;
  }
}

/** Opens (creating when missing) a LevelDB store. */
export function openLevelStore(init: LevelStoreInit): Promise<LevelStore> {
  return LevelStore.open(init);
}
