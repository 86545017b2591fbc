// The admission filter's doorkeeper: a key added is remembered for at least half its
// capacity of later insertions and forgotten after its capacity; 0 remembers nothing.
import assert from 'node:assert/strict';
import { Doorkeeper } from '../../ics/store/index.ts';

describe('store/doorkeeper', () => {
  it('remembers a key for at least half the capacity of later insertions, and forgets it after the capacity', () => {
    const d = new Doorkeeper<string>(100);
    d.add('k');
    for (let i = 0; i < 49; i++) d.add(`a${i}`);
    assert.ok(d.has('k'), 'remembered through half the capacity');
    for (let i = 0; i < 100; i++) d.add(`b${i}`);
    assert.equal(d.has('k'), false, 'forgotten after the capacity');
    assert.ok(d.size <= 100, `holds at most its capacity (${d.size})`);
  });

  it('deletes, clears, and with capacity 0 remembers nothing', () => {
    const d = new Doorkeeper<string>(10);
    d.add('x');
    d.delete('x');
    assert.equal(d.has('x'), false);
    d.add('y');
    d.clear();
    assert.equal(d.has('y'), false);
    const none = new Doorkeeper<string>(0);
    none.add('z');
    assert.equal(none.has('z'), false);
    assert.equal(none.size, 0);
  });
});
