// Range summaries of a domain's reconciliation set (DESIGN §6), for range-based set
// reconciliation (A. Meyer, "Range-Based Set Reconciliation", 2023; Negentropy): the count
// of the items in a range and the sum of their digests, so that sync can fingerprint ranges
// and cut them into pieces without reading every item of a 1M-item set on every round.
//
// Sum: each item's digest (sha256 of the record's canonical bytes, which determine its id
// and time) read as a 256-bit little-endian integer, added mod 2^256 — Negentropy's choice.
// A sum is incremental (an item in, an item out), so that summaries of adjacent pieces add
// up and a store can keep them per bucket. Unlike XOR, collisions cannot be found by linear
// algebra; crafting colliding sums would still take a trusted issuer's signature per item
// tried, and buys only a missed difference, never an accepted record.
//
// Buckets: the set is cut before every *boundary item* — one whose digest's first byte is
// below BOUNDARY_BYTE_BELOW, 1 item in 64 — at the bound (time, first BOUND_ID_HEX hex digits
// of its id). The cut points depend on the items alone, so two peers holding mostly the same
// set have mostly the same cut points: pieces one side cuts at its bucket starts are, on the
// other side, whole buckets too, summed without reading items. A store keeps (count, sum) per
// bucket (~n/64 entries); a summary then costs a walk over buckets plus reading at most the
// two buckets its bounds fall inside. `BucketIndex` is that structure; both stores answer
// through it, so that they cut and sum identically.
import { decodeId, encodeId, encodeIdBound } from './ids.ts';
import type { SyncBound, SyncItem, SyncPiece, SyncSummary } from './model.ts';

export type { SyncBound, SyncPiece, SyncSummary } from './model.ts';

/** Bytes of a digest and of a sum. */
export const SUM_BYTES = 32;
/**
 * An item starts a bucket when its digest's first byte is below this: 4/256 = 1 in 64, so
 * buckets average 64 items: small enough that reading one is cheap, large enough that a 1M
 * set has ~16k buckets (~5 MB of index) and a whole-set summary walks 16k entries.
 */
export const BOUNDARY_BYTE_BELOW = 4;
/**
 * Hex digits of the id kept in a bucket's start bound: 32 bits, so that neighbours in the same
 * second almost never share it, while the bound stays short on the wire (sync sends it).
 */
export const BOUND_ID_HEX = 8;
const CODE_PREFIX = 'sha256:';

/** True when an item with this digest (hex) starts a bucket. */
export function isBoundaryDigest(digestHex: string): boolean {
  return Number.parseInt(digestHex.slice(0, 2), 16) < BOUNDARY_BYTE_BELOW;
}

/** The bound a boundary item's bucket starts at: its time and the first BOUND_ID_HEX hex digits of its id. */
export function bucketBound(time: number, id: string): SyncBound {
  const cut = id.startsWith(CODE_PREFIX) ? CODE_PREFIX.length + BOUND_ID_HEX : BOUND_ID_HEX;
  return { time, id: id.slice(0, cut) };
}

// ---- keys: a bound or an item as bytes whose order is the (time, id) order ---------------------

function time64(ms: number): Buffer {
  const t = Number.isNaN(ms) || ms <= 0 ? 0 : ms >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : Math.floor(ms);
  const out = Buffer.allocUnsafe(8);
  const high = Math.floor(t / 2 ** 32);
  out.writeUInt32BE(high, 0);
  out.writeUInt32BE(t - high * 2 ** 32, 4);
  return out;
}

/** A bound as an order-preserving key (time, then the id bound of ids.ts). */
export function boundKey(bound: SyncBound): Buffer {
  return Buffer.concat([time64(bound.time), encodeIdBound(bound.id)]);
}

/** An item's key; undefined when `id` is not a record id. */
export function itemKey(time: number, id: string): Buffer | undefined {
  const encoded = encodeId(id);
  return encoded ? Buffer.concat([time64(time), encoded]) : undefined;
}

// ---- sums ------------------------------------------------------------------------------------

