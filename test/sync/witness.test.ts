// Peers as witnesses of each other's transparency logs, over real sync (libp2p on loopback):
// a node that pulls a domain cosigns the peer's checkpoint after each reconciliation, and the
// peer publishes the cosignature beside its own; when the peer then shows a history that does
// not extend what was witnessed — truncated, or the same size with another tree — the witness
// keeps both signed checkpoints as evidence and stops syncing that domain with the peer.
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
});
