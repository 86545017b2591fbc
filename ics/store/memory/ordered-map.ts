// A byte-keyed map in key order: a derived structure's entries in the in-memory store. A sorted
// array with binary search: inserts move the tail (O(n)), cheap at the sizes this store is
// for (tests, small throwaway nodes); ranges are a search and a slice.
import type { DerivedRange } from '../derived.ts';

interface Entry {
  readonly key: Buffer;
  value: Buffer;
}

export class OrderedBytesMap {
  readonly #entries: Entry[] = [];

  /** Index of the first entry whose key is ≥ `key`. */
  #lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Buffer.compare((this.#entries[mid] as Entry).key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get size(): number {
    return this.#entries.length;
  }

  get(key: Uint8Array): Buffer | undefined {
    const entry = this.#entries[this.#lowerBound(key)];
    return entry && Buffer.compare(entry.key, key) === 0 ? entry.value : undefined;
  }

  /** Stores copies: the caller may reuse its buffers. */
  put(key: Uint8Array, value: Uint8Array): void {
    const at = this.#lowerBound(key);
    const entry = this.#entries[at];
    if (entry && Buffer.compare(entry.key, key) === 0) entry.value = Buffer.from(value);
    else this.#entries.splice(at, 0, { key: Buffer.from(key), value: Buffer.from(value) });
  }

  delete(key: Uint8Array): void {
    const at = this.#lowerBound(key);
    const entry = this.#entries[at];
    if (entry && Buffer.compare(entry.key, key) === 0) this.#entries.splice(at, 1);
  }

  /** Entries in [gte, lt), ascending or (`reverse`) descending, at most `limit` (all when absent). */
  range({ gte, lt, limit, reverse = false }: DerivedRange): Array<readonly [Buffer, Buffer]> {
    const from = gte ? this.#lowerBound(gte) : 0;
    const to = lt ? this.#lowerBound(lt) : this.#entries.length;
    if (from >= to) return [];
    const n = limit === undefined ? to - from : Math.min(to - from, limit);
    const slice = reverse ? this.#entries.slice(to - n, to).reverse() : this.#entries.slice(from, from + n);
    return slice.map((e) => [e.key, e.value] as const);
  }
}
