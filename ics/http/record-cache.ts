// Stored records as the plugins answer with them, made once per record version: the revived
// record objects (for indexes and verdicts) and the armored text (for op=get and records).
import { LRUCache } from 'lru-cache';
import { type IdentityRecord, reviveRecord } from '../record/index.ts';
import type { StoredRecord } from '../store/types.ts';
import { ANSWER_CACHE_ENTRIES, RECORD_CACHE_ENTRIES } from './limits.ts';

/** Stored bytes → record objects, without repeating cryptography (the store verified them). */
export class RecordCache {
  // Keyed by digest: it names one version of one record (the id is a function of the content).
  readonly #records = new LRUCache<string, IdentityRecord>({ max: RECORD_CACHE_ENTRIES });
  readonly #armored = new LRUCache<string, Buffer>({ max: ANSWER_CACHE_ENTRIES });

  async revive(stored: StoredRecord): Promise<IdentityRecord> {
    const key = stored.digest;
    const hit = this.#records.get(key);
    if (hit) return hit;
    const record = await reviveRecord(stored.bytes);
    this.#records.set(key, record);
    return record;
  }

  /** The record's armored text (UTF-8 bytes, ready to send), made once per version. */
  armored(stored: StoredRecord, make: (bytes: Uint8Array) => string): Buffer {
    let text = this.#armored.get(stored.digest);
    if (text === undefined) {
      text = Buffer.from(make(stored.bytes), 'utf8');
      this.#armored.set(stored.digest, text);
    }
    return text;
  }
}