/** A running (count, sum mod 2^256), as eight 32-bit little-endian limbs. */
export class Accumulator {
  count = 0;
  readonly limbs = new Uint32Array(8);

  /** Adds a digest: 32 bytes of `bytes` from `offset`. */
  addDigest(bytes: Uint8Array, offset = 0): this {
    let carry = 0;
    for (let i = 0; i < 8; i++) {
      const o = offset + 4 * i;
      const word = ((bytes[o] as number) | ((bytes[o + 1] as number) << 8) | ((bytes[o + 2] as number) << 16) | ((bytes[o + 3] as number) << 24)) >>> 0;
      const v = (this.limbs[i] as number) + word + carry;
      this.limbs[i] = v >>> 0;
      carry = v > 0xffffffff ? 1 : 0;
    }
    this.count += 1;
    return this;
  }

  /** Removes a digest added before. */
  subDigest(bytes: Uint8Array, offset = 0): this {
    let borrow = 0;
    for (let i = 0; i < 8; i++) {
      const o = offset + 4 * i;
      const word = ((bytes[o] as number) | ((bytes[o + 1] as number) << 8) | ((bytes[o + 2] as number) << 16) | ((bytes[o + 3] as number) << 24)) >>> 0;
      let v = (this.limbs[i] as number) - word - borrow;
      borrow = v < 0 ? 1 : 0;
      if (v < 0) v += 0x100000000;
      this.limbs[i] = v;
    }
    this.count -= 1;
    return this;
  }

  add(other: Accumulator): this {
    let carry = 0;
    for (let i = 0; i < 8; i++) {
      const v = (this.limbs[i] as number) + (other.limbs[i] as number) + carry;
      this.limbs[i] = v >>> 0;
      carry = v > 0xffffffff ? 1 : 0;
    }
    this.count += other.count;
    return this;
  }

  sub(other: Accumulator): this {
    let borrow = 0;
    for (let i = 0; i < 8; i++) {
      let v = (this.limbs[i] as number) - (other.limbs[i] as number) - borrow;
      borrow = v < 0 ? 1 : 0;
      if (v < 0) v += 0x100000000;
      this.limbs[i] = v;
    }
    this.count -= other.count;
    return this;
  }

  clone(): Accumulator {
    const out = new Accumulator();
    out.count = this.count;
    out.limbs.set(this.limbs);
    return out;
  }

  /** The sum as 32 little-endian bytes. */
  sumBytes(): Uint8Array {
    const out = new Uint8Array(SUM_BYTES);
    const view = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) view.setUint32(4 * i, this.limbs[i] as number, true);
    return out;
  }

  summary(): SyncSummary {
    return { count: this.count, sum: this.sumBytes() };
  }
}

/** The summary of a list of items (digests in hex), computed directly: the reference. */
export function summarise(items: ReadonlyArray<{ readonly digest: string }>): SyncSummary {
  const acc = new Accumulator();
  for (const item of items) acc.addDigest(Buffer.from(item.digest, 'hex'));
  return acc.summary();
}

// ---- the bucket index ------------------------------------------------------------------------

/** One item as a store reads it for a bucket: its key (see itemKey) and its 32-byte digest. */
export interface RawItem {
  readonly key: Buffer;
  readonly digest: Uint8Array;
}

/** Reads a domain's items with keys in [from, to) (to undefined: to the end), in order. */
export type ItemReader = (from: Buffer, to: Buffer | undefined) => Promise<RawItem[]>;

interface Bucket {
  /** Start key; the lowest bound's for the head bucket, which holds the items before the first boundary. */
  readonly key: Buffer;
  readonly bound: SyncBound;
  /** Boundary items that start it (two may share a start bound); the head has none. */
  starts: number;
  readonly acc: Accumulator;
}

const HEAD_BOUND: SyncBound = Object.freeze({ time: 0, id: '' });
const HEAD_KEY = boundKey(HEAD_BOUND);
/** First byte of BucketIndex.encode's bytes: a change of layout changes it. */
const SNAPSHOT_VERSION = 1;
/** A bucket's fixed part in those bytes: key and id lengths, starts, count, sum. */
const SNAPSHOT_BUCKET_BYTES = 1 + 1 + 4 + 4 + SUM_BYTES;

