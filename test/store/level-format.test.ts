// The LevelDB store's token heads (store/level/keys.ts, 0c) and its format upgrade: exact token
// lookups answer the same through a head, through the range once a token has many records,
// and after a store of format 1 (no heads) is upgraded at open.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIcsError } from '../../ics/errors.ts';
import { compareIds } from '../../ics/store/index.ts';
import { LevelStore } from '../../ics/store/level/index.ts';
import type { FormatUpgrade } from '../../ics/store/level/format.ts';
import { TOKEN_HEAD_IDS } from '../../ics/store/level/ops.ts';
import { device, type Fixture, fixture, renamed, request, secondsAgo } from './records.ts';
import { raw } from './raw-level.ts';

const FORMAT_KEY = Buffer.from('00666f726d6174', 'hex');
const HEAD_SPACE = 0x0c;
const sorted = (ids: string[]) => [...ids].sort(compareIds);


describe('store/level: token heads and the format upgrade', function () {
  this.timeout(60_000);
  let f: Fixture;
  let dir: string;
  /** More devices than a head lists, all holding the token `cam-3`. */
  let devices: Array<Awaited<ReturnType<typeof device>>>;
  const serialOf = (d: { userId: string }) => (d.userId.split(':').at(-1) as string).toLowerCase();

  before(async () => {
    f = await fixture();
    devices = [];
    for (let i = 0; i < TOKEN_HEAD_IDS + 4; i++) devices.push(await device(f, secondsAgo(100 - i)));
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ics-store-format-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function filled(): Promise<LevelStore> {
    const store = await LevelStore.open({ path: join(dir, 'db'), syncWrites: false });
    for (const d of devices) await store.write(request(d.record));
    return store;
  }

  it('answers a token few records hold from its head, and one many hold from the range', async () => {
    let store = await filled();
    const all = sorted(devices.map((d) => d.record.id));
    assert.deepEqual(sorted(await store.findByToken('cam-3', { limit: 100 })), all);
    assert.equal((await store.findByToken('cam-3', { limit: 3 })).length, 3);
    for (const d of devices) assert.deepEqual(await store.findByToken(serialOf(d), { limit: 10 }), [d.record.id]);
    // Renaming moves records off tokens: the head of a serial empties, the many-record token shrinks.
    const moved = devices.slice(0, 5);
    for (const d of moved) {
      const expectedDigest = (await store.get(d.record.id))?.digest;
      await store.write(request(await renamed(d.identity, `urn:cm4it:device:acme.example:cam-9:${serialOf(d)}x`, secondsAgo(10)), { expectedDigest }));
    }
    assert.deepEqual(sorted(await store.findByToken('cam-3', { limit: 100 })), sorted(devices.slice(5).map((d) => d.record.id)));
    assert.deepEqual(sorted(await store.findByToken('cam-9', { limit: 100 })), sorted(moved.map((d) => d.record.id)));
    for (const d of moved) assert.deepEqual(await store.findByToken(serialOf(d), { limit: 10 }), [], serialOf(d));
    await store.close();

    const heads = await raw(join(dir, 'db'), async (db) => ({
      many: await db.get(Buffer.concat([Buffer.of(HEAD_SPACE), Buffer.from('cam-3')])),
      few: await db.get(Buffer.concat([Buffer.of(HEAD_SPACE), Buffer.from('cam-9')])),
      gone: await db.get(Buffer.concat([Buffer.of(HEAD_SPACE), Buffer.from(serialOf(devices[0] as { userId: string }))])),
    }));
    assert.deepEqual(heads.many, Buffer.of(0xff), 'a token that had more records than a head holds is marked');
    assert.equal(heads.few?.length, 5 * 21, 'five compact fingerprint ids');
    assert.equal(heads.gone, undefined, 'an empty head is deleted');
    store = await LevelStore.open({ path: join(dir, 'db') });
    assert.deepEqual(sorted(await store.findByToken('cam-3', { limit: 100 })), sorted(devices.slice(5).map((d) => d.record.id)), 'after reopening');
    await store.close();
  });

  it('upgrades a store of format 1 at open, building the heads its lookups then use', async () => {
    let store = await filled();
    const tokens = ['cam-3', 'acme', 'device', ...devices.slice(0, 3).map(serialOf), 'no-such-token'];
    const before = await Promise.all(tokens.map(async (t) => sorted(await store.findByToken(t, { limit: 100 }))));
    await store.close();
    // What a store written by the previous version holds: no heads, format 1.
    await raw(join(dir, 'db'), async (db) => {
      await db.clear({ gte: Buffer.of(HEAD_SPACE), lt: Buffer.of(HEAD_SPACE + 1) });
      await db.put(FORMAT_KEY, Buffer.of(1));
    });
    const upgrades: FormatUpgrade[] = [];
    store = await LevelStore.open({ path: join(dir, 'db'), onUpgrade: (u) => upgrades.push(u) });
    assert.equal(upgrades.length, 1);
    assert.equal(upgrades[0]?.from, 1);
    assert.equal(upgrades[0]?.to, 2);
    assert.ok((upgrades[0]?.heads ?? 0) > devices.length, 'a head per serial at least');
    const after = await Promise.all(tokens.map(async (t) => sorted(await store.findByToken(t, { limit: 100 }))));
    assert.deepEqual(after, before);
    assert.equal(before[0]?.length, devices.length);
    await store.close();
    assert.deepEqual(await raw(join(dir, 'db'), (db) => db.get(FORMAT_KEY)), Buffer.of(2));
    // Opened again, nothing is upgraded.
    store = await LevelStore.open({ path: join(dir, 'db'), onUpgrade: (u) => upgrades.push(u) });
    await store.close();
    assert.equal(upgrades.length, 1);
  });

  it('refuses a store of a format it does not know, and changes nothing', async () => {
    const store = await filled();
    await store.close();
    await raw(join(dir, 'db'), (db) => db.put(FORMAT_KEY, Buffer.of(9)));
    await assert.rejects(LevelStore.open({ path: join(dir, 'db') }), (error) => isIcsError(error, 'UNAVAILABLE') && /format 9/.test(error.message));
    assert.deepEqual(await raw(join(dir, 'db'), (db) => db.get(FORMAT_KEY)), Buffer.of(9));
  });
});
