// The transparency log as a derived structure of the real LevelDB store: leaves appended in
// the records' batches (writes grouped into one batch included), one tree per domain, roots
// equal to a tree computed from the leaves directly, every version provable, nothing
// appended for a refused write, and the same log after the store is reopened.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CodeRecord } from '../../ics/record/index.ts';
import { openLevelStore } from '../../ics/store/level/index.ts';
import type { RecordStore } from '../../ics/store/types.ts';
import { leafHash, leafText, TransparencyLog, verifyInclusion } from '../../ics/tlog/index.ts';
import { mth } from './helpers.ts';

function fakeCode(n: number): CodeRecord {
  const bytes = randomBytes(64);
  const digest = createHash('sha256').update(bytes).digest('hex');
  return {
    type: 'code',
    kind: 'code',
    id: `sha256:${createHash('sha256').update(`record ${n}`).digest('hex')}`,
    digest,
    bytes,
    statement: { type: 'cm4it.code/v1', subject: { name: `fw-${n}`, version: '1.0.0', digest: { sha256: digest } } },
    signatures: [{ created: new Date(Date.now() - 60_000) }],
  } as unknown as CodeRecord;
}

describe('tlog: the log in the LevelDB store', () => {
  let dir: string;
  let store: RecordStore;
  let log: TransparencyLog;
  const open = async () => {
    log = new TransparencyLog();
    store = await openLevelStore({ path: join(dir, 'db'), derived: [log] });
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ics-tlog-'));
    await open();
  });

  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Every accepted version of every record, in `domain`, as leaf hashes in log order (from the event log). */
  async function expectedLeaves(domain: string): Promise<Buffer[]> {
    const events = await store.changesSince(0, 10_000);
    return events.filter((e) => e.domains.includes(domain)).map((e) => leafHash(Buffer.from(leafText({ domain, id: e.id, digest: e.digest, seq: e.seq, time: e.at }))));
  }

  it('appends each accepted version to its domains’ trees in the record’s batch; roots match the leaves', async () => {
    const records = Array.from({ length: 70 }, (_, i) => fakeCode(i));
    // Issued in one turn: the store groups them into few batches, each append seeing the one before.
    await Promise.all(records.map((record, i) => store.write({ record, domains: i % 3 === 0 ? ['firmware', 'system'] : ['firmware'], expectedDigest: undefined, source: 'import', signaturesAdded: 1, summary: 'test' })));
    for (const domain of ['firmware', 'system']) {
      const leaves = await expectedLeaves(domain);
      assert.equal(await log.size(domain), leaves.length, domain);
      assert.deepEqual(Buffer.from(await log.root(domain, leaves.length)), mth(leaves), `${domain} root`);
    }
    assert.equal(await log.size('firmware'), 70);
    assert.equal(await log.size('system'), 24);
  });

  it('proves every version at every size it was in, and nothing for a refused write', async () => {
    const size = await log.size('firmware');
    const root = Buffer.from(await log.root('firmware', size));
    for (const event of (await store.changesSince(0, 10_000)).filter((e) => e.domains.includes('firmware'))) {
      const position = await log.position('firmware', event.id, event.digest, event.seq);
      assert.ok(position, `seq ${event.seq} is in the log`);
      const leaf = leafHash(Buffer.from(leafText(position.leaf)));
      assert.ok(verifyInclusion(position.index, size, leaf, await log.inclusion('firmware', position.index, size), root));
      const smaller = Math.max(position.index + 1, size - 7);
      assert.ok(verifyInclusion(position.index, smaller, leaf, await log.inclusion('firmware', position.index, smaller), Buffer.from(await log.root('firmware', smaller))));
    }
    const conflicting = fakeCode(0); // record 0 again, but not from the stored version: CONFLICT
    await assert.rejects(store.write({ record: conflicting, domains: ['firmware'], expectedDigest: undefined, source: 'import', signaturesAdded: 1, summary: 'test' }), /changed since it was read/);
    assert.equal(await log.size('firmware'), size);
  });

  it('serves C2SP hash tiles: level 0 lists the leaf hashes, level 1 the roots of each 256 leaves', async () => {
    const before = await log.size('firmware');
    // Past 512 leaves: two complete level-1 hashes.
    await Promise.all(Array.from({ length: 520 - before }, (_, i) => store.write({ record: fakeCode(2000 + i), domains: ['firmware'], expectedDigest: undefined, source: 'import', signaturesAdded: 1, summary: 'test' })));
    const leaves = await expectedLeaves('firmware');
    assert.equal(leaves.length, 520);
    assert.deepEqual(await log.tile('firmware', 0, 0, 256), Buffer.concat(leaves.slice(0, 256)));
    assert.deepEqual(await log.tile('firmware', 0, 2, 8), Buffer.concat(leaves.slice(512, 520)), 'a partial tile');
    assert.equal(await log.tile('firmware', 0, 2, 9), undefined, 'not wider than the tree');
    assert.deepEqual(await log.tile('firmware', 1, 0, 2), Buffer.concat([mth(leaves.slice(0, 256)), mth(leaves.slice(256, 512))]));
    assert.equal(await log.tile('firmware', 1, 0, 3), undefined);
  });

  it('has the root of its leaves at every size, and finds every version by its sequence number (leaves kept in bundles of 16)', async () => {
    const leaves = await expectedLeaves('firmware');
    for (let n = 1; n <= leaves.length; n++) assert.deepEqual(Buffer.from(await log.root('firmware', n)), mth(leaves.slice(0, n)), `root at ${n}`);
    const events = (await store.changesSince(0, 10_000)).filter((e) => e.domains.includes('firmware'));
    for (const [index, event] of events.entries()) {
      const position = await log.position('firmware', event.id, event.digest, event.seq);
      assert.equal(position?.index, index, `seq ${event.seq}`);
      assert.equal(position?.leaf.time.getTime(), event.at.getTime());
    }
    // A sequence number the domain's log does not hold (another domain's change, or none at all).
    const other = (await store.changesSince(0, 10_000)).find((e) => !e.domains.includes('firmware'));
    if (other) assert.equal(await log.position('firmware', other.id, other.digest, other.seq), undefined);
    assert.equal(await log.position('firmware', 'x', 'y', 1e9), undefined);
  });

  it('is the same log after the store is reopened, and goes on growing from there', async () => {
    const size = await log.size('firmware');
    const root = Buffer.from(await log.root('firmware', size));
    await store.close();
    await open();
    assert.equal(await log.size('firmware'), size);
    assert.deepEqual(Buffer.from(await log.root('firmware', size)), root);
    await store.write({ record: fakeCode(1000), domains: ['firmware'], expectedDigest: undefined, source: 'import', signaturesAdded: 1, summary: 'test' });
    const leaves = await expectedLeaves('firmware');
    assert.equal(await log.size('firmware'), size + 1);
    assert.deepEqual(Buffer.from(await log.root('firmware', size + 1)), mth(leaves));
  });
});

