// A least-recently-used cache that does not reorder on every hit: each entry carries the
// tick of its last (re)insertion, and a hit moves it to the young end only when it has
// aged past half the capacity. A working set up to the capacity is held with plain Map
// lookups once warm; the oldest entry is evicted when the capacity is exceeded.

interface Entry<V> {
  value: V;
  tick: number;
}

export class Lru<K, V> {
  readonly #map = new Map<K, Entry<V>>();
  readonly #refreshAfter: number;
  #tick = 0;

  constructor(readonly capacity: number) {
    this.#refreshAfter = Math.max(1, Math.floor(capacity / 2));
  }

  get(key: K): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (this.#tick - entry.tick > this.#refreshAfter) {
      this.#map.delete(key);
      entry.tick = ++this.#tick;
      this.#map.set(key, entry);
    }
    return entry.value;
  }

  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    this.#map.delete(key);
    this.#map.set(key, { value, tick: ++this.#tick });
    if (this.#map.size > this.capacity) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  get size(): number {
    return this.#map.size;
  }
}
