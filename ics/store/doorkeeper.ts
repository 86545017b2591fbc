// "Seen once lately?" for a cache's admission (TinyLFU's doorkeeper): a key is admitted on its
// second use, so that reads spread over a large store do not push out what is read often.
// Two generations of plain sets instead of an LRU: a lookup that misses every cache (the
// common case at scale) records its key with a Set insertion, where an LRU insertion also
// evicts and relinks. A key is remembered for between `capacity / 2` and `capacity` later
// insertions, which is all an admission filter needs.
export class Doorkeeper<K> {
  #current = new Set<K>();
  #previous = new Set<K>();
  readonly #generation: number;

  /** Keys remembered at most; 0 remembers nothing (every key is always "new"). */
  constructor(capacity: number) {
    this.#generation = Math.max(0, Math.floor(capacity / 2));
  }

  has(key: K): boolean {
    return this.#current.has(key) || this.#previous.has(key);
  }

  add(key: K): void {
    if (this.#generation === 0) return;
    this.#current.add(key);
    if (this.#current.size >= this.#generation) {
      this.#previous = this.#current;
      this.#current = new Set();
    }
  }

  delete(key: K): void {
    this.#current.delete(key);
    this.#previous.delete(key);
  }

  clear(): void {
    this.#current.clear();
    this.#previous.clear();
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }
}