function isBoundaryBytes(digest: Uint8Array): boolean {
  return (digest[0] as number) < BOUNDARY_BYTE_BELOW;
}

/** The bound and key a boundary item's bucket starts at, from the item's key. */
function startOf(key: Buffer): { key: Buffer; bound: SyncBound } {
  const time = key.readUInt32BE(0) * 2 ** 32 + key.readUInt32BE(4);
  const bound = bucketBound(time, decodeId(key, 8));
  return { key: boundKey(bound), bound };
}

/**
 * The buckets of one domain's set with (count, sum) each. Kept in step by a store (`add`,
 * `remove`, then `settle` with a reader of the committed set); answers summaries and cuts,
 * reading items only inside the buckets a bound falls in. One writer (the store's) mutates
 * it; readers may run meanwhile: the bucket list is replaced, never spliced, so a reader
 * walks a consistent list, and at worst sums a bucket that changed under it — a fingerprint
 * that is off for one round, which reconciliation treats as any other difference.
 */
export class BucketIndex {
  #buckets: readonly Bucket[] = [{ key: HEAD_KEY, bound: HEAD_BOUND, starts: 0, acc: new Accumulator() }];
  /** Boundary items added whose bucket does not exist yet: split by `settle`. */
  #pendingSplits: Array<{ key: Buffer; bound: SyncBound }> = [];

  /** Builds the index from all of a domain's items in order. */
  static fromItems(items: Iterable<RawItem>): BucketIndex {
    const index = new BucketIndex();
    index.loader()(items);
    return index;
  }

  /** A loader fed a new, empty index's items in order, in steps (building it from a scan). */
  loader(): (items: Iterable<RawItem>) => void {
    const buckets = [...this.#buckets];
    this.#buckets = buckets;
    return (items) => {
      let current = buckets.at(-1) as Bucket;
      for (const item of items) {
        if (isBoundaryBytes(item.digest)) {
          const start = startOf(item.key);
          if (Buffer.compare(start.key, current.key) === 0) current.starts += 1;
          else {
            current = { key: start.key, bound: start.bound, starts: 1, acc: new Accumulator() };
            buckets.push(current);
          }
        }
        current.acc.addDigest(item.digest);
      }
    };
  }

  /**
   * The index as bytes, to be kept across restarts (the LevelDB store saves it when it closes);
   * undefined while boundary items wait for `settle`. Per bucket: start key and bound id
   * (length-prefixed), boundary items that start it, count and sum.
   */
  encode(): Buffer | undefined {
    if (this.unsettled) return undefined;
    const buckets = this.#buckets;
    const head = Buffer.from([SNAPSHOT_VERSION, 0, 0, 0, 0]);
    head.writeUInt32BE(buckets.length, 1);
    const parts: Buffer[] = [head];
    for (const b of buckets) {
      const id = Buffer.from(b.bound.id, 'latin1');
      const fixed = Buffer.allocUnsafe(SNAPSHOT_BUCKET_BYTES);
      fixed[0] = b.key.length;
      fixed[1] = id.length;
      fixed.writeUInt32BE(b.starts, 2);
      fixed.writeUInt32BE(b.acc.count, 6);
      for (let l = 0; l < 8; l++) fixed.writeUInt32LE(b.acc.limbs[l] as number, 10 + 4 * l);
      parts.push(fixed, b.key, id);
    }
    return Buffer.concat(parts);
  }

  /** An index from `encode`'s bytes; undefined when they are not such bytes (the caller rebuilds). */
  static decode(bytes: Uint8Array): BucketIndex | undefined {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < 5 || buf[0] !== SNAPSHOT_VERSION) return undefined;
    const n = buf.readUInt32BE(1);
    const buckets: Bucket[] = [];
    let at = 5;
    let previous: Buffer | undefined;
    for (let i = 0; i < n; i++) {
      if (at + SNAPSHOT_BUCKET_BYTES > buf.length) return undefined;
      const keyLength = buf[at] as number;
      const idLength = buf[at + 1] as number;
      const starts = buf.readUInt32BE(at + 2);
      const acc = new Accumulator();
      acc.count = buf.readUInt32BE(at + 6);
      for (let l = 0; l < 8; l++) acc.limbs[l] = buf.readUInt32LE(at + 10 + 4 * l);
      at += SNAPSHOT_BUCKET_BYTES;
      if (keyLength < 8 || at + keyLength + idLength > buf.length) return undefined;
      const key = Buffer.from(buf.subarray(at, at + keyLength));
      const id = buf.toString('latin1', at + keyLength, at + keyLength + idLength);
      at += keyLength + idLength;
      // Start keys strictly increase, the first is the head's: anything else is not an index.
      if (previous ? Buffer.compare(previous, key) >= 0 : Buffer.compare(key, HEAD_KEY) !== 0) return undefined;
      previous = key;
      const time = key.readUInt32BE(0) * 2 ** 32 + key.readUInt32BE(4);
      buckets.push({ key, bound: { time, id }, starts, acc });
    }
    if (at !== buf.length || buckets.length === 0) return undefined;
    const index = new BucketIndex();
    index.#buckets = buckets;
    return index;
  }

