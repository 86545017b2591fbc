// The LevelDB store's hot-record cache on its own (store/level/cache.ts): the bounded map,
// off at capacity 0, and the commit clock that keeps a read which raced a commit from caching
// the version the commit replaced.
import assert from 'node:assert/strict';
import { CommitClock, Lru } from '../../ics/store/level/cache.ts';

describe('store/level cache', () => {
  it('holds at most its capacity, dropping the least recently used', () => {
    const lru = new Lru<string, number>(3);
    for (const [i, k] of ['a', 'b', 'c'].entries()) lru.set(k, i);
    assert.equal(lru.get('a'), 0);
    lru.set('d', 3);
    assert.equal(lru.size, 3);
    assert.equal(lru.get('b'), undefined, 'b was used least recently');
    assert.deepEqual(['a', 'c', 'd'].map((k) => lru.get(k)), [0, 2, 3]);
    lru.delete('a');
    assert.equal(lru.get('a'), undefined);
    lru.clear();
    assert.equal(lru.size, 0);
  });

  it('holds at most its byte bound, whatever the count allows', () => {
    const lru = new Lru<string, Buffer>(100, { maxBytes: 1000, sizeOf: (b) => b.length });
    for (let i = 0; i < 10; i++) lru.set(`k${i}`, Buffer.alloc(300));
    assert.equal(lru.size, 3, 'three values of 300 bytes fit in 1,000');
    assert.equal(lru.bytes, 900);
    assert.ok(lru.get('k9') && lru.get('k7') && !lru.get('k6'), 'the newest stay');
    lru.set('k9', Buffer.alloc(900));
    assert.ok(lru.bytes <= 1000, `a value that grew in place pushes others out (${lru.bytes} bytes held)`);
    lru.set('big', Buffer.alloc(2000));
    assert.equal(lru.get('big'), undefined, 'a value larger than the bound is not kept');
    const off = new Lru<string, Buffer>(100, { maxBytes: 0, sizeOf: (b) => b.length });
    off.set('a', Buffer.alloc(1));
    assert.equal(off.get('a'), undefined, 'a byte bound of 0 turns the cache off');
  });

  it('holds nothing at capacity 0 (cacheRecords: 0)', () => {
    const off = new Lru<string, number>(0);
    off.set('a', 1);
    assert.equal(off.get('a'), undefined);
    assert.equal(off.size, 0);
  });

  it('a read is current unless a commit since it started wrote its id', () => {
    const clock = new CommitClock();
    const start = clock.now();
    assert.equal(clock.unchangedSince(start, 'x'), true);
    clock.committed(new Set(['y']));
    assert.equal(clock.unchangedSince(start, 'x'), true, 'another id was written');
    clock.committed(new Set(['x']));
    assert.equal(clock.unchangedSince(start, 'x'), false, 'x was written after the read started');
    assert.equal(clock.unchangedSince(clock.now(), 'x'), true, 'a read started after that commit is current');
  });

  it('a read that overlapped more commits than it remembers is not current', () => {
    const clock = new CommitClock();
    const start = clock.now();
    for (let i = 0; i < 100; i++) clock.committed(new Set([`other-${i}`]));
    assert.equal(clock.unchangedSince(start, 'x'), false, 'it cannot tell, so the cache is not filled');
  });
});
