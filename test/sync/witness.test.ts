// Peers as witnesses of each other's transparency logs, over real sync (libp2p on loopback):
// a node that pulls a domain cosigns the peer's checkpoint after each reconciliation, and the
// peer publishes the cosignature beside its own; when the peer then shows a history that does
// not extend what was witnessed — truncated, or the same size with another tree — the witness
// keeps both signed checkpoints as evidence and stops syncing that domain with the peer. A
// history forked for one peer only is caught by gossip: witnesses trade what they witnessed.
import assert from 'node:assert/strict';
import { reviveRecord } from '../../ics/record/index.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import type { RecordStore } from '../../ics/store/types.ts';
import { type CheckpointSigner, parseNote, parseVerifierKey, rawPublicKey, TransparencyLog, verifierKey, verifyNote, type Witnessed } from '../../ics/tlog/index.ts';
import { eventually, peerKey, records, removeTempDirs, startMesh, stopAll, testTransparency, type TestNode, type TestTransparency } from './helpers/nodes.ts';

const cli = { source: 'cli' as const };

/** A store whose log holds `count` other devices: the history a forking node would show. */
async function forkedLog(count: number): Promise<{ log: TransparencyLog; store: RecordStore }> {
  const r = await records();
  const log = new TransparencyLog();
  const store = await createMemoryStore({ derived: [log] });
  for (let i = 0; i < count; i++) {
    const record = await reviveRecord(r.device().bytes);
    await store.write({ record, domains: ['devices'], expectedDigest: undefined, source: 'import', signaturesAdded: 1, summary: 'fork' });
  }
  return { log, store };
}

