// A search's store view (ics/ldap/read-once.ts): each record read from the store once per
// search, answers in the order asked, unknown ids undefined, and at most READ_ONCE_RECORDS kept.
import assert from 'node:assert/strict';
import { READ_ONCE_RECORDS, readOnce } from '../../ics/ldap/read-once.ts';
import { MemoryStore } from '../../ics/store/memory/index.ts';
import { device, fixture, request, secondsAgo } from '../store/records.ts';

describe('ldap: a search reads each record once', function () {
  this.timeout(60_000);

  it('reads a record a second time from what it read the first', async () => {
    const store = new MemoryStore();
    const f = await fixture();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await device(f, secondsAgo(60 - i), `urn:dev:read-once-${i}`);
      await store.write(request(d.record));
      ids.push(d.record.id);
    }
    const asked: string[] = [];
    const getMany = store.getMany.bind(store);
    store.getMany = async (wanted) => {
      asked.push(...wanted);
      return getMany(wanted);
    };
    const view = readOnce(store);
    const absent = 'f'.repeat(40);
    const first = await view.getMany([ids[0] as string, absent, ids[1] as string]);
    assert.deepEqual(first.map((s) => s?.id), [ids[0], undefined, ids[1]]);
    const second = await view.getMany([ids[1] as string, ids[2] as string, ids[0] as string]);
    assert.deepEqual(second.map((s) => s?.id), [ids[1], ids[2], ids[0]]);
    assert.equal((await view.get(ids[2] as string))?.id, ids[2]);
    // Each stored record asked for once; the absent id each time (nothing to keep).
    assert.deepEqual(asked, [ids[0], absent, ids[1], ids[2]]);
    // Another search reads afresh.
    await readOnce(store).getMany([ids[0] as string]);
    assert.deepEqual(asked.at(-1), ids[0]);
  });

  it(`keeps at most ${READ_ONCE_RECORDS} records`, async () => {
    const store = new MemoryStore();
    const f = await fixture();
    const ids: string[] = [];
    for (let i = 0; i < READ_ONCE_RECORDS + 2; i++) {
      const d = await device(f, secondsAgo(600 - i), `urn:dev:bound-${i}`);
      await store.write(request(d.record));
      ids.push(d.record.id);
    }
    let reads = 0;
    const getMany = store.getMany.bind(store);
    store.getMany = async (wanted) => {
      reads += wanted.length;
      return getMany(wanted);
    };
    const view = readOnce(store);
    assert.equal((await view.getMany(ids)).filter((s) => s !== undefined).length, ids.length);
    assert.equal((await view.getMany(ids)).filter((s) => s !== undefined).length, ids.length);
    assert.equal(reads, ids.length + 2, 'the two past the bound were read again');
  });
});
