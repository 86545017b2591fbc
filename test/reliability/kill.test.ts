// Quick form of the kill -9 part of the reliability suite (bench/reliability/kill.ts): two
// SIGKILLs of `ics serve` during ingest over /pks/add and two during sync. Nothing
// acknowledged is lost, nothing is stored twice, the killed node converges after restart.
import assert from 'node:assert/strict';
import { runSeed } from '../../bench/reliability/common.ts';
import { runKill } from '../../bench/reliability/kill.ts';

describe('reliability: kill -9 during ingest and sync', function () {
  this.timeout(300_000);

  it('loses and duplicates nothing acknowledged, and converges after restart', async () => {
    const seed = runSeed();
    const report = await runKill({ cycles: 2, seed, syncBatch: 300 });
    const context = `seed ${seed}: ${JSON.stringify(report)}`;
    assert.ok(report.ingest.some((c) => c.acknowledged > 0), `some submissions were acknowledged before a kill (${context})`);
    for (const c of [...report.ingest, ...report.sync]) assert.equal(c.lost, 0, context);
    assert.equal(report.lostAtEnd, 0, context);
    assert.equal(report.duplicated, 0, context);
    assert.equal(report.notConverged, 0, context);
  });
});
