// The hot-record cache of the LevelDB store: an LRU of decoded records, filled by reads and
// kept current by every commit, and the guard that keeps a read which raced a commit from
// caching the version the commit replaced.

/** Least-recently-used map bounded by entry count (a Map iterates in insertion order). */
export class Lru<K, V> {
  readonly #map = new Map<K, V>();

  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value as K);
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  get size(): number {
    return this.#map.size;
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
