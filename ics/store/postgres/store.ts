// The PostgreSQL RecordStore (DESIGN §8: several node processes on one database). Tables as
// migrations/ lays out; ordered keys in the shared byte encodings, so that every answer comes
// in the LevelDB store's order.
//
// Writes: one queue per process, drained in groups; each group is ONE transaction that first
// locks the `last_seq` row. That lock orders writers across processes, so seqs are gapless and
// committed in order (a reader of the log never sees seq n+1 before n), and each group's
// compare-and-sets are checked against a state no other writer changes until it commits.
// Records, indexes, derived structures' entries (the sync set's first), events, certificate
// writes and a NOTIFY of the last seq commit together; listeners run after the commit.
//
// Change feed: each process also learns of other processes' writes, from a dedicated LISTEN
// connection and a periodic read of the event log (which heals a missed notification), and
// calls its listeners for them in seq order, so that sync and caches above the store work as
// on one process. The per-domain bucket indexes of the sync set (fingerprint.ts) are kept in
// memory as the LevelDB store keeps them, moved by every event, own or not.
import pg from 'pg';
import { IcsError } from '../../errors.ts';
import type { EntityKind } from '../../record/index.ts';
import {
  addition,
  type CertificateDecision,
  checkAfterSerial,
  checkCertificateEntry,
  checkRevocation,
  checkSerial,
  expiryBound,
  expiryCursor,
  isIssuer,
  revocation,
} from '../certificate-rules.ts';
import type { CertificateEntry, CertificateRevocation } from '../certificates.ts';
import { type ChangeListener, changeEvent, checkExpected, checkWriteRequest, closedError, freezeStored, Listeners, normaliseLimit } from '../change.ts';
import { type DerivedReader, type DerivedStructure, derivedStructures } from '../derived.ts';
import { BucketIndex, boundKey, type ItemReader, itemKey, type SyncBound, type SyncPiece, type SyncSummary } from '../fingerprint.ts';
import { BucketIndexes, type PendingCertificateWrite, type PendingWrite, WriteQueue } from '../write-queue.ts';
import { decodeId, encodeId, encodeIdBound, isRecordId } from '../ids.ts';
import { contentTime, MAX_TOKEN_LENGTH } from '../indexing.ts';
import { encodeSerial, isSerial } from '../serials.ts';
import { isDomainName, readSyncRange, SYNC_SET, syncDomainPrefix, syncItemReader, syncSet } from '../sync-set.ts';
import { prefixEnd } from '../derived.ts';
import type { ChangeEvent, ListOptions, RecordStore, SearchOptions, StoredRecord, StoreStats, SyncItem, SyncRole, WriteRequest } from '../types.ts';
import {
  CERTIFICATE_COLUMNS,
  type CertificateRow,
  decodeCertificate,
  decodeEvent,
  decodeRecord,
  EVENT_COLUMNS,
  type EventRow,
  type LoggedEvent,
  RECORD_COLUMNS,
  type RecordRow,
} from './codec.ts';
import { DerivedGroup, derivedReader, readRows } from './derived.ts';
import {
  type Accepted,
  type CertificateOutcome,
  decideCertificates,
  FINGERPRINT,
  KEY_ID,
  loadVersions,
  TOKEN,
  utf8,
  writeRecords,
} from './write.ts';
import { CHANGE_CHANNEL, describeUrl, type PostgresStoreInit, type ResolvedPostgresOptions, resolveOptions } from './options.ts';
import { PostgresSyncRole } from './role.ts';
import { currentSchemaVersion, migrate } from './schema.ts';

type Pool = pg.Pool;
type PoolClient = pg.PoolClient;

/** Writes per commit group at most: one transaction's statements stay a few MB of parameters. */
const MAX_GROUP_WRITES = 256;
/** Events read per step by the change feed and the derived structures' catch-up. */
const EVENT_PAGE = 1000;
/** Sync-set entries read per step when a domain's bucket index is built. */
const BUILD_STEP = 10_000;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX40 = /^[0-9a-f]{40}$/;
const LOCK_WRITERS = "SELECT value FROM ics_meta WHERE name = 'last_seq' FOR UPDATE";

function unreachable(what: string, url: string, cause: unknown): IcsError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new IcsError('UNAVAILABLE', `PostgreSQL ${what} at ${describeUrl(url)} cannot be used: ${why}`, { cause, details: { reason: 'unreachable' } });
}

