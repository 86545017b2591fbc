// In-memory RecordStore for tests and small throwaway nodes: Maps and sets, sorted on demand.
// Same contract and order as the LevelDB store (test/store/store.suite.ts runs both); nothing
// survives the process.
import type { EntityKind } from '../../record/index.ts';
import {
  type ChangeListener,
  changeEvent,
  checkExpected,
  checkWriteRequest,
  closedError,
  freezeStored,
  Listeners,
  normaliseLimit,
  normaliseTime,
} from '../change.ts';
import { arrayReader, BucketIndex, boundKey, rawItems, type SyncBound, type SyncPiece, type SyncSummary } from '../fingerprint.ts';
import { compareIds, compareIdToBound } from '../ids.ts';
import { contentTime, type IndexTerms, indexTermsOf } from '../indexing.ts';
import type { ChangeEvent, ListOptions, RecordStore, SearchOptions, StoredRecord, StoreStats, SyncItem, WriteRequest } from '../types.ts';

export interface MemoryStoreInit {
  /** Called when a change listener throws; the store carries on either way. */
  readonly onListenerError?: (error: unknown, event: ChangeEvent) => void;
}

interface Entry {
  stored: StoredRecord;
  terms: IndexTerms;
  /** Insertion order (the seq of the inserting event): the order finders answer in. */
  docNum: number;
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
  #closed = false;

  constructor(init: MemoryStoreInit = {}) {
    this.#listeners = new Listeners(init.onListenerError);
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

  async syncRange(
    domain: string,
    from: { time: number; id: string },
    to: { time: number; id: string } | undefined,
    limit: number,
  ): Promise<SyncItem[]> {
    this.#open();
    const cmp = (item: SyncItem, bound: { time: number; id: string }) => {
      const t = item.time - normaliseTime(bound.time);
      return t !== 0 ? t : compareIdToBound(item.id, bound.id);
    };
    const items: SyncItem[] = [];
    for (const id of this.#domains.map.get(domain) ?? []) {
      const stored = (this.#records.get(id) as Entry).stored;
      const item = { time: stored.contentTime.getTime(), id, digest: stored.digest };
      if (cmp(item, from) >= 0 && (to === undefined || cmp(item, to) < 0)) items.push(item);
    }
    items.sort((a, b) => a.time - b.time || compareIds(a.id, b.id));
    return items.slice(0, normaliseLimit(limit));
  }

  /** The domain's buckets, built afresh from all its items: O(n log n) a call, fine for tests. */
  async #buckets(domain: string): Promise<{ index: BucketIndex; read: ReturnType<typeof arrayReader> }> {
    const items = rawItems(await this.syncRange(domain, { time: 0, id: '' }, undefined, Number.MAX_SAFE_INTEGER));
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

  async write(request: WriteRequest): Promise<ChangeEvent> {
    this.#open();
    const domains = checkWriteRequest(request);
    const { record } = request;
    const previous = this.#records.get(record.id);
    checkExpected(request, previous?.stored.digest);
    const seq = this.#events.length + 1;
    const at = new Date();
    const event = changeEvent(seq, at, request, domains, previous?.stored.digest);
    const terms = indexTermsOf(record);
    const stored = freezeStored({
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
    const before = previous?.terms ?? { keyIds: [], fingerprints: [], tokens: [] };
    this.#keyIds.update(before.keyIds, terms.keyIds, record.id);
    this.#fingerprints.update(before.fingerprints, terms.fingerprints, record.id);
    this.#tokens.update(before.tokens, terms.tokens, record.id);
    this.#domains.update(previous?.stored.domains ?? [], domains, record.id);
    this.#kinds.update(previous ? [previous.stored.kind] : [], [record.kind], record.id);
    this.#records.set(record.id, { stored, terms, docNum: previous?.docNum ?? seq });
    this.#events.push(event);
    const history = this.#history.get(record.id);
    if (history) history.push(seq);
    else this.#history.set(record.id, [seq]);
    this.#listeners.emit(event);
    return event;
  }

  subscribe(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  async stats(): Promise<StoreStats> {
    this.#open();
    const byKind: Record<string, number> = {};
    for (const [kind, ids] of this.#kinds.map) byKind[kind] = ids.size;
    return { records: this.#records.size, byKind, lastSeq: this.#events.length };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
  }
}

/** A new, empty in-memory store. */
export async function createMemoryStore(init: MemoryStoreInit = {}): Promise<MemoryStore> {
  return new MemoryStore(init);
}
