// The directory's content: fixed entries and, per stored record, its pgpKeyInfo and icsRecord
// entries, built on demand and cached encoded. Entries are derived from the store and the
// current policy only; who may see a record is decided by the policy's read rule
// (policy/read-rule.ts), and verdicts come from the policy's verdict cache.
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { type PolicyEngine, PolicyVerdictCache, type Principal, type ReadScope, readScope } from '../policy/index.ts';
import { CookieSealer } from './cookie.ts';
import { type KeyFacts, keyFactsOf, type KeyRecord, reviveRecord, ScanError, scanKeyFacts } from '../record/index.ts';
import { type CacheFigures, Doorkeeper, type EventLog, type RecordIndexes, type RecordReader, type StoredRecord } from '../store/index.ts';

/** What the directory reads: records, their indexes (for plans) and their history. */
export type DirectoryStore = RecordReader & RecordIndexes & EventLog;
import { Dit } from './dit.ts';
import type { Entry } from './entry.ts';
import { KEY_ENTRY_CACHE, KEY_ENTRY_CACHE_BYTES, RECORD_ENTRY_CACHE, RECORD_ENTRY_CACHE_BYTES, RECORD_ENTRY_TTL_MS, SELECTIONS_PER_ENTRY } from './limits.ts';
import { baseEntry, keyEntry, keysContainer, type NodeInfo, recordEntry, recordsContainer, rootDse, serverInfoEntry } from './views.ts';

export interface DirectoryInit {
  readonly baseDn: string;
  readonly nodeInfo: NodeInfo;
  readonly startTls: boolean;
}

export interface DirectoryComponents {
  readonly store: DirectoryStore;
  readonly policy: () => PolicyEngine;
  readonly logger: Logger;
  /** Verdicts shared with other readers of the same engines; the directory keeps its own when absent. */
  readonly verdicts?: PolicyVerdictCache;
}

/** What a reader may see: the domains it may read, for filtering records and naming domains. */
export type Reader = ReadScope;

