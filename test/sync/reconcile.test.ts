// Range-based reconciliation (ics/sync/reconcile.ts) between two in-memory sets, every message
// through the codec: the initiator learns exactly the two differences, for sets from empty to
// 20,000 items; messages stay within their budget; bytes grow with the difference.
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, MessageType, type Range } from '../../ics/sync/codec.ts';
import { DEFAULT_LIMITS } from '../../ics/sync/consts.ts';
import { Reconciler } from '../../ics/sync/reconcile.ts';
import type { SyncItem } from '../../ics/store/types.ts';
import { type SeededRandom, seededRandom } from '../helpers/random.ts';
import { memoryView } from './helpers/memory-view.ts';

const LIMITS = { maxFetchIds: 256, maxRecordBytes: 65536 };

// Items come from a generator seeded per test: the byte and round bounds below are checked
// against the same sets on every run, never met or missed by chance.
function item(rng: SeededRandom, time: number, code = false): SyncItem {
  const id = code ? `sha256:${rng.hex(32)}` : rng.hex(20);
  return { time, id, digest: rng.hex(32) };
}

interface Run {
  haves: Set<string>;
  needs: Set<string>;
  rounds: number;
  bytes: number;
  maxMessage: number;
}

async function reconcile(a: readonly SyncItem[], b: readonly SyncItem[], maxBytes = 1024 * 1024): Promise<Run> {
  const initiator = new Reconciler(memoryView(a), 'initiator', { maxBytes });
  const responderView = memoryView(b);
  let ranges: Range[] | undefined = await initiator.initiate();
  const haves = new Set<string>();
  const needs = new Set<string>();
  let rounds = 0;
  let bytes = 0;
  let maxMessage = 0;
  while (ranges) {
    rounds++;
    assert.ok(rounds < DEFAULT_LIMITS.maxRounds, 'too many rounds');
    const request = encodeMessage({ type: MessageType.reconcile, domain: 'd', ranges });
    bytes += request.length;
    maxMessage = Math.max(maxMessage, request.length);
    const decoded = decodeMessage(request, LIMITS);
    assert.equal(decoded.type, MessageType.reconcile);
    const responder = new Reconciler(responderView, 'responder', { maxBytes });
    const answer = await responder.process(decoded.type === MessageType.reconcile ? decoded.ranges : []);
    assert.ok(answer.ranges);
    const reply = encodeMessage({ type: MessageType.reconcileReply, ranges: answer.ranges });
    bytes += reply.length;
    maxMessage = Math.max(maxMessage, reply.length);
    const back = decodeMessage(reply, LIMITS);
    const outcome = await initiator.process(back.type === MessageType.reconcileReply ? back.ranges : []);
    for (const h of outcome.haves) haves.add(h.id);
    for (const n of outcome.needs) needs.add(n.id);
    ranges = outcome.ranges;
  }
  return { haves, needs, rounds, bytes, maxMessage };
}

function scenario(rng: SeededRandom, shared: number, onlyA: number, onlyB: number, times = 1000) {
  const t = () => 1_700_000_000_000 + rng.int(times) * 1000;
  const base = Array.from({ length: shared }, () => item(rng, t(), rng.chance(0.1)));
  const a = Array.from({ length: onlyA }, () => item(rng, t()));
  const b = Array.from({ length: onlyB }, () => item(rng, t(), rng.chance(0.5)));
  return { a: [...base, ...a], b: [...base, ...b], wantHaves: new Set(a.map((i) => i.id)), wantNeeds: new Set(b.map((i) => i.id)) };
}

describe('sync: range-based reconciliation', () => {
  for (const [shared, onlyA, onlyB] of [
    [0, 0, 0],
    [0, 5, 0],
    [0, 0, 5],
    [10, 0, 0],
    [100, 3, 4],
    [2000, 0, 2000],
    [2000, 1500, 0],
    [5000, 40, 40],
    [20000, 10, 10],
  ] as const) {
    it(`finds both differences: ${shared} shared, ${onlyA} only on the initiator, ${onlyB} only on the responder`, async () => {
      const s = scenario(seededRandom(shared * 31 + onlyA * 7 + onlyB), shared, onlyA, onlyB);
      const run = await reconcile(s.a, s.b);
      assert.deepEqual(run.haves, s.wantHaves);
      assert.deepEqual(run.needs, s.wantNeeds);
    });
  }

  it('finds a changed version (same id, new digest) on both sides', async () => {
    const rng = seededRandom(3000);
    const s = scenario(rng, 3000, 0, 0);
    const changed = s.b[1234] as SyncItem;
    const newer = { ...changed, time: changed.time + 5000, digest: rng.hex(32) };
    const b = s.b.map((i) => (i === changed ? newer : i));
    const run = await reconcile(s.a, b);
    assert.deepEqual(run.haves, new Set([changed.id]));
    assert.deepEqual(run.needs, new Set([changed.id]));
  });

  it('handles many items sharing one time (ids order them)', async () => {
    const s = scenario(seededRandom(3), 3000, 20, 20, 3);
    const run = await reconcile(s.a, s.b);
    assert.deepEqual(run.haves, s.wantHaves);
    assert.deepEqual(run.needs, s.wantNeeds);
  });

  it('keeps every message within a small budget by taking more rounds', async () => {
    const s = scenario(seededRandom(16), 1000, 0, 3000);
    const run = await reconcile(s.a, s.b, 16 * 1024);
    assert.deepEqual(run.needs, s.wantNeeds);
    assert.ok(run.maxMessage <= 16 * 1024 + 64, `largest message ${run.maxMessage}`);
    assert.ok(run.rounds > 3);
    assert.ok(run.rounds < 400, `rounds ${run.rounds}`);
  });

  it('costs bytes in proportion to the difference, not the set', async () => {
    const rng = seededRandom(20);
    const small = await reconcile(...pair(rng, 20000, 20));
    const large = await reconcile(...pair(rng, 20000, 200));
    const bigger = await reconcile(...pair(rng, 2000, 20));
    // ~10× the differences: well under 20× the bytes; 10× the set: well under 3× the bytes.
    assert.ok(large.bytes < small.bytes * 20, `${small.bytes} → ${large.bytes}`);
    assert.ok(small.bytes < bigger.bytes * 3, `${bigger.bytes} → ${small.bytes}`);
    assert.ok(small.bytes < 20 * 1500, `20 differences in 20,000 cost ${small.bytes} bytes`);
  });
});

function pair(rng: SeededRandom, shared: number, diff: number): [SyncItem[], SyncItem[]] {
  const s = scenario(rng, shared, diff / 2, diff / 2);
  return [s.a, s.b];
}
