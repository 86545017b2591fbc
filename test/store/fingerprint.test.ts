// The sync set's range summaries (ics/store/fingerprint.ts): the digest sum, the bucket index
// kept in step item by item against one built from scratch, and the LevelDB store's lazily
// built, incrementally kept index against the reference over its own items.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { CodeRecord } from '../../ics/record/index.ts';
import {
  Accumulator,
  arrayReader,
  BOUNDARY_BYTE_BELOW,
  BucketIndex,
  boundKey,
  bucketBound,
  itemKey,
  type RawItem,
  rawItems,
  type SyncBound,
  type SyncPiece,
  summarise,
} from '../../ics/store/fingerprint.ts';
import { compareIdToBound } from '../../ics/store/ids.ts';
import { LevelStore } from '../../ics/store/level/index.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import type { RecordStore, SyncItem } from '../../ics/store/types.ts';
import { type SeededRandom, seededRandom } from '../helpers/random.ts';
import { raw } from './raw-level.ts';

const sumOf = (bytes: Uint8Array) => {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] as number);
  return v;
};
const MOD = 1n << 256n;

// Every test draws its data from its own seeded generator: the same items on every run, so
// that the bounds below (piece sizes, bucket counts) are checked, never met by chance.
function randomItem(rng: SeededRandom, time: number, boundary?: boolean): SyncItem {
  const digest = rng.bytes(32);
  if (boundary !== undefined) digest[0] = boundary ? 0 : 0x80;
  return { time, id: rng.hex(20), digest: digest.toString('hex') };
}

const order = (a: SyncItem, b: SyncItem) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const inRange = (item: SyncItem, from: SyncBound, to: SyncBound | undefined) => {
  const cmp = (bound: SyncBound) => item.time - bound.time || compareIdToBound(item.id, bound.id);
  return cmp(from) >= 0 && (to === undefined || cmp(to) < 0);
};

/** Naive summary of [from, to). */
function naive(items: readonly SyncItem[], from: SyncBound, to: SyncBound | undefined) {
  return summarise(items.filter((i) => inRange(i, from, to)));
}

/** Bounds worth asking about: bucket starts of items, items themselves, prefixes, gaps. */
function someBounds(rng: SeededRandom, items: readonly SyncItem[], n: number): SyncBound[] {
  const out: SyncBound[] = [{ time: 0, id: '' }];
  for (let k = 0; k < n; k++) {
    const item = items[rng.int(items.length)];
    if (!item) break;
    const pick = rng.int(4);
    if (pick === 0) out.push(bucketBound(item.time, item.id));
    else if (pick === 1) out.push({ time: item.time, id: item.id });
    else if (pick === 2) out.push({ time: item.time, id: item.id.slice(0, 1 + rng.int(39)) });
    else out.push({ time: item.time + 1, id: '' });
  }
  return out.sort((a, b) => Buffer.compare(boundKey(a), boundKey(b)));
}