describe('sync: peers witness each other’s logs', function () {
  this.timeout(120_000);
  let nodes: Map<string, TestNode> | undefined;
  const forks: RecordStore[] = [];

  afterEach(async () => {
    if (nodes) await stopAll(nodes.values());
    nodes = undefined;
    for (const store of forks.splice(0)) await store.close();
  });
  after(removeTempDirs);

  /** b holding `count` records, then a, which pulls `devices` from b (and witnesses b's log, if b keeps one). */
  async function pair(count: number, bKeepsLog = true): Promise<{ a: TestNode; b: TestNode; ta: TestTransparency; tb: TestTransparency }> {
    const ta = testTransparency();
    const tb = testTransparency();
    const keys = new Map([
      ['a', await peerKey()],
      ['b', await peerKey()],
    ]);
    const first = await startMesh([{ name: 'b', domains: [{ name: 'devices', read: 'public' }], peers: [{ node: 'a' }], ...(bKeepsLog && { transparency: tb }) }], keys);
    const b = first.get('b') as TestNode;
    nodes = first;
    await submit(b, count);
    const second = await startMesh([{ name: 'a', domains: [{ name: 'devices', read: 'public' }], peers: [{ node: 'b', pull: ['devices'], dial: true, intervalSeconds: 3600 }], transparency: ta }], keys, new Map([['b', [b.address]]]));
    nodes = new Map([...first, ...second]);
    const a = second.get('a') as TestNode;
    // a's first run starts with the service: wait for it, so that each run below is the test's own.
    await eventually(async () => assert.equal((await a.store.stats()).records, count));
    return { a, b, ta, tb };
  }

  async function submit(node: TestNode, count: number): Promise<void> {
    const r = await records();
    for (let i = 0; i < count; i++) assert.notEqual((await node.ingest.submit(r.device().bytes, cli)).action, 'rejected');
  }

  const stateOf = async (a: TestNode, b: TestNode) => (await a.service.syncNow(b.peerId)).peers[0]?.domains[0];

  it('cosigns the peer’s checkpoint after each reconciliation; the peer publishes the cosignature', async () => {
    const { a, b, ta, tb } = await pair(20);
    const first = await stateOf(a, b);
    assert.equal(first?.state, 'in-sync', JSON.stringify(first));
    const witnessed = ta.witnessed.get(`${b.peerId} devices`) as Witnessed;
    assert.equal(witnessed.size, 20);
    assert.deepEqual(ta.events, ['cosigned', 'cosigned']);
    assert.deepEqual(tb.events, ['cosignature-kept', 'cosignature-kept']);
    // b's checkpoint now carries a's cosignature, which verifies with a's witness key.
    const published = await (tb.signers.get(tb.log) as CheckpointSigner).cosignedCheckpoint('devices');
    assert.equal(published.size, 20);
    assert.equal(parseNote(published.note).signatures.length, 2);
    verifyNote(published.note, parseVerifierKey(verifierKey('ics/b/devices', rawPublicKey(tb.key))));
    verifyNote(published.note, parseVerifierKey(verifierKey('ics/a', rawPublicKey(ta.key))));
    assert.throws(() => verifyNote(published.note, parseVerifierKey(verifierKey('ics/a', rawPublicKey(testTransparency().key)))), /no valid signature/);
    // Grows, and the next checkpoint is witnessed as an extension.
    await submit(b, 5);
    const second = await stateOf(a, b);
    assert.equal(second?.state, 'in-sync');
    assert.equal((ta.witnessed.get(`${b.peerId} devices`) as Witnessed).size, 25);
    assert.deepEqual(ta.events, ['cosigned', 'cosigned', 'cosigned']);
  });

  it('does not ask a peer that keeps no log (a node from before logs never gets a message it does not know)', async () => {
    const { a, b, ta } = await pair(10, false);
    const report = await stateOf(a, b);
    assert.equal(report?.state, 'in-sync', JSON.stringify(report));
    assert.deepEqual(ta.events, []);
    assert.equal(ta.witnessed.size, 0);
    assert.equal((await a.store.stats()).records, 10);
  });

  for (const [what, size] of [['a truncated history (fewer leaves than witnessed)', 8], ['another tree of the same size (a reordered or forked history)', 20]] as const) {
    it(`catches ${what}: evidence kept with both checkpoints, the domain no longer synced with that peer`, async () => {
      const { a, b, ta, tb } = await pair(20);
      assert.equal((await stateOf(a, b))?.state, 'in-sync');
      // b now shows another history than the one a witnessed.
      const fork = await forkedLog(size);
      forks.push(fork.store);
      tb.shown = fork.log;
      await submit(b, 3); // new records for a to fetch — which it must not, now
      const report = await stateOf(a, b);
      assert.equal(report?.state, 'split-view', JSON.stringify(report));
      assert.equal(report?.fetched, 0, 'the log is checked before anything is taken from the peer');
      const evidence = ta.evidence.get(`${b.peerId} devices`) as { reason: string; witnessed: Witnessed; offered: { note: string } };
      assert.ok(evidence, 'evidence kept');
      assert.match(evidence.reason, size < 20 ? /shrank from 20 to 8/ : /two different trees of 20/);
      assert.equal(evidence.witnessed.size, 20);
      assert.ok(evidence.offered.note.includes('ics/b/devices'), 'the offending checkpoint is kept, signed');
      assert.ok(ta.events.includes('split-view'));
      const before = (await a.store.stats()).records;
      const again = await stateOf(a, b);
      assert.equal(again?.state, 'split-view');
      assert.equal(again?.fetched, 0, 'nothing is synced from a peer caught showing a split view');
      assert.equal((await a.store.stats()).records, before);
    });
  }

  /**
   * b holding `count` records; c pulls `devices` from b, then a pulls it from b and from c.
   * `shownToC`: the log b shows while c witnesses it first (a history forked for c).
   */
  async function trio(count: number, shownToC?: TransparencyLog): Promise<{ a: TestNode; b: TestNode; c: TestNode; ta: TestTransparency; tb: TestTransparency; tc: TestTransparency }> {
    const [ta, tb, tc] = [testTransparency(), testTransparency(), testTransparency()];
    const keys = new Map([
      ['a', await peerKey()],
      ['b', await peerKey()],
      ['c', await peerKey()],
    ]);
    const devices = [{ name: 'devices' as const, read: 'public' as const }];
    const pull = (node: string) => ({ node, pull: ['devices'], dial: true, intervalSeconds: 3600 });
    nodes = await startMesh([{ name: 'b', domains: devices, peers: [{ node: 'a' }, { node: 'c' }], transparency: tb }], keys);
    const b = nodes.get('b') as TestNode;
    await submit(b, count);
    if (shownToC) tb.shown = shownToC;
    const withC = await startMesh([{ name: 'c', domains: devices, peers: [pull('b'), { node: 'a' }], transparency: tc }], keys, new Map([['b', [b.address]]]));
    nodes = new Map([...nodes, ...withC]);
    const c = withC.get('c') as TestNode;
    await eventually(async () => assert.equal((await c.store.stats()).records, count));
    await eventually(() => assert.ok(tc.witnessed.has(`${b.peerId} devices`)));
    tb.shown = undefined;
    const withA = await startMesh([{ name: 'a', domains: devices, peers: [pull('b'), pull('c')], transparency: ta }], keys, new Map([['b', [b.address]], ['c', [c.address]]]));
    nodes = new Map([...nodes, ...withA]);
    const a = withA.get('a') as TestNode;
    await eventually(async () => assert.equal((await a.store.stats()).records, count));
    await eventually(() => assert.ok(ta.witnessed.has(`${b.peerId} devices`) && ta.witnessed.has(`${c.peerId} devices`)));
    return { a, b, c, ta, tb, tc };
  }

  it('trades witnessed checkpoints: an honest log proves what other witnesses saw of it, and nothing is reported', async () => {
    const { a, b, c, ta, tc } = await trio(20);
    // b grows after c witnessed it at 20: a, which witnesses 25, hears of 20 from c and has b prove it.
    await submit(b, 5);
    assert.equal((await stateOf(a, b))?.state, 'in-sync');
    assert.equal((ta.witnessed.get(`${b.peerId} devices`) as Witnessed).size, 25);
    assert.equal((tc.witnessed.get(`${b.peerId} devices`) as Witnessed).size, 20);
    assert.equal((await stateOf(a, c))?.state, 'in-sync');
    const heard = (ta.witnessed.get(`${b.peerId} devices`) as Witnessed).heard ?? [];
    assert.deepEqual(
      heard.map((h) => [h.size, h.via]),
      [[20, c.peerId]],
      'a keeps what c told of b until b proves it',
    );
    // c heard of 25 from a the same way.
    assert.deepEqual((tc.witnessed.get(`${b.peerId} devices`) as Witnessed).heard?.map((h) => h.size), [25]);
    assert.equal((await stateOf(a, b))?.state, 'in-sync');
    assert.equal((ta.witnessed.get(`${b.peerId} devices`) as Witnessed).heard, undefined, 'proven, so forgotten');
    assert.equal((await c.service.syncNow(b.peerId)).peers[0]?.domains[0]?.state, 'in-sync');
    assert.equal((tc.witnessed.get(`${b.peerId} devices`) as Witnessed).heard, undefined);
    assert.equal(ta.evidence.size + tc.evidence.size, 0);
    assert.ok(!ta.events.includes('split-view') && !tc.events.includes('split-view'));
  });

  for (const [what, forkSize] of [['of the same size', 20], ['of another size', 8]] as const) {
    it(`catches a history forked for one peer only (${what}), by what another witness was shown`, async () => {
      const fork = await forkedLog(forkSize);
      forks.push(fork.store);
      // b shows c the forked history and a the real one: each on its own sees nothing wrong.
      const { a, b, c, ta, tc } = await trio(20, fork.log);
      assert.equal((tc.witnessed.get(`${b.peerId} devices`) as Witnessed).size, forkSize, 'c witnessed the fork');
      assert.equal((ta.witnessed.get(`${b.peerId} devices`) as Witnessed).size, 20, 'a witnessed the real log');
      // a syncs with c: c tells what b showed it (a's first run with c may have heard it already).
      await a.service.syncNow(c.peerId);
      if (forkSize !== 20) {
        assert.equal(ta.evidence.size, 0, 'another size is not proof yet');
        assert.deepEqual((ta.witnessed.get(`${b.peerId} devices`) as Witnessed).heard?.map((h) => h.size), [forkSize]);
      }
      await submit(b, 3);
      const report = await stateOf(a, b);
      assert.equal(report?.state, 'split-view', JSON.stringify(report));
      assert.equal(report?.fetched, 0, 'nothing is taken from the forking node');
      const evidence = ta.evidence.get(`${b.peerId} devices`) as { reason: string; toldBy: string; witnessed: Witnessed; offered: { note: string } };
      assert.ok(evidence, 'evidence kept against b');
      assert.equal(evidence.toldBy, c.peerId);
      assert.match(evidence.reason, forkSize === 20 ? /another tree of 20 leaves/ : /tree of 8 leaves shown to .* is not part of its tree of 2\d/);
      // Both checkpoints are b's, signed: the one a witnessed and the one c was shown.
      const bKey = parseVerifierKey(evidence.witnessed.vkey);
      verifyNote(evidence.witnessed.note, bKey);
      verifyNote(evidence.offered.note, bKey);
      assert.notEqual(evidence.offered.note, evidence.witnessed.note);
      assert.ok(ta.events.includes('split-view'));
      // c is not blamed.
      assert.equal(ta.evidence.has(`${c.peerId} devices`), false);
      assert.equal((await stateOf(a, c))?.state, 'in-sync');
    });
  }
});