describe('tlog: a store that held records before the log', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ics-tlog-replay-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gets every earlier version in its log once, when it first opens with it, in order; later writes follow', async () => {
    const path = join(dir, 'db');
    const write = (store: RecordStore, record: CodeRecord, domains: string[]) => store.write({ record, domains, expectedDigest: undefined, source: 'import', signaturesAdded: 1, summary: 'test' });
    const before = await openLevelStore({ path });
    // More than one replay page (1,000 events), in two domains.
    for (let i = 0; i < 1100; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => write(before, fakeCode(i + j), (i + j) % 4 === 0 ? ['firmware', 'system'] : ['firmware'])));
    await before.close();

    const log = new TransparencyLog();
    const caughtUp: Array<{ structure: string; events: number }> = [];
    let store = await openLevelStore({ path, derived: [log], onCatchUp: ({ structure, events }) => caughtUp.push({ structure, events }) });
    // Said once, for the operator's log: which structure, how many events (1,100 writes).
    assert.deepEqual(caughtUp, [{ structure: log.name, events: 1100 }]);
    const leavesOf = async (domain: string) =>
      (await store.changesSince(0, 10_000)).filter((e) => e.domains.includes(domain)).map((e) => leafHash(Buffer.from(leafText({ domain, id: e.id, digest: e.digest, seq: e.seq, time: e.at }))));
    try {
      for (const [domain, count] of [['firmware', 1100], ['system', 275]] as const) {
        assert.equal(await log.size(domain), count, domain);
        assert.deepEqual(Buffer.from(await log.root(domain, count)), mth(await leavesOf(domain)), `${domain} root`);
      }
      await write(store, fakeCode(5000), ['firmware']);
      assert.equal(await log.size('firmware'), 1101);
      assert.deepEqual(Buffer.from(await log.root('firmware', 1101)), mth(await leavesOf('firmware')));
    } finally {
      await store.close();
    }
    // Once only: reopened, nothing is replayed again.
    const again = new TransparencyLog();
    store = await openLevelStore({ path, derived: [again], onCatchUp: ({ structure, events }) => caughtUp.push({ structure, events }) });
    assert.equal(caughtUp.length, 1, 'nothing taken in again');
    try {
      assert.equal(await again.size('firmware'), 1101);
      assert.deepEqual(Buffer.from(await again.root('firmware', 1101)), mth(await leavesOf('firmware')));
    } finally {
      await store.close();
    }
  });
});