describe('sync-set fingerprints', () => {
  describe('Accumulator', () => {
    it('adds and removes digests mod 2^256, in any order', () => {
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 40 }), (digests) => {
          const acc = new Accumulator();
          let expected = 0n;
          for (const d of digests) {
            acc.addDigest(d);
            expected = (expected + sumOf(d)) % MOD;
          }
          assert.equal(sumOf(acc.sumBytes()), expected);
          assert.equal(acc.count, digests.length);
          for (const d of [...digests].reverse()) acc.subDigest(d);
          assert.equal(sumOf(acc.sumBytes()), 0n);
          assert.equal(acc.count, 0);
        }),
      );
    });

    it('wraps around: all-ones plus one is zero', () => {
      const acc = new Accumulator().addDigest(new Uint8Array(32).fill(0xff)).addDigest(Uint8Array.of(1, ...new Uint8Array(31)));
      assert.equal(sumOf(acc.sumBytes()), 0n);
    });
  });

  describe('BucketIndex', () => {
    it('kept item by item equals one built from the items, and answers as a scan does', async () => {
      const rng = seededRandom(0x1d3);
      for (let round = 0; round < 20; round++) {
        let items: SyncItem[] = [];
        const index = new BucketIndex();
        const reader = () => arrayReader(rawItems([...items].sort(order)));
        for (let step = 0; step < 40; step++) {
          // A batch of adds and removes, then settle (as a store commits a group).
          const adds = Array.from({ length: rng.int(30) }, () => randomItem(rng, 1000 + rng.int(50) * 1000, rng.chance(0.1) ? true : undefined));
          const removes = items.filter(() => rng.chance(0.08));
          items = items.filter((i) => !removes.includes(i)).concat(adds);
          for (const r of removes) index.remove(itemKey(r.time, r.id) as Buffer, Buffer.from(r.digest, 'hex'));
          for (const a of adds) index.add(itemKey(a.time, a.id) as Buffer, Buffer.from(a.digest, 'hex'));
          await index.settle(reader());
        }
        items.sort(order);
        const fresh = BucketIndex.fromItems(rawItems(items));
        assert.equal(index.bucketCount, fresh.bucketCount, 'same buckets');
        assert.equal(index.count, items.length);
        const read = reader();
        const bounds = someBounds(rng, items, 12);
        const got = await index.summaries(bounds.map(boundKey), undefined, read);
        const want = bounds.map((b, i) => naive(items, b, bounds[i + 1]));
        assert.deepEqual(got, want);
        for (let k = 0; k + 1 < bounds.length; k++) {
          const from = bounds[k] as SyncBound;
          const to = k + 2 < bounds.length ? bounds[k + 1] : undefined;
          const a = await index.split(boundKey(from), from, to && boundKey(to), 16, read);
          const b = await fresh.split(boundKey(from), from, to && boundKey(to), 16, read);
          assert.deepEqual(a, b);
          checkPieces(items, from, to, a, 16);
        }
      }
    });

    it('encodes to bytes that decode to the same index, and refuses bytes that are not one', async () => {
      const rng = seededRandom(0xb0c);
      const items = Array.from({ length: 3000 }, (_, i) => randomItem(rng, 1000 * (1 + Math.floor(i / 3)))).sort(order);
      const index = BucketIndex.fromItems(rawItems(items));
      const bytes = index.encode() as Buffer;
      const decoded = BucketIndex.decode(bytes) as BucketIndex;
      assert.ok(decoded, 'decodes');
      assert.equal(decoded.bucketCount, index.bucketCount);
      assert.ok(index.bucketCount > 20);
      assert.deepEqual(decoded.encode(), bytes);
      const read = arrayReader(rawItems(items));
      const bounds = someBounds(rng, items, 20);
      assert.deepEqual(await decoded.summaries(bounds.map(boundKey), undefined, read), await index.summaries(bounds.map(boundKey), undefined, read));
      // Kept in step after decoding as before.
      const added = randomItem(rng, 1000 * 500, true);
      for (const i of [index, decoded]) i.add(itemKey(added.time, added.id) as Buffer, Buffer.from(added.digest, 'hex'));
      assert.equal(decoded.encode(), undefined, 'an index with a split pending is not encoded');
      const all = [...items, added].sort(order);
      for (const i of [index, decoded]) await i.settle(arrayReader(rawItems(all)));
      assert.deepEqual(decoded.encode(), index.encode());

      assert.equal(BucketIndex.decode(bytes.subarray(0, bytes.length - 1)), undefined, 'truncated');
      assert.equal(BucketIndex.decode(Buffer.concat([bytes, Buffer.of(0)])), undefined, 'trailing bytes');
      assert.equal(BucketIndex.decode(Buffer.concat([Buffer.of(99), bytes.subarray(1)])), undefined, 'unknown version');
      // Two buckets swapped: start keys must increase.
      const swapped = Buffer.from(bytes);
      const first = 5 + 42 + swapped[5]! + swapped[6]!;
      const len = (at: number) => 42 + swapped[at]! + swapped[at + 1]!;
      const second = first + len(first);
      const a = Buffer.from(bytes.subarray(first, second));
      const b = Buffer.from(bytes.subarray(second, second + len(second)));
      Buffer.concat([b, a]).copy(swapped, first);
      assert.equal(BucketIndex.decode(swapped), undefined, 'start keys out of order');
      assert.equal(BucketIndex.decode(Buffer.alloc(0)), undefined, 'empty');
    });

    it('cuts a large range at bucket starts into near-equal pieces, and one piece inside a bucket', async () => {
      const rng = seededRandom(0x5000);
      const items = Array.from({ length: 5000 }, (_, i) => randomItem(rng, 1000 * (1 + Math.floor(i / 4)))).sort(order);
      const index = BucketIndex.fromItems(rawItems(items));
      const read = arrayReader(rawItems(items));
      const from = { time: 0, id: '' };
      const pieces = await index.split(boundKey(from), from, undefined, 16, read);
      assert.equal(pieces.length, 16);
      checkPieces(items, from, undefined, pieces, 16);
      // Bucket sizes are geometric (mean 64, the largest of ~80 often 300 or more), so piece
      // sizes vary with the data: what holds for any data is where the cuts fall. Each piece
      // ends at the first bucket start at or after its share of the items (and after the
      // previous cut), so no piece exceeds a share plus the largest bucket.
      const starts = items.flatMap((it, i) => (i > 0 && Buffer.from(it.digest, 'hex')[0] as number < BOUNDARY_BYTE_BELOW ? [i] : []));
      const largestBucket = Math.max(...[0, ...starts, items.length].map((s, i, all) => (all[i + 1] ?? s) - s));
      const share = items.length / 16;
      let position = 0;
      pieces.forEach((p, k) => {
        if (k > 0) {
          const previous = position - (pieces[k - 1] as SyncPiece).count;
          const want = starts.find((s) => s >= k * share && s > previous);
          assert.equal(position, want, `piece ${k} starts at item ${position}, not at the first bucket start from ${Math.ceil(k * share)}`);
        }
        assert.ok(p.count > 0 && p.count <= share + largestBucket, `piece of ${p.count} (share ${share}, largest bucket ${largestBucket})`);
        position += p.count;
      });
      // Two adjacent items in the middle of a bucket: nothing to cut at.
      const at = items.findIndex((it, i) => i > 100 && Buffer.from(it.digest, 'hex')[0] as number >= BOUNDARY_BYTE_BELOW);
      const a = items[at] as SyncItem;
      const b = items[at + 1] as SyncItem;
      const one = await index.split(boundKey(a), a, boundKey(b), 16, read);
      assert.equal(one.length, 1);
      assert.equal(one[0]?.count, 1);
    });
  });

  describe('stores', () => {
    const dirs: string[] = [];
    after(async () => {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    });

    it('the LevelDB store builds its index lazily, keeps it in step and answers as the reference', async function () {
      this.timeout(60_000);
      const dir = await mkdtemp(join(tmpdir(), 'ics-fp-test-'));
      dirs.push(dir);
      const level = await LevelStore.open({ path: dir, syncWrites: false });
      const memory = await createMemoryStore();
      const rng = seededRandom(0xf00d);
      try {
        const write = async (stores: RecordStore[], n: number) => {
          const records = Array.from({ length: n }, () => fakeCode(rng, 1_700_000_000_000 + rng.int(400) * 1000));
          for (const s of stores) await Promise.all(records.map((record) => s.write(codeRequest(record))));
        };
        await write([level, memory], 1500);
        await compare(rng, level, memory); // builds the index
        await write([level, memory], 1500); // kept in step, with splits
        await compare(rng, level, memory);
        await level.close();
        // Opened anew with the saved index deleted: rebuilt from the set.
        await raw(dir, (db) => db.del(BUCKETS_KEY));
        const reopened = await LevelStore.open({ path: dir, syncWrites: false });
        await compare(rng, reopened, memory);
        await reopened.close();
      } finally {
        await level.close();
        await memory.close();
      }
    });

    it('the LevelDB store saves its index when it closes and loads it at the next start only if nothing was written since', async function () {
      this.timeout(60_000);
      const dir = await mkdtemp(join(tmpdir(), 'ics-fp-saved-'));
      dirs.push(dir);
      const memory = await createMemoryStore();
      const rng = seededRandom(0x5a7ed);
      const sources: string[] = [];
      const open = () => LevelStore.open({ path: dir, syncWrites: false, onBucketIndex: (e) => sources.push(`${e.domain}:${e.source}`) });
      const write = async (stores: RecordStore[], n: number) => {
        const records = Array.from({ length: n }, () => fakeCode(rng, 1_700_000_000_000 + rng.int(400) * 1000));
        for (const s of stores) await Promise.all(records.map((record) => s.write(codeRequest(record))));
      };
      try {
        let level = await open();
        await write([level, memory], 1200);
        await compare(rng, level, memory);
        await level.close();
        assert.deepEqual(sources.splice(0), ['firmware:built']);

        // Nothing written since the close: the saved index answers, and is kept in step after.
        level = await open();
        await compare(rng, level, memory);
        assert.deepEqual(sources.splice(0), ['firmware:saved']);
        await write([level, memory], 800);
        await compare(rng, level, memory);
        await level.close();

        // Written by a run that never built the index (so saved nothing): the saved one is stale.
        level = await open();
        await write([level, memory], 300);
        await level.close();
        level = await open();
        await compare(rng, level, memory);
        assert.deepEqual(sources.splice(0), ['firmware:built']);
        await level.close();

        // Bytes that are not an index: rebuilt, and the answers are right.
        await raw(dir, async (db) => {
          const saved = (await db.get(BUCKETS_KEY)) as Buffer;
          await db.put(BUCKETS_KEY, saved.subarray(0, saved.length - 7));
        });
        level = await open();
        await compare(rng, level, memory);
        assert.deepEqual(sources.splice(0), ['firmware:built']);
        await level.close();
      } finally {
        await memory.close();
      }
    });
  });
});