export class Directory {
  /** Seals paged-results cookies; its key is made with the directory, once per server start. */
  readonly cookies = new CookieSealer();
  readonly dit: Dit;
  readonly rootDse: Entry;
  readonly base: Entry;
  readonly serverInfo: Entry;
  readonly keys: Entry;
  readonly records: Entry;
  readonly store: DirectoryStore;
  readonly #policy: () => PolicyEngine;
  readonly #logger: Logger;
  /**
   * Records whose key entry was built once and not kept: an entry is kept from its second use
   * (a doorkeeper, as in TinyLFU). Lookups spread over a large store would otherwise fill the
   * cache with entries asked for once, each pushing out another — work for the collector and
   * no hits.
   */
  readonly #builtOnce = new Doorkeeper<string>(KEY_ENTRY_CACHE);
  /** Pgp key entries by record id, with the version (seq) they were built from. */
  readonly #keyEntries = new LRUCache<string, { seq: number; entry: Entry }>({
    max: KEY_ENTRY_CACHE,
    maxSize: KEY_ENTRY_CACHE_BYTES,
    sizeCalculation: (e) => e.entry.footprint,
  });
  /**
   * ICS entries by record id and the domains the reader may see, with what they were built
   * from (version, policy generation) and the instant they must be rebuilt by.
   */
  readonly #recordEntries = new LRUCache<string, { seq: number; generation: number; entry: Entry; until: number }>({
    max: RECORD_ENTRY_CACHE,
    maxSize: RECORD_ENTRY_CACHE_BYTES,
    sizeCalculation: (e) => e.entry.footprint,
  });
  readonly #verdicts: PolicyVerdictCache;

  /** What the entry caches hold, for /metrics. */
  caches(): Record<string, CacheFigures> {
    return {
      'key-entries': { entries: this.#keyEntries.size, bytes: this.#keyEntries.calculatedSize },
      'record-entries': { entries: this.#recordEntries.size, bytes: this.#recordEntries.calculatedSize },
    };
  }

  /** Throws DecodeError when the base DN is not a DN. */
  constructor(init: DirectoryInit, components: DirectoryComponents) {
    this.dit = new Dit(init.baseDn);
    this.store = components.store;
    this.#policy = components.policy;
    this.#logger = components.logger;
    // As many verdicts as ICS entries kept: each entry holds one.
    this.#verdicts = components.verdicts ?? new PolicyVerdictCache(RECORD_ENTRY_CACHE);
    this.rootDse = rootDse(this.dit, init.nodeInfo, init.startTls);
    this.base = baseEntry(this.dit, init.nodeInfo);
    this.serverInfo = serverInfoEntry(this.dit);
    this.keys = keysContainer(this.dit);
    this.records = recordsContainer(this.dit);
  }

  /** The reader for a principal under the current policy (the node may reload it any time). */
  reader(principal: Principal): Reader {
    return readScope(this.#policy(), principal);
  }

  visible(reader: Reader, stored: StoredRecord): boolean {
    return reader.mayRead(stored);
  }

  /** A key record's pgpKeyInfo entry (content only: cached by record version). */
  async keyEntry(stored: StoredRecord): Promise<Entry> {
    // One entry per record: a newer version replaces the older instead of sitting beside it.
    const hit = this.#keyEntries.get(stored.id);
    if (hit?.seq === stored.seq) return hit.entry;
    let facts: KeyFacts;
    try {
      facts = scanKeyFacts(stored.bytes);
      if (facts.fingerprint !== stored.id) throw new ScanError('fingerprint is not the record id');
    } catch (error) {
      // Stored bytes the fast reader does not follow: read them the slow way and say so.
      this.#logger.warn({ id: stored.id, err: error }, 'stored key not readable by the fast scanner; revived instead');
      facts = keyFactsOf((await reviveRecord(stored.bytes)) as KeyRecord);
    }
    const entry = keyEntry(this.dit, stored, facts, SELECTIONS_PER_ENTRY);
    if (hit || this.#builtOnce.has(stored.id)) {
      this.#keyEntries.set(stored.id, { seq: stored.seq, entry });
      this.#builtOnce.delete(stored.id);
    } else this.#builtOnce.add(stored.id);
    return entry;
  }

  /** A record's icsRecord entry as `reader` sees it (domains it may not read are not named). */
  async recordEntry(reader: Reader, stored: StoredRecord): Promise<Entry> {
    const domains = reader.domainsOf(stored);
    const engine = reader.engine;
    const key = `${stored.id}:${domains.join(',')}`;
    const now = new Date();
    const hit = this.#recordEntries.get(key);
    if (hit && hit.seq === stored.seq && hit.generation === engine.generation && now.getTime() < hit.until) return hit.entry;
    const [record, history] = await Promise.all([reviveRecord(stored.bytes), this.store.history(stored.id)]);
    const verdict = this.#verdicts.get(stored, engine, now) ?? this.#verdicts.evaluate(stored, record, engine, now);
    const entry = recordEntry(
      this.dit,
      {
        stored,
        record,
        verdict: verdict.verdict,
        historySize: history.length,
        created: history[0]?.at,
        domains,
        issuerName: (f) => engine.issuerName(f),
      },
      SELECTIONS_PER_ENTRY,
    );
    // Rebuilt when its verdict may change, and after RECORD_ENTRY_TTL_MS in any case.
    this.#recordEntries.set(key, {
      seq: stored.seq,
      generation: engine.generation,
      entry,
      until: Math.min(now.getTime() + RECORD_ENTRY_TTL_MS, verdict.validUntil),
    });
    return entry;
  }

  /** Visible key records whose primary key has this long key id (normally one). */
  async keyRecords(reader: Reader, keyId: string): Promise<StoredRecord[]> {
    const ids = (await this.store.findByKeyId(keyId, { limit: 16 })).filter((id) => id.endsWith(keyId));
    const found = await this.store.getMany(ids);
    return found.filter((s): s is StoredRecord => s !== undefined && s.kind !== 'code' && this.visible(reader, s));
  }

  /** The visible record with this id. */
  async record(reader: Reader, id: string): Promise<StoredRecord | undefined> {
    const stored = await this.store.get(id);
    return stored && this.visible(reader, stored) ? stored : undefined;
  }
}
