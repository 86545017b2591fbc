// In-memory RecordStore for tests and small throwaway nodes: Maps and sets, sorted on demand.
// Same contract and order as the LevelDB store (test/store/store.suite.ts runs both); nothing
// survives the process. A write commits synchronously — record, indexes, derived structures'
// entries and event at once — unless a derived structure is asynchronous; later writes then
// wait their turn, so that writes still apply one at a time in call order.
import type { EntityKind } from '../../record/index.ts';
import { addition, checkAfterSerial, checkCertificateEntry, checkRevocation, checkSerial, expiryBound, expiryCursor, revocation } from '../certificate-rules.ts';
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
import { applyDerived, type DerivedBatch, type DerivedReader, type DerivedStructure, derivedStructures, type RecordChange, type StoreHooks } from '../derived.ts';
import { arrayReader, BucketIndex, boundKey, type SyncBound, type SyncPiece, type SyncSummary } from '../fingerprint.ts';
import { compareIds, compareIdToBound } from '../ids.ts';
import { contentTime, type IndexTerms, indexTermsOf } from '../indexing.ts';
import { isDomainName, readSyncRange, SYNC_SET, syncItemReader, syncSet } from '../sync-set.ts';
import type { ChangeEvent, ListOptions, RecordStore, SearchOptions, StoredRecord, StoreStats, SyncItem, WriteRequest } from '../types.ts';
import { CertificateTable } from './certificates.ts';
import { OrderedBytesMap } from './ordered-map.ts';

export type MemoryStoreInit = StoreHooks;

interface Entry {
  stored: StoredRecord;
  terms: IndexTerms;
  /** Insertion order (the seq of the inserting event): the order finders answer in. */
  docNum: number;
}

interface PendingWrite {
  readonly request: WriteRequest;
  resolve(event: ChangeEvent): void;
  reject(error: unknown): void;
}

/** One derived-structure entry of a write, applied when the write commits (value undefined: delete). */
interface DerivedOp {
  readonly key: Uint8Array;
  readonly value: Uint8Array | undefined;
}

/** A write whose checks passed, ready to commit once its derived structures are done. */
interface Prepared {
  readonly change: RecordChange;
  readonly terms: IndexTerms;
  readonly previous: Entry | undefined;
  /** Per derived structure, its entries in order. */
  readonly derivedOps: DerivedOp[][];
}

/** term → ids, kept in step with the records. */
class TermIndex {
  readonly map = new Map<string, Set<string>>();

  add(term: string, id: string): void {
    let set = this.map.get(term);
    if (!set) this.map.set(term, (set = new Set()));
    set.add(id);
  }

  remove(term: string, id: string): void {
    const set = this.map.get(term);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.map.delete(term);
  }

  update(before: readonly string[], after: readonly string[], id: string): void {
    const keep = new Set(after);
    for (const t of before) if (!keep.has(t)) this.remove(t, id);
    for (const t of after) this.add(t, id);
  }
}

export class MemoryStore implements RecordStore {
  readonly #records = new Map<string, Entry>();
  readonly #keyIds = new TermIndex();
  readonly #fingerprints = new TermIndex();
  readonly #tokens = new TermIndex();
  readonly #domains = new TermIndex();
  readonly #kinds = new TermIndex();
  readonly #events: ChangeEvent[] = [];
  readonly #history = new Map<string, number[]>();
  readonly #listeners: Listeners;
  /** Derived structures written with every record (the sync set first), each with its entries. */
  readonly #derived: readonly DerivedStructure[];
  readonly #derivedData: readonly OrderedBytesMap[];
  /** The sync set's entries, for the store's own reads (which check that the store is open). */
  readonly #syncSet: DerivedReader;
  readonly #queue: PendingWrite[] = [];
  readonly #certificates = new CertificateTable();
  /** True while writes are being committed (or one waits for a derived structure). */
  #busy = false;
  /** Settles when the write waiting for a derived structure has committed. */
  #waiting: Promise<void> | undefined;
  #closed = false;

  constructor(init: MemoryStoreInit = {}) {
    this.#listeners = new Listeners(init.onListenerError);
    this.#derived = derivedStructures([syncSet], init.derived);
    this.#derivedData = this.#derived.map(() => new OrderedBytesMap());
    this.#syncSet = this.#derivedReader(this.#derived.findIndex((d) => d.name === SYNC_SET), () => {});
    this.#derived.forEach((structure, i) => structure.attach?.(this.#derivedReader(i, () => this.#open())));
  }