function newPool(url: string, options: ResolvedPostgresOptions): Pool {
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize, connectionTimeoutMillis: options.connectTimeoutMs });
  // An idle connection that breaks (a database restart) is dropped by the pool; the next query reports.
  pool.on('error', () => {});
  return pool;
}

async function tryConnect(pool: Pool, what: string, url: string): Promise<PoolClient> {
  try {
    return await pool.connect();
  } catch (cause) {
    throw unreachable(what, url, cause);
  }
}

export class PostgresStore implements RecordStore {
  readonly #pool: Pool;
  /** Where lookups go: the replica's pool, or the primary's. */
  readonly #replica: Pool | undefined;
  /** WAL position of this process's last commit (0: none yet): lookups go to the primary until the replica has replayed it. */
  #writtenLsn = 0n;
  /** The replica's replay position as last read, and the read in flight. */
  #replayedLsn = 0n;
  #replayRead: Promise<void> | undefined;
  readonly #options: ResolvedPostgresOptions;
  readonly #listeners: Listeners;
  /** Derived structures written with every record: the sync set, then those registered. */
  readonly #derived: readonly DerivedStructure[];
  readonly #syncSet: DerivedReader;
  /** Record and certificate writes in call order, committed in groups (one transaction each); between groups, feed reads and index builds. */
  readonly #writer: WriteQueue;
  /**
   * The last seq whose event this process has taken in: its listeners were called and its bucket
   * indexes moved for every event up to it (own commits and other processes' alike).
   */
  #seen: number;
  #closed = false;
  /** Per-domain bucket indexes of the sync set, built on a domain's first summary request. */
  readonly #buckets: BucketIndexes;
  /** The dedicated LISTEN connection (absent while reconnecting, or on an engine without LISTEN). */
  #listener: pg.Client | undefined;
  /** False on an engine without LISTEN/NOTIFY (CockroachDB): the feed then polls only, and writes do not notify. */
  #notify = true;
  #poll: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #feedQueued: Promise<void> | undefined;
  /** Contenders for the sync role made by syncRole(), given up at close. */
  readonly #roles = new Set<PostgresSyncRole>();

  private constructor(pool: Pool, replica: Pool | undefined, options: ResolvedPostgresOptions, derived: readonly DerivedStructure[], lastSeq: number, init: PostgresStoreInit) {
    this.#pool = pool;
    this.#replica = replica;
    this.#options = options;
    this.#derived = derived;
    this.#writer = new WriteQueue((writes, certificates) => this.#commit(writes, certificates), MAX_GROUP_WRITES);
    this.#buckets = new BucketIndexes(this.#writer);
    this.#seen = lastSeq;
    this.#listeners = new Listeners(init.onListenerError);
    this.#syncSet = derivedReader(pool, SYNC_SET);
    for (const structure of derived) structure.attach?.(derivedReader(pool, structure.name, () => this.#checkOpen()));
  }

  /**
   * Opens the store on the database `init.url` names, creating or migrating its schema.
   * CONFIG_INVALID for a bad URL; UNAVAILABLE (details.reason: `unreachable`, `schema-foreign`,
   * `schema-newer`) for a database that cannot be reached or is not one this version may use.
   * Nothing stays open when it fails.
   */
  static async open(init: PostgresStoreInit): Promise<PostgresStore> {
    const options = resolveOptions(init);
    const derived = derivedStructures([syncSet], init.derived);
    const pool = newPool(options.url, options);
    const replica = options.replicaUrl === undefined ? undefined : newPool(options.replicaUrl, options);
    let store: PostgresStore | undefined;
    try {
      const client = await tryConnect(pool, 'database', options.url);
      let lastSeq: number;
      try {
        await migrate(client);
        const { rows } = await client.query<{ value: string }>("SELECT value FROM ics_meta WHERE name = 'last_seq'");
        lastSeq = Number(rows[0]?.value ?? 0);
      } finally {
        client.release();
      }
      if (replica) await checkReplica(replica, options.replicaUrl as string);
      store = new PostgresStore(pool, replica, options, derived, lastSeq, init);
      await store.#catchUp();
      await store.#startFeed();
      return store;
    } catch (error) {
      if (store) await store.close().catch(() => undefined);
      else await Promise.all([pool.end(), replica?.end()]).catch(() => undefined);
      throw error;
    }
  }

  get options(): ResolvedPostgresOptions {
    return this.#options;
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError();
  }

  // ---- derived structures added to a store that holds records --------------------------------

  /**
   * Brings each derived structure that has not seen the whole event log up to it, as the LevelDB
   * store does: one with `replay` gets every earlier event, a page per transaction with its
   * progress (so a crash resumes where it stopped); one without is marked current. Each page
   * holds the writers' lock, so two processes opening with a new structure replay it once.
   */
  async #catchUp(): Promise<void> {
    for (let i = 0; i < this.#derived.length; i++) {
      const structure = this.#derived[i] as DerivedStructure;
      for (let done = false; !done; ) {
        done = await this.#transaction(async (client) => {
          const last = Number((await client.query<{ value: string }>(LOCK_WRITERS)).rows[0]?.value ?? 0);
          const { rows } = await client.query<{ after: string; done: boolean }>('SELECT after, done FROM ics_derived_state WHERE structure = $1', [structure.name]);
          if (rows[0]?.done) return true;
          let after = Number(rows[0]?.after ?? 0);
          if (structure.replay && after < last) {
            const events = await this.#events(client, after, Math.min(last, after + EVENT_PAGE));
            const group = new DerivedGroup(client, this.#derived);
            for (const { event } of events) group.accept(await group.replayed(i, event));
            await group.write();
            after = events.at(-1)?.event.seq ?? last;
          } else {
            after = last;
          }
          const finished = after >= last;
          await client.query(
            `INSERT INTO ics_derived_state (structure, after, done) VALUES ($1, $2, $3)
             ON CONFLICT (structure) DO UPDATE SET after = excluded.after, done = excluded.done`,
            [structure.name, after, finished],
          );
          return finished;
        });
      }
    }
  }

