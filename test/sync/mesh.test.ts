// Sync between real nodes on 127.0.0.1 (libp2p over TCP, Noise, Yamux): two nodes converging
// both ways on LevelDB, a change flowing back, periodic reconciliation healing what was not
// announced, a chain of three relaying, and a four-role mesh where a private domain stays home.
import assert from 'node:assert/strict';
import type { RecordStore } from '../../ics/store/types.ts';
import { eventually, items, records, removeTempDirs, startMesh, stopAll, type TestNode } from './helpers/nodes.ts';

const cli = { source: 'cli' as const };

async function submitAll(node: TestNode, list: ReadonlyArray<{ bytes: Buffer }>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < list.length) await node.ingest.submit((list[next++] as { bytes: Buffer }).bytes, cli);
  }));
}

async function sameSet(a: RecordStore, b: RecordStore, domain: string): Promise<void> {
  assert.deepEqual(await items(b, domain), await items(a, domain));
}

/** Every record of the store was inserted exactly once (sync never duplicates). */
async function insertedOnce(store: RecordStore): Promise<void> {
  const events = await store.changesSince(0, 1e9);
  const inserts = new Map<string, number>();
  for (const e of events) if (e.action === 'insert') inserts.set(e.id, (inserts.get(e.id) ?? 0) + 1);
  assert.equal(inserts.size, (await store.stats()).records);
  for (const [id, n] of inserts) assert.equal(n, 1, `${id} inserted ${n} times`);
}

