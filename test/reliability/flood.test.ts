// Quick form of the flood part of the reliability suite (bench/reliability/flood.ts): on a real
// `ics serve`, a key flooded with 20,000 certifications by unknown issuers and one with 10,000
// by 100 reused issuers (plus the trusted integrator in a role it may not sign as, and forgeries
// of the trusted manufacturer), sent whole and in chunks under a lookup load. Invariants only:
// the whole floods are refused with 413, every certification of every chunk reaches the filter
// and is dropped, nothing unauthorised is stored, the node still answers lookups. Latency is a
// figure of the benchmark, not asserted here.
import assert from 'node:assert/strict';
import { runSeed } from '../../bench/reliability/common.ts';
import { FLOOD_MAX_BODY_BYTES, runFlood } from '../../bench/reliability/flood.ts';

describe('reliability: certification flood', function () {
  this.timeout(300_000);

  it('stores no certification the policy does not admit and keeps answering lookups', async () => {
    const seed = runSeed();
    const report = await runFlood({ unknownCertifications: 20_000, reusedIssuers: 100, copiesPerIssuer: 100, devices: 50, connections: 8, windowSeconds: 2, seed });
    const context = `seed ${seed}: ${JSON.stringify({ ...report, quiet: undefined, flooded: undefined })}`;
    // Both floods are larger than the body limit as a whole, and are refused unread.
    for (const w of report.whole) {
      assert.ok(w.bytes > FLOOD_MAX_BODY_BYTES, `${w.name}: ${w.bytes} bytes`);
      assert.equal(w.status, 413, `${w.name} sent whole (${context})`);
    }
    // Split, every chunk is accepted (the key is known) with every certification in it dropped.
    assert.ok(report.chunks >= 8 && report.passes >= 1, context);
    assert.deepEqual(report.chunkRefusals, {}, context);
    assert.ok(report.certificationsSent >= 30_000, context);
    assert.equal(report.certificationsDropped, report.certificationsSent, context);
    assert.ok(report.forgeries > 0, context);
    assert.equal(report.forgeriesAccepted, 0, context);
    // Read back from the store: the two legitimate certifications per key, nothing else.
    assert.equal(report.unauthorisedStored, 0, context);
    assert.equal(report.foreignStored, 0, context);
    assert.equal(report.thirdPartyStored, 4, context);
    // Still serving, during and after.
    assert.ok(report.flooded.lookups > 0, context);
    assert.equal(report.flooded.failedLookups, 0, context);
    assert.ok(report.servingAfter, context);
  });
});