  /** Runs `work` in one transaction on a primary connection; rolls back when it throws. */
  async #transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await tryConnect(this.#pool, 'database', this.#options.url);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Logged events with seq in (after, upTo], oldest first. */
  async #events(client: PoolClient | Pool, after: number, upTo: number): Promise<LoggedEvent[]> {
    const { rows } = await client.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ics_event WHERE seq > $1 AND seq <= $2 ORDER BY seq`, [after, upTo]);
    return rows.map(decodeEvent);
  }

  // ---- reads ----------------------------------------------------------------------------

  /**
   * Where a lookup goes: the replica, unless this process wrote something the replica has not
   * replayed yet — then the primary, so that a read right after a write (the CLI and admin
   * API's) finds it. The replica's position is read again in the background meanwhile.
   */
  #lookups(): Pool {
    const replica = this.#replica;
    if (!replica || this.#replayedLsn >= this.#writtenLsn) return replica ?? this.#pool;
    if (this.#replayRead === undefined) {
      this.#replayRead = replica
        .query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')
        .then((r) => {
          this.#replayedLsn = parseLsn(r.rows[0]?.lsn);
        })
        .catch(() => undefined)
        .finally(() => {
          this.#replayRead = undefined;
        });
    }
    return this.#pool;
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    this.#checkOpen();
    const key = encodeId(id);
    if (!key) return undefined;
    const rows = await readRows(() => this.#lookups().query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM ics_record WHERE id_key = $1`, [key]));
    return rows[0] && decodeRecord(rows[0]).stored;
  }

  async getMany(ids: readonly string[]): Promise<Array<StoredRecord | undefined>> {
    this.#checkOpen();
    const keys = ids.map((id) => encodeId(id)).filter((key): key is Buffer => key !== undefined);
    if (keys.length === 0) return ids.map(() => undefined);
    const rows = await readRows(() => this.#lookups().query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM ics_record WHERE id_key = ANY($1::bytea[])`, [keys]));
    const found = new Map(rows.map((row) => [row.id, decodeRecord(row).stored]));
    return ids.map((id) => found.get(id));
  }

  async #ids(sql: string, params: unknown[]): Promise<string[]> {
    const rows = await readRows(() => this.#lookups().query<{ id: string }>(sql, params));
    return rows.map((r) => r.id);
  }

  async findByKeyId(keyId: string, options: SearchOptions): Promise<string[]> {
    this.#checkOpen();
    const k = keyId.toLowerCase();
    const limit = normaliseLimit(options.limit);
    if (!HEX16.test(k) || limit === 0) return [];
    return this.#ids('SELECT id FROM ics_term WHERE class = $1 AND term = $2 ORDER BY doc LIMIT $3', [KEY_ID, utf8(k), limit]);
  }

  async findByFingerprint(fingerprint: string, options: SearchOptions): Promise<string[]> {
    this.#checkOpen();
    const f = fingerprint.toLowerCase();
    const limit = normaliseLimit(options.limit);
    if (!HEX40.test(f) || limit === 0) return [];
    // The record whose primary key it is (its id) first, then those holding it as a subkey.
    return this.#ids('SELECT id FROM ics_term WHERE class = $1 AND term = $2 ORDER BY CASE WHEN id = $3 THEN 0 ELSE 1 END, doc LIMIT $4', [
      FINGERPRINT,
      utf8(f),
      f,
      limit,
    ]);
  }

  async findByToken(token: string, options: SearchOptions & { prefix?: boolean }): Promise<string[]> {
    this.#checkOpen();
    const t = token.toLowerCase();
    const limit = normaliseLimit(options.limit);
    if (t.length === 0 || t.includes('\0') || t.length > MAX_TOKEN_LENGTH || limit === 0) return [];
    const term = utf8(t);
    if (!options.prefix) return this.#ids('SELECT id FROM ics_term WHERE class = $1 AND term = $2 ORDER BY doc LIMIT $3', [TOKEN, term, limit]);
    // By token, then oldest first; one record may hold several tokens with the prefix: distinct ids, read in pages.
    const end = prefixEnd(term);
    const out = new Set<string>();
    let cursor: { term: Buffer; doc: string } | undefined;
    for (;;) {
      const params: unknown[] = [TOKEN, term, end ?? Buffer.alloc(0), end === undefined, limit];
      let sql = 'SELECT term, doc, id FROM ics_term WHERE class = $1 AND term >= $2 AND ($4 OR term < $3)';
      if (cursor) sql += ` AND (term > $${params.push(cursor.term)} OR (term = $${params.length} AND doc > $${params.push(cursor.doc)}))`;
      sql += ' ORDER BY term, doc LIMIT $5';
      const rows = await readRows(() => this.#lookups().query<{ term: Buffer; doc: string; id: string }>(sql, params));
      for (const row of rows) {
        out.add(row.id);
        if (out.size >= limit) return [...out];
      }
      if (rows.length < limit) return [...out];
      const last = rows.at(-1) as { term: Buffer; doc: string };
      cursor = { term: last.term, doc: last.doc };
    }
  }

  async listDomain(domain: string, options: ListOptions): Promise<string[]> {
    this.#checkOpen();
    const limit = normaliseLimit(options.limit);
    if (!isDomainName(domain) || limit === 0) return [];
    const params: unknown[] = [domain, limit];
    const after = options.after === undefined ? '' : ` AND id_key > $${params.push(encodeIdBound(options.after))}`;
    const rows = await readRows(() =>
      this.#lookups().query<{ id_key: Buffer }>(`SELECT id_key FROM ics_record_domain WHERE domain = $1${after} ORDER BY id_key LIMIT $2`, params),
    );
    return rows.map((r) => decodeId(r.id_key));
  }

  async listKind(kind: EntityKind, options: ListOptions): Promise<string[]> {
    this.#checkOpen();
    const limit = normaliseLimit(options.limit);
    if (limit === 0) return [];
    const params: unknown[] = [kind, limit];
    const after = options.after === undefined ? '' : ` AND id_key > $${params.push(encodeIdBound(options.after))}`;
    return this.#ids(`SELECT id FROM ics_record WHERE kind = $1${after} ORDER BY id_key LIMIT $2`, params);
  }

  // ---- sync set (reads go to the primary: sync compares what this node holds now) -----------

  async syncRange(domain: string, from: SyncBound, to: SyncBound | undefined, limit: number): Promise<SyncItem[]> {
    this.#checkOpen();
    return readSyncRange(this.#syncSet, domain, from, to, limit);
  }

  #itemReader(domain: string): ItemReader {
    return syncItemReader(this.#syncSet, domain);
  }

  /** An item reader inside a transaction (it sees that transaction's own writes). */
  #itemReaderIn(client: PoolClient, domain: string): ItemReader {
    const prefix = syncDomainPrefix(domain);
    const end = prefixEnd(prefix) as Buffer;
    return async (from, to) => {
      const { rows } = await client.query<{ key: Buffer; value: Buffer }>(
        'SELECT key, value FROM ics_derived WHERE structure = $1 AND key >= $2 AND key < $3 ORDER BY key',
        [SYNC_SET, Buffer.concat([prefix, from]), to ? Buffer.concat([prefix, to]) : end],
      );
      return rows.map((r) => ({ key: r.key.subarray(prefix.length), digest: r.value }));
    };
  }

  /**
   * The domain's bucket index, current with the event log as of the call: events other
   * processes committed are taken in first (a summary right after another process's write
   * counts it). Built, when missing, by the writer under the writers' lock.
   */
  async #bucketIndex(domain: string): Promise<BucketIndex> {
    const rows = await readRows(() => this.#pool.query<{ value: string }>("SELECT value FROM ics_meta WHERE name = 'last_seq'"));
    if (Number(rows[0]?.value ?? 0) > this.#seen) await this.#readFeed();
    return this.#buckets.index(domain, async () => {
      try {
        return await this.#transaction(async (client) => {
          await this.#takeIn(client, Number((await client.query<{ value: string }>(LOCK_WRITERS)).rows[0]?.value ?? 0));
          return buildIndex(client, domain);
        });
      } catch (cause) {
        throw new IcsError('UNAVAILABLE', 'store read failed', { cause });
      }
    });
  }

  async syncSummaries(domain: string, bounds: readonly SyncBound[], to: SyncBound | undefined): Promise<SyncSummary[]> {
    this.#checkOpen();
    if (!isDomainName(domain)) return bounds.map(() => ({ count: 0, sum: new Uint8Array(32) }));
    const index = await this.#bucketIndex(domain);
    return index.summaries(bounds.map(boundKey), to && boundKey(to), this.#itemReader(domain));
  }

  async syncSplit(domain: string, from: SyncBound, to: SyncBound | undefined, parts: number): Promise<SyncPiece[]> {
    this.#checkOpen();
    if (!isDomainName(domain)) return [{ from, count: 0, sum: new Uint8Array(32) }];
    const index = await this.#bucketIndex(domain);
    return index.split(boundKey(from), from, to && boundKey(to), parts, this.#itemReader(domain));
  }

  /** Moves the built bucket indexes by one event (remove the previous version's items, add the new). */
  #moveBuckets(logged: LoggedEvent): Set<string> {
    const touched = new Set<string>();
    if (this.#buckets.size === 0) return touched;
    const { event, previous } = logged;
    if (previous && event.previousDigest !== undefined) {
      const key = itemKey(previous.contentTime, event.id) as Buffer;
      const digest = Buffer.from(event.previousDigest, 'hex');
      for (const d of previous.domains) this.#buckets.get(d)?.remove(key, digest);
    }
    const key = itemKey(logged.contentTime, event.id) as Buffer;
    const digest = Buffer.from(event.digest, 'hex');
    for (const d of event.domains) {
      const index = this.#buckets.get(d);
      if (!index) continue;
      index.add(key, digest);
      touched.add(d);
    }
    return touched;
  }

  /**
   * Takes in the events other processes committed up to `upTo`, inside a transaction holding the
   * writers' lock (so that the committed set is exactly the log up to `upTo`): bucket indexes
   * moved and settled against it, listeners called.
   */
  async #takeIn(client: PoolClient, upTo: number): Promise<void> {
    while (this.#seen < upTo) {
      const events = await this.#events(client, this.#seen, Math.min(upTo, this.#seen + EVENT_PAGE));
      if (events.length === 0) throw new IcsError('INTERNAL', `the event log has no event after ${this.#seen} up to ${upTo}`);
      const touched = new Set<string>();
      for (const logged of events) for (const d of this.#moveBuckets(logged)) touched.add(d);
      await this.#settle(client, touched);
      for (const { event } of events) {
        this.#seen = event.seq;
        this.#listeners.emit(event);
      }
    }
  }

  async #settle(client: PoolClient, domains: Iterable<string>): Promise<void> {
    for (const d of domains) {
      const index = this.#buckets.get(d);
      if (!index?.unsettled) continue;
      try {
        await index.settle(this.#itemReaderIn(client, d));
      } catch {
        // A failed read leaves the index short of a bucket: drop it, the next request rebuilds it.
        this.#buckets.delete(d);
      }
    }
  }

  /**
   * The change feed: takes in events other processes committed since the last one seen, without
   * the writers' lock (the log is gapless and committed in seq order, so what a read finds is a
   * prefix of it). A bucket index that would need a read to split is dropped instead: a read
   * outside the lock could see later items than the events taken in so far.
   */
  #readFeed(): Promise<void> {
    if (this.#feedQueued) return this.#feedQueued;
    const queued = new Promise<void>((resolve) => {
      this.#writer.task(async () => {
        this.#feedQueued = undefined;
        try {
          for (;;) {
            const events = await this.#events(this.#pool, this.#seen, this.#seen + EVENT_PAGE);
            for (const logged of events) {
              for (const d of this.#moveBuckets(logged)) if (this.#buckets.get(d)?.unsettled) this.#buckets.delete(d);
              this.#seen = logged.event.seq;
              this.#listeners.emit(logged.event);
            }
            if (events.length < EVENT_PAGE) break;
          }
        } catch {
          // The database is unreachable for now: the next notification or poll reads again.
        } finally {
          resolve();
        }
      });
    });
    this.#feedQueued = queued;
    return queued;
  }

  /** Listens on CHANGE_CHANNEL and polls; on an engine without LISTEN the poll alone feeds. */
  async #startFeed(): Promise<void> {
    await this.#listen();
    this.#poll = setInterval(() => {
      if (!this.#closed) void this.#readFeed();
    }, this.#options.pollIntervalMs);
    this.#poll.unref();
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#options.url, connectionTimeoutMillis: this.#options.connectTimeoutMs });
    const lost = () => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.end().catch(() => undefined);
      if (this.#closed) return;
      // Reconnect after a poll interval; the poll meanwhile keeps the feed going.
      this.#reconnect = setTimeout(() => void this.#listen().catch(() => lost()), this.#options.pollIntervalMs);
      this.#reconnect.unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === CHANGE_CHANNEL && Number(message.payload) > this.#seen && !this.#closed) void this.#readFeed();
    });
    this.#listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (error) {
      if ((error as { code?: unknown }).code === '0A000') {
        // feature_not_supported: no LISTEN here (CockroachDB); the poll feeds alone.
        this.#notify = false;
        this.#listener = undefined;
        await client.end().catch(() => undefined);
        return;
      }
      lost();
      return;
    }
    // Anything committed while the connection was down is read now.
    if (!this.#closed) void this.#readFeed();
  }

  // ---- the event log --------------------------------------------------------------------

  async changesSince(after: number, limit: number): Promise<ChangeEvent[]> {
    this.#checkOpen();
    const n = normaliseLimit(limit);
    const start = Number.isNaN(after) || after < 0 ? 0 : Math.floor(after);
    if (n === 0) return [];
    const rows = await readRows(() => this.#pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ics_event WHERE seq > $1 ORDER BY seq LIMIT $2`, [start, n]));
    return rows.map((row) => decodeEvent(row).event);
  }

  async history(id: string): Promise<ChangeEvent[]> {
    this.#checkOpen();
    if (!isRecordId(id)) return [];
    const rows = await readRows(() => this.#pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ics_event WHERE id = $1 ORDER BY seq`, [id]));
    return rows.map((row) => decodeEvent(row).event);
  }

  subscribe(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  async stats(): Promise<StoreStats> {
    this.#checkOpen();
    const rows = await readRows(() => this.#pool.query<{ name: string; value: string }>("SELECT name, value FROM ics_meta WHERE name = 'last_seq' OR name LIKE 'count:%'"));
    const byKind: Record<string, number> = {};
    let records = 0;
    let lastSeq = 0;
    for (const { name, value } of rows) {
      const n = Number(value);
      if (name === 'last_seq') lastSeq = n;
      else if (n > 0) {
        byKind[name.slice('count:'.length)] = n;
        records += n;
      }
    }
    return { records, byKind, lastSeq };
  }

  // ---- certificate index (certificates.ts) ------------------------------------------------

  /** Certificate reads go to the primary: OCSP and CRLs must show a revocation at once. */
  async #certificates(sql: string, params: unknown[]): Promise<CertificateEntry[]> {
    const rows = await readRows(() => this.#pool.query<CertificateRow>(sql, params));
    return rows.map(decodeCertificate);
  }

  async getCertificate(serial: string): Promise<CertificateEntry | undefined> {
    this.#checkOpen();
    if (!isSerial(serial)) return undefined;
    return (await this.#certificates(`SELECT ${CERTIFICATE_COLUMNS} FROM ics_certificate WHERE serial_key = $1`, [encodeSerial(serial)]))[0];
  }

  async certificatesOf(recordId: string): Promise<CertificateEntry[]> {
    this.#checkOpen();
    if (!isRecordId(recordId)) return [];
    return this.#certificates(`SELECT ${CERTIFICATE_COLUMNS} FROM ics_certificate WHERE record_id = $1 ORDER BY issued_at, serial_key`, [recordId]);
  }

  async expiringBefore(time: Date, limit: number, after?: { readonly notAfter: Date; readonly serial: string }): Promise<CertificateEntry[]> {
    this.#checkOpen();
    const before = expiryBound(time);
    const cursor = after === undefined ? undefined : expiryCursor(after);
    const n = normaliseLimit(limit);
    if (n === 0) return [];
    const params: unknown[] = [before, n];
    let from = '';
    if (cursor?.serial === '') from = ` AND not_after >= $${params.push(cursor.notAfter)}`;
    else if (cursor) from = ` AND (not_after > $${params.push(cursor.notAfter)} OR (not_after = $${params.length} AND serial_key > $${params.push(encodeSerial(cursor.serial))}))`;
    return this.#certificates(`SELECT ${CERTIFICATE_COLUMNS} FROM ics_certificate WHERE not_after < $1${from} ORDER BY not_after, serial_key LIMIT $2`, params);
  }

  async revokedBy(issuer: string, limit: number, afterSerial?: string): Promise<CertificateEntry[]> {
    this.#checkOpen();
    const from = afterSerial === undefined ? undefined : checkAfterSerial(afterSerial);
    const n = normaliseLimit(limit);
    if (n === 0 || !isIssuer(issuer)) return [];
    const params: unknown[] = [issuer, n];
    const after = from === undefined ? '' : ` AND serial_key > $${params.push(encodeSerial(from))}`;
    return this.#certificates(`SELECT ${CERTIFICATE_COLUMNS} FROM ics_certificate WHERE issuer = $1 AND revoked_at IS NOT NULL${after} ORDER BY serial_key LIMIT $2`, params);
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

  #queueCertificateWrite(serial: string, decide: CertificateDecision): Promise<CertificateEntry> {
    return this.#writer.certificate(serial, decide);
  }

  // ---- the sync role (role.ts) ----------------------------------------------------------

  /** A contender for the sync role among the processes on this database: an advisory lock on a connection of its own. */
  syncRole(): SyncRole {
    this.#checkOpen();
    const role = new PostgresSyncRole({ url: this.#options.url, connectTimeoutMs: this.#options.connectTimeoutMs, retryMs: this.#options.syncRoleRetryMs });
    this.#roles.add(role);
    return role;
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

  async #commit(group: PendingWrite[], certificateWrites: PendingCertificateWrite[]): Promise<void> {
    const accepted: Accepted[] = [];
    const certificateOutcomes: CertificateOutcome[] = [];
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (cause) {
      const error = unreachable('database', this.#options.url, cause);
      for (const p of group) p.reject(error);
      for (const p of certificateWrites) p.reject(error);
      return;
    }
    let seq = 0;
    let touched = new Set<string>();
    try {
      await client.query('BEGIN');
      const last = Number((await client.query<{ value: string }>(LOCK_WRITERS)).rows[0]?.value ?? 0);
      // What other processes committed before this group took the lock comes first, in seq order.
      await this.#takeIn(client, last);
      seq = last;
      const state = await loadVersions(client, group);
      const derived = new DerivedGroup(client, this.#derived);
      for (const pending of group) {
        const { request } = pending;
        const { record } = request;
        try {
          const current = state.get(record.id);
          const previous = current?.stored;
          checkExpected(request, previous?.digest);
          const at = new Date();
          const event = changeEvent(seq + 1, at, request, pending.domains, previous?.digest);
          const after = freezeStored({
            id: record.id,
            kind: record.kind,
            bytes: new Uint8Array(record.bytes),
            digest: record.digest,
            domains: pending.domains,
            contentTime: new Date(contentTime(record)),
            updated: at,
            seq: event.seq,
          });
          const collected = derived.collect({ record, before: previous, after, event });
          derived.accept(Array.isArray(collected) ? collected : await collected);
          // Accepted: from here on nothing throws.
          seq = event.seq;
          const doc = current?.doc ?? event.seq;
          state.set(record.id, { stored: after, doc });
          accepted.push({ pending, event, after, doc, previous });
        } catch (error) {
          pending.reject(error);
        }
      }
      for (const outcome of await decideCertificates(client, certificateWrites)) certificateOutcomes.push(outcome);
      if (accepted.length > 0) {
        await writeRecords(client, accepted, state);
        await derived.write();
        await client.query("UPDATE ics_meta SET value = $1 WHERE name = 'last_seq'", [seq]);
        if (this.#notify) await client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, String(seq)]);
        for (const a of accepted) for (const d of this.#moveBuckets({ event: a.event, contentTime: a.after.contentTime.getTime(), previous: a.previous && { contentTime: a.previous.contentTime.getTime(), domains: a.previous.domains } })) touched.add(d);
        // Settled inside the transaction: its reads see exactly the log up to this group's end.
        await this.#settle(client, touched);
        touched = new Set();
      }
      await client.query('COMMIT');
      if (this.#replica && accepted.length > 0) this.#writtenLsn = parseLsn((await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn);
    } catch (cause) {
      await client.query('ROLLBACK').catch(() => undefined);
      // The indexes may hold this group's items: rebuilt on the next request.
      this.#buckets.clear();
      const error = cause instanceof IcsError && cause.code !== 'INTERNAL' ? cause : new IcsError('UNAVAILABLE', 'store write failed', { cause });
      for (const a of accepted) a.pending.reject(error);
      for (const { write, entry, error: refused } of certificateOutcomes) write.reject(entry ? error : refused);
      if (certificateOutcomes.length === 0) for (const w of certificateWrites) w.reject(error);
      return;
    } finally {
      client.release();
    }
    if (accepted.length > 0) this.#seen = seq;
    for (const a of accepted) this.#listeners.emit(a.event);
    for (const a of accepted) a.pending.resolve(a.event);
    for (const { write, entry, error } of certificateOutcomes) {
      if (entry) write.resolve(entry);
      else write.reject(error);
    }
  }

  /** Waits for queued writes, then closes the pools and the LISTEN connection. Later calls fail with UNAVAILABLE. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#reconnect);
    await Promise.all([...this.#roles].map((role) => role.stop()));
    await this.#writer.idle();
    this.#listeners.clear();
    this.#buckets.clear();
    const listener = this.#listener;
    this.#listener = undefined;
    await Promise.all([listener?.end(), this.#pool.end(), this.#replica?.end()].map((p) => p?.catch(() => undefined)));
  }
}

/** A replica must answer and hold the schema this version reads. */
async function checkReplica(replica: Pool, url: string): Promise<void> {
  const client = await tryConnect(replica, 'replica', url);
  try {
    const { rows } = await client.query<{ version: number }>('SELECT version FROM ics_schema_version').catch((cause: unknown) => {
      throw new IcsError('UNAVAILABLE', `the replica at ${describeUrl(url)} holds no ICS store schema: is it a replica of store.postgres.url?`, { cause, details: { reason: 'schema-foreign' } });
    });
    const expected = await currentSchemaVersion();
    if (rows[0]?.version !== expected) {
      throw new IcsError('UNAVAILABLE', `the replica at ${describeUrl(url)} holds ICS store schema ${rows[0]?.version}, the primary ${expected}`, { details: { reason: 'schema-foreign' } });
    }
  } finally {
    client.release();
  }
}

/** Builds a domain's bucket index from its sync-set rows, in steps. */
async function buildIndex(client: PoolClient, domain: string): Promise<BucketIndex> {
  const index = new BucketIndex();
  const load = index.loader();
  const prefix = syncDomainPrefix(domain);
  const end = prefixEnd(prefix) as Buffer;
  let from = prefix;
  let operator = '>=';
  for (;;) {
    const { rows } = await client.query<{ key: Buffer; value: Buffer }>(
      `SELECT key, value FROM ics_derived WHERE structure = $1 AND key ${operator} $2 AND key < $3 ORDER BY key LIMIT $4`,
      [SYNC_SET, from, end, BUILD_STEP],
    );
    load(rows.map((r) => ({ key: r.key.subarray(prefix.length), digest: r.value })));
    if (rows.length < BUILD_STEP) return index;
    from = (rows.at(-1) as { key: Buffer }).key;
    operator = '>';
  }
}

/** Opens (creating or migrating its schema) a PostgreSQL store. */
export function openPostgresStore(init: PostgresStoreInit): Promise<PostgresStore> {
  return PostgresStore.open(init);
}

/** A WAL position ('16/B374D848') as a number; 0 for none. */
function parseLsn(text: string | null | undefined): bigint {
  const match = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(text ?? '');
  return match ? (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`) : 0n;
}
