// Reading a key range through classic-level's iterators in growing steps. Each native
// iterator reserves room for as many entries as one read asks for (64 bytes an entry) and
// keeps it until V8 collects the iterator's JavaScript object — which V8, not knowing of that
// memory, may put off for thousands of lookups: reading 1,000 at a time, as `all()` does, held
// ~200 MiB of native heap after 100,000 fuzzed lookups (`npm run bench -- reliability`, fuzz).
// Steps that start small keep that memory in proportion to what a range holds; a range of a
// few entries still costs one read, as the native side marks the iterator ended.

/** What both classic-level's entry and key iterators offer. */
export interface SteppedIterator<T> {
  nextv(size: number): Promise<T[]>;
  close(): Promise<void>;
}

/** First read: a point lookup's index entries and a record's history fit. */
const FIRST_STEP = 16;
/** Largest read: bounds the entries held per iterator and the time one read keeps a pool thread. */
const LARGEST_STEP = 1024;

/** Every entry of `iterator` up to `limit` (the iterator's own limit applies too); the iterator is closed. */
export async function readAll<T>(iterator: SteppedIterator<T>, limit = Infinity): Promise<T[]> {
  const out: T[] = [];
  try {
    for (let step = FIRST_STEP; out.length < limit; step = Math.min(step * 4, LARGEST_STEP)) {
      const items = await iterator.nextv(Math.min(step, limit - out.length));
      if (items.length === 0) break;
      for (const item of items) out.push(item);
    }
  } finally {
    await iterator.close();
  }
  return out;
}

/** Entries of `iterator` in batches, growing as `readAll`'s, until the range ends or the caller stops; the iterator is closed either way. */
export async function* steps<T>(iterator: SteppedIterator<T>): AsyncGenerator<T[]> {
  try {
    for (let step = FIRST_STEP; ; step = Math.min(step * 4, LARGEST_STEP)) {
      const items = await iterator.nextv(step);
      if (items.length === 0) return;
      yield items;
    }
  } finally {
    await iterator.close();
  }
}

/** `each` batch of `steps(iterator)` until it returns false or the range ends; the iterator is closed. */
export async function readBatches<T>(iterator: SteppedIterator<T>, each: (items: T[]) => boolean | undefined): Promise<void> {
  for await (const items of steps(iterator)) if (each(items) === false) break;
}