  #derivedReader(index: number, checkOpen: () => void): DerivedReader {
    const data = this.#derivedData[index] as OrderedBytesMap;
    return {
      async get(key) {
        checkOpen();
        return data.get(key);
      },
      async getMany(keys) {
        checkOpen();
        return keys.map((key) => data.get(key));
      },
      async range(range) {
        checkOpen();
        return data.range({ ...range, limit: range.limit === undefined ? undefined : normaliseLimit(range.limit) });
      },
    };
  }

  #open(): void {
    if (this.#closed) throw closedError();
  }

  #byDocNum(ids: Iterable<string>): string[] {
    return [...ids].sort((a, b) => (this.#records.get(a)?.docNum ?? 0) - (this.#records.get(b)?.docNum ?? 0));
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    this.#open();
    return this.#records.get(id)?.stored;
  }

  async getMany(ids: readonly string[]): Promise<Array<StoredRecord | undefined>> {
    this.#open();
    return ids.map((id) => this.#records.get(id)?.stored);
  }

  async findByKeyId(keyId: string, options: SearchOptions): Promise<string[]> {
    this.#open();
    return this.#byDocNum(this.#keyIds.map.get(keyId.toLowerCase()) ?? []).slice(0, normaliseLimit(options.limit));
  }

  async findByFingerprint(fingerprint: string, options: SearchOptions): Promise<string[]> {
    this.#open();
    const f = fingerprint.toLowerCase();
    // The record whose primary key it is first, then those holding it as a subkey.
    const ids = this.#byDocNum(this.#fingerprints.map.get(f) ?? []).sort((a, b) => Number(b === f) - Number(a === f));
    return ids.slice(0, normaliseLimit(options.limit));
  }

  async findByToken(token: string, options: SearchOptions & { prefix?: boolean }): Promise<string[]> {
    this.#open();
    const wanted = token.toLowerCase();
    const limit = normaliseLimit(options.limit);
    if (wanted.length === 0 || limit === 0) return [];
    if (!options.prefix) return this.#byDocNum(this.#tokens.map.get(wanted) ?? []).slice(0, limit);
    const out = new Set<string>();
    const terms = [...this.#tokens.map.keys()]
      .filter((t) => t.startsWith(wanted))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const term of terms) {
      for (const id of this.#byDocNum(this.#tokens.map.get(term) ?? [])) {
        out.add(id);
        if (out.size >= limit) return [...out];
      }
    }
    return [...out];
  }

  #page(ids: Iterable<string> | undefined, options: ListOptions): string[] {
    const after = options.after;
    const list = [...(ids ?? [])].filter((id) => after === undefined || compareIdToBound(id, after) > 0).sort(compareIds);
    return list.slice(0, normaliseLimit(options.limit));
  }

  async listDomain(domain: string, options: ListOptions): Promise<string[]> {
    this.#open();
    return this.#page(this.#domains.map.get(domain), options);
  }

  async listKind(kind: EntityKind, options: ListOptions): Promise<string[]> {
    this.#open();
    return this.#page(this.#kinds.map.get(kind), options);
  }

  async syncRange(domain: string, from: SyncBound, to: SyncBound | undefined, limit: number): Promise<SyncItem[]> {
    this.#open();
    return readSyncRange(this.#syncSet, domain, from, to, limit);
  }

  /** The domain's buckets, built afresh from all its items: O(n) a call, fine for tests. */
  async #buckets(domain: string): Promise<{ index: BucketIndex; read: ReturnType<typeof arrayReader> }> {
    const items = isDomainName(domain) ? await syncItemReader(this.#syncSet, domain)(Buffer.alloc(0), undefined) : [];
    return { index: BucketIndex.fromItems(items), read: arrayReader(items) };
  }

  async syncSummaries(domain: string, bounds: readonly SyncBound[], to: SyncBound | undefined): Promise<SyncSummary[]> {
    this.#open();
    const { index, read } = await this.#buckets(domain);
    return index.summaries(bounds.map(boundKey), to && boundKey(to), read);
  }

  async syncSplit(domain: string, from: SyncBound, to: SyncBound | undefined, parts: number): Promise<SyncPiece[]> {
    this.#open();
    const { index, read } = await this.#buckets(domain);
    return index.split(boundKey(from), from, to && boundKey(to), parts, read);
  }

  async changesSince(after: number, limit: number): Promise<ChangeEvent[]> {
    this.#open();
    const start = Number.isNaN(after) || after < 0 ? 0 : Math.min(Math.floor(after), this.#events.length);
    return this.#events.slice(start, start + normaliseLimit(limit));
  }

  async history(id: string): Promise<ChangeEvent[]> {
    this.#open();
    return (this.#history.get(id) ?? []).map((seq) => this.#events[seq - 1] as ChangeEvent);
  }

  write(request: WriteRequest): Promise<ChangeEvent> {
    try {
      this.#open();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#drain();
    });
  }

  /** Commits queued writes in call order; stops while one waits for a derived structure. */
  #drain(): void {
    if (this.#busy) return;
    this.#busy = true;
    for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
      const waiting = this.#commit(next);
      if (waiting) {
        this.#waiting = waiting.then(() => {
          this.#waiting = undefined;
          this.#busy = false;
          this.#drain();
        });
        return;
      }
    }
    this.#busy = false;
  }

  /** Checks, runs the derived structures and commits one write; a promise (never rejected) only when a structure made it wait. */
  #commit({ request, resolve, reject }: PendingWrite): Promise<void> | undefined {
    let prepared: Prepared;
    let waiting: Promise<void> | undefined;
    try {
      prepared = this.#prepare(request);
      waiting = applyDerived(this.#derived, prepared.change, (i) => this.#batch(i, prepared.derivedOps[i] as DerivedOp[]));
    } catch (error) {
      reject(error);
      return undefined;
    }
    if (!waiting) {
      resolve(this.#apply(prepared));
      return undefined;
    }
    return waiting.then(() => resolve(this.#apply(prepared)), reject).catch(reject);
  }

  /** The checks (compare-and-set included) and what the write will store; changes nothing. */
  #prepare(request: WriteRequest): Prepared {
    const domains = checkWriteRequest(request);
    const { record } = request;
    const previous = this.#records.get(record.id);
    checkExpected(request, previous?.stored.digest);
    const seq = this.#events.length + 1;
    const at = new Date();
    const event = changeEvent(seq, at, request, domains, previous?.stored.digest);
    const after = freezeStored({
      id: record.id,
      kind: record.kind,
      // A copy: the caller keeps its record object and may reuse its buffer.
      bytes: new Uint8Array(record.bytes),
      digest: record.digest,
      domains,
      contentTime: new Date(contentTime(record)),
      updated: at,
      seq,
    });
    return {
      change: { record, before: previous?.stored, after, event },
      terms: indexTermsOf(record),
      previous,
      derivedOps: this.#derived.map(() => []),
    };
  }

  /** A structure's batch: its entries for this write, read back before the committed ones. */
  #batch(index: number, ops: DerivedOp[]): DerivedBatch {
    const data = this.#derivedData[index] as OrderedBytesMap;
    return {
      async get(key) {
        for (let i = ops.length - 1; i >= 0; i--) {
          const op = ops[i] as DerivedOp;
          if (Buffer.compare(op.key, key) === 0) return op.value;
        }
        return data.get(key);
      },
      put(key, value) {
        ops.push({ key, value });
      },
      del(key) {
        ops.push({ key, value: undefined });
      },
    };
  }

  /** Commits a prepared write: everything at once, synchronously. */
  #apply({ change, terms, previous, derivedOps }: Prepared): ChangeEvent {
    const { record, after: stored, event } = change;
    const before = previous?.terms ?? { keyIds: [], fingerprints: [], tokens: [] };
    this.#keyIds.update(before.keyIds, terms.keyIds, record.id);
    this.#fingerprints.update(before.fingerprints, terms.fingerprints, record.id);
    this.#tokens.update(before.tokens, terms.tokens, record.id);
    this.#domains.update(previous?.stored.domains ?? [], stored.domains, record.id);
    this.#kinds.update(previous ? [previous.stored.kind] : [], [record.kind], record.id);
    this.#records.set(record.id, { stored, terms, docNum: previous?.docNum ?? event.seq });
    derivedOps.forEach((ops, i) => {
      const data = this.#derivedData[i] as OrderedBytesMap;
      for (const op of ops) {
        if (op.value === undefined) data.delete(op.key);
        else data.put(op.key, op.value);
      }
    });
    this.#events.push(event);
    const history = this.#history.get(record.id);
    if (history) history.push(event.seq);
    else this.#history.set(record.id, [event.seq]);
    this.#listeners.emit(event);
    return event;
  }

  subscribe(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  async getCertificate(serial: string): Promise<CertificateEntry | undefined> {
    this.#open();
    return this.#certificates.get(serial);
  }

  async certificatesOf(recordId: string): Promise<CertificateEntry[]> {
    this.#open();
    return this.#certificates.of(recordId);
  }

  async expiringBefore(time: Date, limit: number, after?: { readonly notAfter: Date; readonly serial: string }): Promise<CertificateEntry[]> {
    this.#open();
    return this.#certificates.expiringBefore(expiryBound(time), normaliseLimit(limit), after === undefined ? undefined : expiryCursor(after));
  }

  async revokedBy(issuer: string, limit: number, afterSerial?: string): Promise<CertificateEntry[]> {
    this.#open();
    return this.#certificates.revokedBy(issuer, normaliseLimit(limit), afterSerial === undefined ? undefined : checkAfterSerial(afterSerial));
  }

  /** Certificate writes touch no record: they commit at once, even while a record write waits for a derived structure. */
  async addCertificate(entry: CertificateEntry): Promise<void> {
    this.#open();
    const checked = checkCertificateEntry(entry);
    this.#certificates.write(checked.serial, addition(checked));
  }

  async revokeCertificate(serial: string, revoked: CertificateRevocation): Promise<CertificateEntry> {
    this.#open();
    return this.#certificates.write(checkSerial(serial), revocation(serial, checkRevocation(revoked)));
  }

  async stats(): Promise<StoreStats> {
    this.#open();
    const byKind: Record<string, number> = {};
    for (const [kind, ids] of this.#kinds.map) byKind[kind] = ids.size;
    return { records: this.#records.size, byKind, lastSeq: this.#events.length };
  }

  /** Waits for a write held by a derived structure (and those queued behind it), then closes. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#waiting) await this.#waiting;
    this.#listeners.clear();
  }
}

/** A new, empty in-memory store. */
export async function createMemoryStore(init: MemoryStoreInit = {}): Promise<MemoryStore> {
  return new MemoryStore(init);
}
