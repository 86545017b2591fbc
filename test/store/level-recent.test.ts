// The LevelDB store's memory of records it read a moment ago (store.ts #recent): a lookup that
// reads a record and the read right after it share one LevelDB read, and a commit that writes
// the record makes the next read see the new version, with the record cache on or off.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore } from '../../ics/store/level/index.ts';
import { device, type Fixture, fixture, renamed, request, secondsAgo } from './records.ts';

describe('store/level: records read a moment ago', function () {
  this.timeout(60_000);
  let f: Fixture;
  let dir: string;
  before(async () => {
    f = await fixture();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ics-store-recent-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const cacheRecords of [0, 100]) {
    it(`never answers with a version a later commit replaced (record cache ${cacheRecords})`, async () => {
      const store = await LevelStore.open({ path: join(dir, 'db'), syncWrites: false, cacheRecords });
      try {
        const d = await device(f, secondsAgo(100));
        await store.write(request(d.record));
        const id = d.record.id;
        for (let version = 1; version <= 3; version++) {
          // Read it every way a search does: lookup by fingerprint, then the record, then in a batch.
          assert.deepEqual(await store.findByFingerprint(id, { limit: 4 }), [id]);
          const before = await store.get(id);
          assert.ok(before);
          assert.deepEqual((await store.getMany([id])).map((s) => s?.digest), [before.digest]);
          const next = await renamed(d.identity, `urn:cm4it:device:acme.example:cam-${version}:renamed`, secondsAgo(100 - version));
          await store.write(request(next, { expectedDigest: before.digest }));
          const after = await store.get(id);
          assert.equal(after?.digest, next.digest, `version ${version}: get sees the commit`);
          assert.notEqual(after?.digest, before.digest);
          assert.deepEqual((await store.getMany([id, id])).map((s) => s?.digest), [next.digest, next.digest], `version ${version}: getMany sees the commit`);
        }
      } finally {
        await store.close();
      }
    });
  }
});