  get bucketCount(): number {
    return this.#buckets.length;
  }

  get count(): number {
    let n = 0;
    for (const b of this.#buckets) n += b.acc.count;
    return n;
  }

  /** The whole set's summary. */
  total(): SyncSummary {
    const acc = new Accumulator();
    for (const b of this.#buckets) acc.add(b.acc);
    return acc.summary();
  }

  /** An item entered the set (committed, or committing before `settle` is called). */
  add(key: Buffer, digest: Uint8Array): void {
    const bucket = this.#buckets[locate(this.#buckets, key)] as Bucket;
    bucket.acc.addDigest(digest);
    if (!isBoundaryBytes(digest)) return;
    const start = startOf(key);
    if (Buffer.compare(bucket.key, start.key) === 0) bucket.starts += 1;
    else this.#pendingSplits.push(start);
  }

  /** An item left the set. */
  remove(key: Buffer, digest: Uint8Array): void {
    const buckets = this.#buckets;
    const at = locate(buckets, key);
    const bucket = buckets[at] as Bucket;
    bucket.acc.subDigest(digest);
    if (!isBoundaryBytes(digest)) return;
    const start = startOf(key);
    const pending = this.#pendingSplits.findIndex((p) => Buffer.compare(p.key, start.key) === 0);
    if (pending >= 0) {
      this.#pendingSplits.splice(pending, 1);
      return;
    }
    if (at === 0 || Buffer.compare(bucket.key, start.key) !== 0) return;
    bucket.starts -= 1;
    if (bucket.starts > 0) return;
    // The bucket's last boundary item left: its items join the bucket before it.
    const before = buckets[at - 1] as Bucket;
    const merged: Bucket = { ...before, acc: before.acc.clone().add(bucket.acc) };
    this.#buckets = [...buckets.slice(0, at - 1), merged, ...buckets.slice(at + 1)];
  }

  /** True when `add` left buckets to split (`settle` does it). */
  get unsettled(): boolean {
    return this.#pendingSplits.length > 0;
  }

  /**
   * Creates the buckets that boundary items added since the last call start, reading each new
   * bucket's items from the committed set. Each split is applied at once after its read, so
   * the index is a valid partition at every await. The caller is the only writer.
   */
  async settle(read: ItemReader): Promise<void> {
    const pending = this.#pendingSplits;
    this.#pendingSplits = [];
    pending.sort((a, b) => Buffer.compare(a.key, b.key));
    for (const start of pending) {
      let buckets = this.#buckets;
      const at = locate(buckets, start.key);
      const host = buckets[at] as Bucket;
      if (Buffer.compare(host.key, start.key) === 0) {
        host.starts += 1;
        continue;
      }
      const items = await read(start.key, buckets[at + 1]?.key);
      const acc = new Accumulator();
      for (const item of items) acc.addDigest(item.digest);
      buckets = this.#buckets; // unchanged: only this loop replaces the list while settling
      const shrunk: Bucket = { ...host, acc: host.acc.clone().sub(acc) };
      this.#buckets = [...buckets.slice(0, at), shrunk, { key: start.key, bound: start.bound, starts: 1, acc }, ...buckets.slice(at + 1)];
    }
  }

  /**
   * Summaries of the consecutive ranges [keys[i], keys[i+1]) and the last [keys[n-1], to).
   * Keys must not decrease (a smaller one is taken as the one before it: an empty range).
   */
  async summaries(keys: readonly Buffer[], to: Buffer | undefined, read: ItemReader): Promise<SyncSummary[]> {
    if (keys.length === 0) return [];
    const buckets = this.#buckets;
    const parts = new BucketParts(buckets, read);
    // The buckets bounds fall inside (not at their start) are read, all at once.
    const partial = new Set<number>();
    let previous = keys[0] as Buffer;
    for (const raw of [...keys, ...(to ? [to] : [])]) {
      const key = Buffer.compare(raw, previous) < 0 ? previous : raw;
      previous = key;
      const at = locate(buckets, key);
      if (Buffer.compare((buckets[at] as Bucket).key, key) !== 0) partial.add(at);
    }
    await parts.prefetch([...partial]);
    // prefix(k) = items in [start of the first key's bucket, k); a range is a difference of two.
    const running = new Accumulator(); // whole buckets [first, at)
    let at = locate(buckets, keys[0] as Buffer);
    let last = keys[0] as Buffer;
    const prefix = async (raw: Buffer | undefined): Promise<Accumulator> => {
      if (raw === undefined) {
        for (; at < buckets.length; at++) running.add((buckets[at] as Bucket).acc);
        return running.clone();
      }
      const key = Buffer.compare(raw, last) < 0 ? last : raw;
      last = key;
      const target = locate(buckets, key);
      for (; at < target; at++) running.add((buckets[at] as Bucket).acc);
      return running.clone().add(await parts.before(target, key));
    };
    const out: SyncSummary[] = [];
    let lower = await prefix(keys[0]);
    for (let i = 0; i < keys.length; i++) {
      const upper = await prefix(i + 1 < keys.length ? keys[i + 1] : to);
      out.push(upper.clone().sub(lower).summary());
      lower = upper;
    }
    return out;
  }

  /**
   * Cuts [from, to) at bucket starts into at most `parts` pieces of near-equal count: the
   * first piece starts at `from`, the others at bucket starts strictly inside the range,
   * each cut made at the first start where the count before it reaches the next multiple of
   * count / parts. One piece when no bucket starts inside the range.
   */
  async split(from: Buffer, fromBound: SyncBound, to: Buffer | undefined, parts: number, read: ItemReader): Promise<SyncPiece[]> {
    if (to !== undefined && Buffer.compare(from, to) >= 0) return [{ from: fromBound, ...new Accumulator().summary() }];
    const buckets = this.#buckets;
    const bucketParts = new BucketParts(buckets, read);
    const first = locate(buckets, from);
    // Buckets starting strictly inside the range: the candidate cut points.
    let end = first + 1;
    while (end < buckets.length && (to === undefined || Buffer.compare((buckets[end] as Bucket).key, to) < 0)) end++;
    // Pieces [from, s1), [s1, s2), …, [sm, to): bucket j's part below `to`.
    const upTo = async (j: number): Promise<Accumulator> => {
      const next = buckets[j + 1];
      if (to === undefined || (next !== undefined && Buffer.compare(next.key, to) <= 0)) return (buckets[j] as Bucket).acc.clone();
      return bucketParts.before(j, to);
    };
    const reads = new Set<number>();
    if (Buffer.compare((buckets[first] as Bucket).key, from) !== 0) reads.add(first);
    const lastNext = buckets[end];
    if (to !== undefined && !(lastNext !== undefined && Buffer.compare(lastNext.key, to) <= 0)) reads.add(end - 1);
    await bucketParts.prefetch([...reads]);
    const pieces: Accumulator[] = [];
    pieces.push((await upTo(first)).sub(await bucketParts.before(first, from)));
    for (let j = first + 1; j < end; j++) pieces.push(await upTo(j));
    const bounds = [fromBound, ...buckets.slice(first + 1, end).map((b) => b.bound)];
    return group(pieces, bounds, Math.max(1, Math.floor(parts)));
  }
}

/** Index of the last bucket whose start is ≤ key. */
function locate(buckets: readonly Bucket[], key: Buffer): number {
  let lo = 0;
  let hi = buckets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (Buffer.compare((buckets[mid] as Bucket).key, key) <= 0) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Bucket reads in flight at once when a query needs many: each is a LevelDB iterator on the
 * thread pool, and a few at a time hide its latency (measured: 1,000 partial reads of a 1M
 * store take ~0.8 s one by one, ~0.25 s eight at a time; many more at once is slower again).
 */
const PREFETCH_WINDOW = 8;

/** Reads of bucket items for one query: each bucket read at most once. */
class BucketParts {
  readonly #cache = new Map<number, RawItem[]>();

  constructor(
    private readonly buckets: readonly Bucket[],
    private readonly read: ItemReader,
  ) {}

  /** Reads buckets ahead, PREFETCH_WINDOW at a time (each read is a LevelDB round trip on the thread pool). */
  async prefetch(ats: readonly number[]): Promise<void> {
    for (let i = 0; i < ats.length; i += PREFETCH_WINDOW) {
      await Promise.all(ats.slice(i, i + PREFETCH_WINDOW).map((at) => this.#load(at)));
    }
  }

  async #load(at: number): Promise<RawItem[]> {
    let items = this.#cache.get(at);
    if (!items) {
      const bucket = this.buckets[at] as Bucket;
      items = await this.read(bucket.key, this.buckets[at + 1]?.key);
      this.#cache.set(at, items);
    }
    return items;
  }

  /** (count, sum) of bucket `at`'s items below `key`; nothing to read when `key` is its start. */
  async before(at: number, key: Buffer): Promise<Accumulator> {
    const acc = new Accumulator();
    const bucket = this.buckets[at] as Bucket;
    if (Buffer.compare(bucket.key, key) >= 0) return acc;
    for (const item of await this.#load(at)) {
      if (Buffer.compare(item.key, key) >= 0) break;
      acc.addDigest(item.digest);
    }
    return acc;
  }
}

/** Joins consecutive pieces into at most `parts` groups of near-equal count (see BucketIndex.split). */
function group(pieces: readonly Accumulator[], bounds: readonly SyncBound[], parts: number): SyncPiece[] {
  let total = 0;
  for (const p of pieces) total += p.count;
  const out: SyncPiece[] = [];
  let current = new Accumulator();
  let currentFrom = bounds[0] as SyncBound;
  let before = 0;
  let cuts = 0;
  pieces.forEach((piece, k) => {
    if (k > 0 && cuts < parts - 1 && before >= ((cuts + 1) * total) / parts && current.count > 0) {
      out.push({ from: currentFrom, ...current.summary() });
      current = new Accumulator();
      currentFrom = bounds[k] as SyncBound;
      cuts += 1;
    }
    current.add(piece);
    before += piece.count;
  });
  out.push({ from: currentFrom, ...current.summary() });
  return out;
}

/** Items (sorted, digests in hex) as the raw items a BucketIndex reads. */
export function rawItems(items: readonly SyncItem[]): RawItem[] {
  return items.map((item) => ({ key: itemKey(item.time, item.id) as Buffer, digest: Buffer.from(item.digest, 'hex') }));
}

/** An ItemReader over sorted raw items held in memory. */
export function arrayReader(items: readonly RawItem[]): ItemReader {
  const lowerIndex = (key: Buffer) => {
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Buffer.compare((items[mid] as RawItem).key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return async (from, to) => items.slice(lowerIndex(from), to === undefined ? items.length : lowerIndex(to));
}
