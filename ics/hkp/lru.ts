// A small cache that forgets the least recently used entries, cheaply: two generations of
// Maps. Hits in the young generation cost one lookup (no reordering per hit, unlike a
// delete-and-reinsert LRU); hits in the old one move the entry young. When the young
// generation is full it becomes the old one and the old one is dropped, so at most
// `capacity` entries are held and every entry used since the last turnover survives it.

export class Lru<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #half: number;

  constructor(readonly capacity: number) {
    this.#half = Math.max(1, Math.ceil(capacity / 2));
  }

  get(key: K): V | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.#old.delete(key);
      this.#put(key, old);
    }
    return old;
  }

  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    this.#old.delete(key);
    this.#put(key, value);
  }

  delete(key: K): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  #put(key: K, value: V): void {
    if (!this.#young.has(key) && this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }
}
