// Stored records as the plugins answer with them, made once per record version: the revived
// record objects (for indexes and verdicts) and the armored text (for op=get and records).
import { LRUCache } from 'lru-cache';
import { type IdentityRecord, reviveRecord } from '../record/index.ts';
import type { CacheFigures, StoredRecord } from '../store/types.ts';
import { ANSWER_CACHE_BYTES, ANSWER_CACHE_ENTRIES, RECORD_CACHE_BYTES, RECORD_CACHE_ENTRIES, revivedRecordBytes } from './limits.ts';

/** A value made from one version of a record. */
interface Made<V> {
  readonly digest: string;
  readonly value: V;
}

/**
 * Values made from records, one per record id and bounded by count and by bytes: a record's
 * newer version replaces the older one instead of sitting beside it (a device whose status
 * changes every minute would otherwise fill the cache with its past), and records that grow
 * with their signatures take fewer places rather than more memory.
 */
class PerRecord<V extends NonNullable<unknown>> {
  readonly #entries: LRUCache<string, Made<V>>;

  constructor(max: number, maxBytes: number, sizeOf: (value: V) => number) {
    this.#entries = new LRUCache({ max, maxSize: maxBytes, sizeCalculation: (made) => Math.max(1, sizeOf(made.value)) });
  }

  async get(stored: StoredRecord, make: () => V | Promise<V>): Promise<V> {
    const hit = this.#entries.get(stored.id);
    if (hit?.digest === stored.digest) return hit.value;
    const value = await make();
    this.#entries.set(stored.id, { digest: stored.digest, value });
    return value;
  }

  get figures(): CacheFigures {
    return { entries: this.#entries.size, bytes: this.#entries.calculatedSize };
  }

  getSync(stored: StoredRecord, make: () => V): V {
    const hit = this.#entries.get(stored.id);
    if (hit?.digest === stored.digest) return hit.value;
    const value = make();
    this.#entries.set(stored.id, { digest: stored.digest, value });
    return value;
  }
}

/** Stored bytes → record objects, without repeating cryptography (the store verified them). */
export class RecordCache {
  readonly #records = new PerRecord<IdentityRecord>(RECORD_CACHE_ENTRIES, RECORD_CACHE_BYTES, revivedRecordBytes);
  readonly #armored = new PerRecord<Buffer>(ANSWER_CACHE_ENTRIES, ANSWER_CACHE_BYTES, (text) => text.length);

  revive(stored: StoredRecord): Promise<IdentityRecord> {
    return this.#records.get(stored, () => reviveRecord(stored.bytes));
  }

  /** What the two caches hold, for /metrics. */
  figures(): Record<string, CacheFigures> {
    return { records: this.#records.figures, armored: this.#armored.figures };
  }

  /** The record's armored text (UTF-8 bytes, ready to send), made once per version. */
  armored(stored: StoredRecord, make: (bytes: Uint8Array) => string): Buffer {
    return this.#armored.getSync(stored, () => Buffer.from(make(stored.bytes), 'utf8'));
  }
}
