// The hot-record cache of the LevelDB store: an LRU of decoded records, filled by reads and
// kept current by every commit, and the guard that keeps a read which raced a commit from
// caching the version the commit replaced.
import { LRUCache } from 'lru-cache';

/** A byte bound for an Lru: values are counted by `sizeOf` until `maxBytes` is reached. */
export interface ByteBound<V> {
  readonly maxBytes: number;
  readonly sizeOf: (value: V) => number;
}

/**
 * The record cache's map: lru-cache bounded by entry count and, when given, by bytes (records
 * grow with every status and certification: a bound by count alone lets the cache's memory
 * grow with traffic), except that a capacity of 0 (the `cacheRecords: 0` option: every read
 * goes to LevelDB) holds nothing, where lru-cache refuses a bound of 0. Eviction must be O(1),
 * as lru-cache's own list makes it: a plain Map evicting its first key is not (V8 leaves
 * deleted entries at the front of the table, and finding the first live key behind them cost
 * ~13 µs per eviction at 20,000 entries, a third of a LevelDB read).
 */
export class Lru<K extends NonNullable<unknown>, V extends NonNullable<unknown>> {
  readonly #map: LRUCache<K, V> | undefined;

  constructor(
    readonly capacity: number,
    bound?: ByteBound<V>,
  ) {
    const bytes = bound && bound.maxBytes > 0 ? { maxSize: bound.maxBytes, sizeCalculation: (v: V) => Math.max(1, bound.sizeOf(v)) } : {};
    this.#map = capacity > 0 && bound?.maxBytes !== 0 ? new LRUCache({ max: capacity, ...bytes }) : undefined;
  }

  get(key: K): V | undefined {
    return this.#map?.get(key);
  }

  set(key: K, value: V): void {
    this.#map?.set(key, value);
  }

  delete(key: K): void {
    this.#map?.delete(key);
  }

  clear(): void {
    this.#map?.clear();
  }

  get size(): number {
    return this.#map?.size ?? 0;
  }

  /** Bytes held by the values, as `sizeOf` counts them (0 without a byte bound). */
  get bytes(): number {
    return this.#map?.calculatedSize ?? 0;
  }
}

/**
 * Commits remembered for the cache guard. A read that overlapped more commits than this
 * simply does not fill the cache; 64 groups of writes is far more than one read overlaps.
 */
const RECENT_COMMITS = 64;

/** Counts commits and remembers which ids the recent ones wrote. */
export class CommitClock {
  #now = 0;
  readonly #recent: Array<{ commit: number; ids: ReadonlySet<string> }> = [];

  /** The commit number to hand to `unchangedSince` when a read starts. */
  now(): number {
    return this.#now;
  }

  committed(ids: ReadonlySet<string>): void {
    this.#now += 1;
    this.#recent.push({ commit: this.#now, ids });
    if (this.#recent.length > RECENT_COMMITS) this.#recent.shift();
  }

  /** True when no commit since `start` wrote `id`: a value read since then is current. */
  unchangedSince(start: number, id: string): boolean {
    if (start === this.#now) return true;
    const oldest = this.#recent[0];
    if (!oldest || oldest.commit > start + 1) return false;
    for (const c of this.#recent) if (c.commit > start && c.ids.has(id)) return false;
    return true;
  }
}
