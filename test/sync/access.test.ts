// Who syncs what: a domain is served only to peers that may read it; a peer id the policy
// does not name is refused at the Noise handshake; an address whose key is not the named peer's
// is not connected to; two nodes that define a domain differently report it on both sides and
// exchange nothing.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { eventually, items, peerKey, records, removeTempDirs, startMesh, stopAll, type TestNode } from './helpers/nodes.ts';

describe('sync: access', function () {
  this.timeout(60_000);
  let nodes: Map<string, TestNode> | undefined;
  afterEach(async () => {
    if (nodes) await stopAll(nodes.values());
    nodes = undefined;
  });
  after(removeTempDirs);

  it('serves a domain only to the peers that may read it', async () => {
    const r = await records();
    const domains = [
      { name: 'devices' as const, read: 'public' as const },
      { name: 'secret' as const, read: ['c'] },
    ];
    nodes = await startMesh(
      [
        { name: 'a', domains, peers: [{ node: 'b', push: ['devices'] }, { node: 'c', push: ['devices', 'secret'] }] },
        { name: 'b', domains, peers: [{ node: 'a', pull: ['devices', 'secret'], dial: true }] },
        { name: 'c', domains, peers: [{ node: 'a', pull: ['devices', 'secret'], dial: true }] },
      ],
      new Map(await Promise.all(['a', 'b', 'c'].map(async (n) => [n, await peerKey()] as const))),
    );
    const [a, b, c] = ['a', 'b', 'c'].map((n) => nodes?.get(n) as TestNode) as [TestNode, TestNode, TestNode];
    for (const d of Array.from({ length: 15 }, () => r.device())) await a.ingest.submit(d.bytes, { source: 'cli' });
    for (const d of Array.from({ length: 5 }, () => r.device('secret.example'))) await a.ingest.submit(d.bytes, { source: 'cli' });
    const rb = await b.service.syncNow(a.peerId);
    const rc = await c.service.syncNow(a.peerId);
    assert.deepEqual(await items(c.store, 'secret'), await items(a.store, 'secret'));
    assert.equal((await items(c.store, 'secret')).length, 5);
    assert.deepEqual(await items(b.store, 'secret'), []);
    assert.deepEqual(await items(b.store, 'devices'), await items(a.store, 'devices'));
    assert.equal(rb.peers[0]?.domains.find((d) => d.name === 'secret')?.state, 'not-permitted');
    assert.equal(rc.peers[0]?.domains.find((d) => d.name === 'secret')?.state, 'in-sync');
    // A change in the secret domain is announced to C only.
    const more = r.device('secret.example');
    await a.ingest.submit(more.bytes, { source: 'cli' });
    await eventually(async () => assert.ok(await c.store.get(more.id)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await b.store.get(more.id), undefined);
    assert.equal((await b.store.stats()).records, 15);
  });

  it('refuses a peer id the policy does not name, and does not connect to an address held by another key', async () => {
    const r = await records();
    const d = [{ name: 'devices' as const, read: 'public' as const }];
    const logs: Array<Record<string, unknown>> = [];
    const keys = new Map(await Promise.all(['a', 'x', 'y'].map(async (n) => [n, await peerKey()] as const)));
    // a knows y only; x knows a (and dials it); y dials a's address believing it is x's.
    nodes = await startMesh(
      [
        { name: 'a', domains: d, peers: [{ node: 'y', push: ['devices'] }], logs },
        { name: 'x', domains: d, peers: [{ node: 'a', pull: ['devices'], dial: true }] },
        { name: 'y', domains: d, peers: [{ node: 'x', pull: ['devices'], dial: true, addressOf: 'a' }] },
      ],
      keys,
    );
    const a = nodes.get('a') as TestNode;
    const x = nodes.get('x') as TestNode;
    await a.ingest.submit(r.device().bytes, { source: 'cli' });
    const report = await x.service.syncNow(a.peerId);
    assert.equal(report.peers[0]?.ok, false);
    assert.equal((await x.store.stats()).records, 0);
    await eventually(() => {
      const refused = a.service.peers().find((p) => p.peerId === x.peerId);
      assert.ok(refused && !refused.known && refused.refused >= 1);
    });
    assert.ok(logs.some((l) => /does not name/.test(String(l.msg)) && l.peer === x.peerId));
    assert.equal(x.service.peers().find((p) => p.peerId === a.peerId)?.connected, false);
    // y dials a's address expecting x's key there: Noise finds a's key and y hangs up.
    const y = nodes.get('y') as TestNode;
    const toX = await y.service.syncNow(x.peerId);
    assert.equal(toX.peers[0]?.ok, false);
    assert.equal((await y.store.stats()).records, 0);
    assert.equal(y.service.peers().find((p) => p.peerId === x.peerId)?.connected, false);
  });

  it('reports a domain defined differently on both sides, and syncs nothing of it', async () => {
    const r = await records();
    const logsA: Array<Record<string, unknown>> = [];
    const logsB: Array<Record<string, unknown>> = [];
    const registry = new Registry();
    nodes = await startMesh([
      { name: 'a', domains: [{ name: 'devices', read: 'public' }], peers: [{ node: 'b', push: ['devices'] }], logs: logsA, metrics: { registry } },
      { name: 'b', domains: [{ name: 'devices', read: 'public', variant: true }], peers: [{ node: 'a', pull: ['devices'], dial: true }], logs: logsB },
    ]);
    const a = nodes.get('a') as TestNode;
    const b = nodes.get('b') as TestNode;
    await a.ingest.submit(r.device().bytes, { source: 'cli' });
    const report = await b.service.syncNow(a.peerId);
    const domain = report.peers[0]?.domains.find((x) => x.name === 'devices');
    assert.equal(domain?.state, 'definition-mismatch');
    assert.equal(domain?.fetched, 0);
    assert.equal((await b.store.stats()).records, 0);
    const statusB = b.service.peers().find((p) => p.peerId === a.peerId)?.domains.find((x) => x.name === 'devices');
    const statusA = a.service.peers().find((p) => p.peerId === b.peerId)?.domains.find((x) => x.name === 'devices');
    assert.equal(statusB?.state, 'definition-mismatch');
    assert.equal(statusA?.state, 'definition-mismatch');
    assert.notEqual(statusB?.localDigest, statusB?.remoteDigest);
    assert.equal(statusA?.remoteDigest, statusB?.localDigest);
    for (const logs of [logsA, logsB]) assert.ok(logs.some((l) => l.domain === 'devices' && /definitions differ/.test(String(l.msg))));
    // And in the metrics.
    const text = await registry.metrics();
    assert.match(text, new RegExp(`ics_sync_domain_state\\{peer="${b.peerId}",name="b",domain="devices",state="definition-mismatch"\\} 1`));
    assert.match(text, new RegExp(`ics_sync_peer_connected\\{peer="${b.peerId}",name="b"\\} 1`));
    // Reported once, not once per attempt.
    await b.service.syncNow(a.peerId);
    assert.equal(logsB.filter((l) => /definitions differ/.test(String(l.msg))).length, 1);
  });
});
