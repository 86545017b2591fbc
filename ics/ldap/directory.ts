// The directory's content: fixed entries and, per stored record, its pgpKeyInfo and icsRecord
// entries, built on demand and cached encoded. Entries are derived from the store and the
// current policy only; who may see a record is decided by its domains (PolicyEngine.canRead).
import type { Logger } from 'pino';
import type { PolicyEngine, Principal } from '../policy/index.ts';
import { CookieSealer } from './cookie.ts';
import { type KeyRecord, reviveRecord } from '../record/index.ts';
import type { RecordStore, StoredRecord } from '../store/index.ts';
import { Dit } from './dit.ts';
import type { Entry } from './entry.ts';
import { type KeyFacts, keyFactsOf, ScanError, scanKeyFacts } from './keyfacts.ts';
import { KEY_ENTRY_CACHE, RECORD_ENTRY_CACHE, RECORD_ENTRY_TTL_MS, SELECTIONS_PER_ENTRY } from './limits.ts';
import { baseEntry, keyEntry, keysContainer, type NodeInfo, recordEntry, recordsContainer, rootDse, serverInfoEntry } from './views.ts';

/** A small LRU on Map's insertion order. */
class Lru<V> {
  readonly #map = new Map<string, V>();
  constructor(readonly capacity: number) {}

  get(key: string): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value as string);
  }
}

export interface DirectoryInit {
  readonly baseDn: string;
  readonly nodeInfo: NodeInfo;
  readonly startTls: boolean;
}

export interface DirectoryComponents {
  readonly store: RecordStore;
  readonly policy: () => PolicyEngine;
  readonly logger: Logger;
}

/** What a reader may see: the domains it may read, for filtering records and naming domains. */
export interface Reader {
  readonly principal: Principal;
  readonly readable: readonly string[];
  readonly readableSet: ReadonlySet<string>;
  readonly policy: PolicyEngine;
}

export class Directory {
  /** Seals paged-results cookies; its key is made with the directory, once per server start. */
  readonly cookies = new CookieSealer();
  readonly dit: Dit;
  readonly rootDse: Entry;
  readonly base: Entry;
  readonly serverInfo: Entry;
  readonly keys: Entry;
  readonly records: Entry;
  readonly store: RecordStore;
  readonly #policy: () => PolicyEngine;
  readonly #logger: Logger;
  readonly #keyEntries = new Lru<Entry>(KEY_ENTRY_CACHE);
  readonly #recordEntries = new Lru<{ entry: Entry; at: number }>(RECORD_ENTRY_CACHE);
  readonly #generations = new WeakMap<PolicyEngine, number>();
  #nextGeneration = 1;

  /** Throws DecodeError when the base DN is not a DN. */
  constructor(init: DirectoryInit, components: DirectoryComponents) {
    this.dit = new Dit(init.baseDn);
    this.store = components.store;
    this.#policy = components.policy;
    this.#logger = components.logger;
    this.rootDse = rootDse(this.dit, init.nodeInfo, init.startTls);
    this.base = baseEntry(this.dit, init.nodeInfo);
    this.serverInfo = serverInfoEntry(this.dit);
    this.keys = keysContainer(this.dit);
    this.records = recordsContainer(this.dit);
  }

  /** The reader for a principal under the current policy (the node may reload it any time). */
  reader(principal: Principal): Reader {
    const policy = this.#policy();
    const readable = policy.readableDomains(principal);
    return { principal, readable, readableSet: new Set(readable), policy };
  }

  visible(reader: Reader, stored: StoredRecord): boolean {
    return stored.domains.some((d) => reader.readableSet.has(d));
  }

  /** A key record's pgpKeyInfo entry (content only: cached by record version). */
  async keyEntry(stored: StoredRecord): Promise<Entry> {
    const key = `${stored.id}:${stored.seq}`;
    const hit = this.#keyEntries.get(key);
    if (hit) return hit;
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
    this.#keyEntries.set(key, entry);
    return entry;
  }

  /** A record's icsRecord entry as `reader` sees it (domains it may not read are not named). */
  async recordEntry(reader: Reader, stored: StoredRecord): Promise<Entry> {
    const domains = stored.domains.filter((d) => reader.readableSet.has(d));
    const key = `${stored.id}:${stored.seq}:${this.#generation(reader.policy)}:${domains.join(',')}`;
    const now = Date.now();
    const hit = this.#recordEntries.get(key);
    if (hit && now - hit.at < RECORD_ENTRY_TTL_MS) return hit.entry;
    const [record, history] = await Promise.all([reviveRecord(stored.bytes), this.store.history(stored.id)]);
    const policy = reader.policy;
    const entry = recordEntry(
      this.dit,
      {
        stored,
        record,
        verdict: policy.verdict(record, new Date(now)),
        historySize: history.length,
        created: history[0]?.at,
        domains,
        issuerName: (f) => policy.issuerName(f),
      },
      SELECTIONS_PER_ENTRY,
    );
    this.#recordEntries.set(key, { entry, at: now });
    return entry;
  }

  #generation(policy: PolicyEngine): number {
    let g = this.#generations.get(policy);
    if (g === undefined) {
      g = this.#nextGeneration++;
      this.#generations.set(policy, g);
    }
    return g;
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
