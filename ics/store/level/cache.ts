// The hot-record cache of the LevelDB store: an LRU of decoded records, filled by reads and
// kept current by every commit, and the guard that keeps a read which raced a commit from
// caching the version the commit replaced.

/**
 * An approximately least-recently-used map bounded by entry count, in two generations: reads
 * and writes go to the current one; when it holds half the capacity it becomes the old one
 * and the previous old one is dropped whole; a hit in the old one moves the entry back. Every
 * operation is O(1). (A single Map evicting its first key is not: V8 leaves deleted entries
 * at the front of the table, and finding the first live key behind them cost ~13 µs per
 * eviction at 20,000 entries, a third of a LevelDB read.)
 */
export class Lru<K, V> {
  #current = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #generation: number;

  constructor(readonly capacity: number) {
    this.#generation = Math.max(1, Math.ceil(capacity / 2));
  }

  get(key: K): V | undefined {
    const hit = this.#current.get(key);
    if (hit !== undefined) return hit;
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.#old.delete(key);
      this.#add(key, old);
    }
    return old;
  }

  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    if (this.#current.has(key)) {
      this.#current.set(key, value);
      return;
    }
    this.#old.delete(key);
    this.#add(key, value);
  }

  #add(key: K, value: V): void {
    this.#current.set(key, value);
    if (this.#current.size >= this.#generation) {
      this.#old = this.#current;
      this.#current = new Map();
    }
  }

  delete(key: K): void {
    this.#current.delete(key);
    this.#old.delete(key);
  }

  clear(): void {
    this.#current.clear();
    this.#old.clear();
  }

  get size(): number {
    return this.#current.size + this.#old.size;
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
