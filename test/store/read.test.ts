// Range reads in growing steps (store/level/read.ts), on a real LevelDB: every entry is read,
// limits hold, the iterator is closed, and the first read asks for few entries — the native
// iterator keeps room for as many as one read asks for until V8 collects it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { readAll, readBatches, type SteppedIterator } from '../../ics/store/level/read.ts';

/** The iterator with the sizes asked of it recorded, and whether it was closed. */
function watched<T>(inner: SteppedIterator<T>): SteppedIterator<T> & { sizes: number[]; closed: boolean } {
  const w = {
    sizes: [] as number[],
    closed: false,
    nextv: (size: number) => {
      w.sizes.push(size);
      return inner.nextv(size);
    },
    close: async () => {
      w.closed = true;
      await inner.close();
    },
  };
  return w;
}

describe('store/level stepped range reads', () => {
  let dir: string;
  let db: ClassicLevel<string, string>;
  const keys = Array.from({ length: 3000 }, (_, i) => `k${String(i).padStart(5, '0')}`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ics-read-'));
    db = new ClassicLevel(join(dir, 'db'));
    await db.batch(keys.map((key) => ({ type: 'put' as const, key, value: key.toUpperCase() })));
  });
  after(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a whole range, small steps first, and closes the iterator', async () => {
    const it = watched(db.iterator());
    const all = await readAll(it);
    assert.deepEqual(all.map(([k]) => k), keys);
    assert.equal(all[42]?.[1], keys[42]?.toUpperCase());
    assert.ok((it.sizes[0] ?? Infinity) <= 16, `first read asked for ${it.sizes[0]}`);
    assert.ok(Math.max(...it.sizes) <= 1024, `a read asked for ${Math.max(...it.sizes)}`);
    assert.ok(it.closed);
  });

  it('a short range comes whole from the first read', async () => {
    const it = db.keys({ gte: 'k00010', lt: 'k00013' });
    const first = it.nextv.bind(it);
    const answers: string[][] = [];
    it.nextv = async (size: number) => {
      const got = await first(size);
      answers.push(got);
      return got;
    };
    assert.deepEqual(await readAll(it), ['k00010', 'k00011', 'k00012']);
    assert.deepEqual(answers[0], ['k00010', 'k00011', 'k00012']);
  });

  it('stops at the limit given and at the iterator own', async () => {
    const mine = watched(db.keys());
    assert.deepEqual(await readAll(mine, 20), keys.slice(0, 20));
    assert.ok(mine.sizes.reduce((a, b) => a + b, 0) <= 20, 'never asks past the limit');
    assert.deepEqual(await readAll(db.keys({ limit: 100 })), keys.slice(0, 100));
  });

  it('batches stop when the reader says so, and the iterator is closed', async () => {
    const it = watched(db.keys());
    const seen: string[] = [];
    await readBatches(it, (batch) => {
      seen.push(...batch);
      return seen.length < 50;
    });
    assert.ok(seen.length >= 50 && seen.length < 200, `read ${seen.length}`);
    assert.deepEqual(seen, keys.slice(0, seen.length));
    assert.ok(it.closed);
  });

  it('closes the iterator when a read fails', async () => {
    const it = watched(db.keys());
    it.nextv = () => Promise.reject(new Error('boom'));
    await assert.rejects(readAll(it), /boom/);
    assert.ok(it.closed);
  });
});