describe('sync: nodes on loopback', function () {
  this.timeout(120_000);
  let nodes: Map<string, TestNode> | undefined;

  afterEach(async () => {
    if (nodes) await stopAll(nodes.values());
    nodes = undefined;
  });
  after(removeTempDirs);

  it('two nodes on LevelDB converge both ways, and a change made on one reaches the other', async () => {
    const r = await records();
    const shared = Array.from({ length: 100 }, () => r.device());
    const onlyA = Array.from({ length: 250 }, () => r.device());
    const onlyB = Array.from({ length: 150 }, () => r.device());
    const both = { pull: ['devices'], push: ['devices'] };
    nodes = await startMesh([
      { name: 'a', level: true, domains: [{ name: 'devices', read: 'public' }], peers: [{ node: 'b', ...both }] },
      { name: 'b', level: true, domains: [{ name: 'devices', read: 'public' }], peers: [{ node: 'a', ...both, dial: true }] },
    ]);
    const a = nodes.get('a') as TestNode;
    const b = nodes.get('b') as TestNode;
    await Promise.all([submitAll(a, [...shared, ...onlyA]), submitAll(b, [...shared, ...onlyB])]);
    await eventually(async () => {
      assert.equal((await b.store.stats()).records, 500);
      assert.equal((await a.store.stats()).records, 500);
      await sameSet(a.store, b.store, 'devices');
    }, 30_000);

    // B learns that a device of A's was stolen (a newer integrator statement): A gets it.
    const device = onlyA[7] as (typeof onlyA)[number];
    const outcome = await b.ingest.submit(r.statement(device, 'integrator', { role: 'maintainer', status: 'stolen' }, 1_760_000_000), cli);
    assert.equal(outcome.action, 'updated');
    await eventually(async () => assert.equal((await a.store.get(device.id))?.digest, outcome.digest));
    await sameSet(a.store, b.store, 'devices');
    assert.deepEqual((await a.store.history(device.id)).map((e) => [e.action, e.source]), [['insert', 'cli'], ['update', 'peer']]);
    for (const n of [a, b]) await insertedOnce(n.store);

    // Status on both sides.
    const sa = a.service.peers().find((p) => p.peerId === b.peerId);
    const sb = b.service.peers().find((p) => p.peerId === a.peerId);
    assert.equal(sa?.connected, true);
    assert.equal(sb?.domains.find((d) => d.name === 'devices')?.state === 'definition-mismatch', false);
    assert.ok((sa?.recordsReceived ?? 0) >= 150 && (sb?.recordsReceived ?? 0) >= 250);
    assert.ok((sa?.bytesIn ?? 0) > 0 && (sa?.bytesOut ?? 0) > 0);
  });

  it('periodic reconciliation heals what no announcement carried', async () => {
    const r = await records();
    nodes = await startMesh([
      { name: 'a', domains: [{ name: 'devices', read: 'public' }], peers: [{ node: 'b', push: ['devices'] }], init: { announce: false } },
      { name: 'b', domains: [{ name: 'devices', read: 'public' }], peers: [{ node: 'a', pull: ['devices'], dial: true, intervalSeconds: 5 }] },
    ]);
    const a = nodes.get('a') as TestNode;
    const b = nodes.get('b') as TestNode;
    await submitAll(a, Array.from({ length: 20 }, () => r.device()));
    await b.service.syncNow(a.peerId);
    await sameSet(a.store, b.store, 'devices');
    const late = r.device();
    await a.ingest.submit(late.bytes, cli);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(await b.store.get(late.id), undefined, 'not announced');
    await eventually(async () => assert.ok(await b.store.get(late.id)), 9_000);
  });

  it('three nodes: a chain relays changes from one end to the other by announcements', async () => {
    const r = await records();
    const d = [{ name: 'devices' as const, read: 'public' as const }];
    nodes = await startMesh([
      { name: 'manufacturer', domains: d, peers: [{ node: 'maintenance', push: ['devices'] }] },
      { name: 'maintenance', domains: d, peers: [{ node: 'manufacturer', pull: ['devices'], dial: true }, { node: 'infield', push: ['devices'] }] },
      { name: 'infield', domains: d, peers: [{ node: 'maintenance', pull: ['devices'], dial: true }] },
    ]);
    const m = nodes.get('manufacturer') as TestNode;
    const i = nodes.get('infield') as TestNode;
    await submitAll(m, Array.from({ length: 40 }, () => r.device()));
    await eventually(() => sameSet(m.store, i.store, 'devices'), 20_000);
    const stolen = r.device();
    await m.ingest.submit(stolen.bytes, cli);
    // Periodic reconciliation (every 60 s, the default) is not due within this window, so
    // arriving proves the announcements relayed it; no elapsed-time bound to miss under load.
    await eventually(async () => assert.ok(await i.store.get(stolen.id)), 20_000);
    // Infield heard of it from maintenance, not from the manufacturer it has no link to.
    const [event] = await i.store.history(stolen.id);
    assert.equal(event?.origin, nodes.get('maintenance')?.peerId);
  });

  it('four roles: each domain flows as the policies say, and a private domain stays home', async () => {
    const r = await records();
    const devices = { name: 'devices' as const, read: 'public' as const };
    const other = { name: 'other' as const, read: 'public' as const };
    nodes = await startMesh([
      { name: 'manufacturer', domains: [devices], peers: [{ node: 'maintenance', push: ['devices'] }] },
      { name: 'developer', domains: [other], peers: [{ node: 'maintenance', push: ['other'] }] },
      {
        name: 'maintenance',
        // `secret` is readable by no peer.
        domains: [devices, other, { name: 'secret', read: [] }],
        peers: [
          { node: 'manufacturer', pull: ['devices'], dial: true },
          { node: 'developer', pull: ['other'], dial: true },
          { node: 'infield', push: ['devices', 'other'] },
        ],
      },
      { name: 'infield', domains: [devices, other, { name: 'secret', read: [] }], peers: [{ node: 'maintenance', pull: ['devices', 'other', 'secret'], dial: true }] },
    ]);
    const [m, dev, t, i] = ['manufacturer', 'developer', 'maintenance', 'infield'].map((n) => nodes?.get(n) as TestNode) as [TestNode, TestNode, TestNode, TestNode];
    await submitAll(m, Array.from({ length: 30 }, () => r.device()));
    await submitAll(dev, Array.from({ length: 20 }, () => r.device('other.example')));
    const secrets = Array.from({ length: 10 }, () => r.device('secret.example'));
    await submitAll(t, secrets);
    await eventually(async () => {
      await sameSet(m.store, i.store, 'devices');
      await sameSet(dev.store, i.store, 'other');
      assert.equal((await i.store.stats()).records, 50);
    }, 30_000);
    // The manufacturer marks a device stolen: infield has it within seconds.
    const device = r.device();
    await m.ingest.submit(device.bytes, cli);
    const update = await m.ingest.submit(r.statement(device, 'manufacturer', { role: 'manufacturer', status: 'stolen' }, 1_760_000_000), cli);
    assert.equal(update.action, 'updated');
    await eventually(async () => assert.equal((await i.store.get(device.id))?.digest, update.digest), 5_000);
    // The private domain never left maintenance, and infield says why.
    assert.deepEqual(await items(i.store, 'secret'), []);
    for (const s of secrets) assert.equal(await i.store.get(s.id), undefined);
    const report = await i.service.syncNow(t.peerId);
    assert.equal(report.peers[0]?.domains.find((d) => d.name === 'secret')?.state, 'not-permitted');
    assert.equal(i.service.peers().find((p) => p.peerId === t.peerId)?.domains.find((d) => d.name === 'secret')?.state, 'not-permitted');
  });
});
