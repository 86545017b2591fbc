// The tests' seeded PRNG: the same seed gives the same data, and the values are in range.
import assert from 'node:assert/strict';
import { seededRandom } from './random.ts';

describe('test helper: seededRandom', () => {
  it('repeats a sequence for a seed and differs between seeds', () => {
    const take = (seed: number) => {
      const r = seededRandom(seed);
      return [r.next(), r.int(1000), r.hex(7)];
    };
    assert.deepEqual(take(42), take(42));
    assert.notDeepEqual(take(42), take(43));
  });

  it('stays in range and spreads evenly', () => {
    const r = seededRandom(7);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const n = r.int(10);
      assert.ok(Number.isInteger(n) && n >= 0 && n < 10);
      counts[n] = (counts[n] as number) + 1;
    }
    // Deterministic for this seed; a generator stuck on few values would fail it.
    for (const c of counts) assert.ok(c > 900 && c < 1100, `bucket of ${c}`);
    assert.equal(r.bytes(5).length, 5);
    assert.equal(r.hex(3).length, 6);
  });
});