/** The saved bucket index of domain `firmware` (meta space 00, `buckets/firmware`). */
const BUCKETS_KEY = Buffer.concat([Buffer.of(0), Buffer.from('buckets/firmware')]);


/** Pieces cover [from, to) in order, start at `from` then at bucket starts, and sum right. */
function checkPieces(items: readonly SyncItem[], from: SyncBound, to: SyncBound | undefined, pieces: ReadonlyArray<{ from: SyncBound; count: number; sum: Uint8Array }>, parts: number): void {
  assert.ok(pieces.length >= 1 && pieces.length <= parts);
  assert.deepEqual(pieces[0]?.from, from);
  pieces.forEach((p, i) => {
    const next = i + 1 < pieces.length ? (pieces[i + 1] as { from: SyncBound }).from : to;
    assert.deepEqual({ count: p.count, sum: p.sum }, naive(items, p.from, next));
  });
}

async function compare(rng: SeededRandom, store: RecordStore, reference: RecordStore): Promise<void> {
  const items = await reference.syncRange('firmware', { time: 0, id: '' }, undefined, 1e9);
  assert.deepEqual(await store.syncRange('firmware', { time: 0, id: '' }, undefined, 1e9), items);
  const bounds = someBounds(rng, items, 40);
  assert.deepEqual(await store.syncSummaries('firmware', bounds, undefined), await reference.syncSummaries('firmware', bounds, undefined));
  const whole = await store.syncSummaries('firmware', [{ time: 0, id: '' }], undefined);
  assert.deepEqual(whole, [summarise(items)]);
  for (let k = 0; k + 1 < bounds.length; k += 3) {
    const from = bounds[k] as SyncBound;
    const to = bounds[k + 4];
    const pieces = await store.syncSplit('firmware', from, to, 16);
    assert.deepEqual(pieces, await reference.syncSplit('firmware', from, to, 16));
    checkPieces(items, from, to, pieces, 16);
  }
}

/** A code record as the store reads it: enough for its indexes and content time, nothing verified. */
function fakeCode(rng: SeededRandom, createdMs: number): CodeRecord {
  const bytes = rng.bytes(64);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const subject = { name: `fw-${digest.slice(0, 6)}`, version: '1.0.0', digest: { sha256: digest } };
  return {
    type: 'code',
    kind: 'code',
    id: `sha256:${createHash('sha256').update(digest).digest('hex')}`,
    digest,
    bytes,
    statement: { type: 'cm4it.code/v1', subject },
    signatures: [{ created: new Date(createdMs) }],
  } as unknown as CodeRecord;
}

function codeRequest(record: CodeRecord) {
  return { record, domains: ['firmware'], expectedDigest: undefined, source: 'import' as const, signaturesAdded: 1, summary: 'test' };
}

export type { RawItem };
