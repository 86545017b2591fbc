// The HTTP host's record cache (http/record-cache.ts): one made value per record id, so a
// record's newer version replaces the older, and bounded by bytes as well as by count.
import assert from 'node:assert/strict';
import { ANSWER_CACHE_BYTES } from '../../ics/http/limits.ts';
import { RecordCache } from '../../ics/http/record-cache.ts';
import type { StoredRecord } from '../../ics/store/types.ts';

function version(id: string, digest: string): StoredRecord {
  return { id, digest, kind: 'device', bytes: new Uint8Array(0), domains: ['devices'], contentTime: new Date(0), updated: new Date(0), seq: 1 };
}

describe('http: record cache', () => {
  it('makes each version once, and a newer version of a record replaces the older', () => {
    const cache = new RecordCache();
    const made: string[] = [];
    const text = (v: StoredRecord) => cache.armored(v, () => (made.push(v.digest), `text of ${v.digest}`)).toString();
    const [v1, v2] = [version('r', 'd1'), version('r', 'd2')];
    assert.equal(text(v1), 'text of d1');
    assert.equal(text(v1), 'text of d1');
    assert.deepEqual(made, ['d1'], 'made once while it is the cached version');
    assert.equal(text(v2), 'text of d2', 'another version is not answered with the older text');
    assert.equal(text(v1), 'text of d1');
    assert.deepEqual(made, ['d1', 'd2', 'd1'], 'the newer version took the older one’s place');
  });

  it('holds no more armored bytes than its bound, however few the entries', () => {
    const cache = new RecordCache();
    const big = 'x'.repeat(1024 * 1024);
    const count = Math.ceil(ANSWER_CACHE_BYTES / big.length) + 2;
    let made = 0;
    const get = (i: number) => cache.armored(version(`r${i}`, 'd'), () => (made++, big));
    for (let i = 0; i < count; i++) get(i);
    assert.equal(made, count);
    get(count - 1);
    assert.equal(made, count, 'the newest is still held');
    get(0);
    assert.equal(made, count + 1, `the oldest was dropped: ${count} MiB do not fit in ${ANSWER_CACHE_BYTES / 1048576} MiB`);
  });
});
