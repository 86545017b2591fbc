// Quick form of the soak (bench/reliability/soak.ts): 30 s of mixed load on the four-role
// mesh. No error; no node's open file descriptors grow beyond FD_TOLERANCE; no request while
// the load is paused for the quiet RSS window at the mark. RSS is a figure of the benchmark,
// not asserted here.
import assert from 'node:assert/strict';
import { runSeed } from '../../bench/reliability/common.ts';
import { FD_TOLERANCE, runSoak } from '../../bench/reliability/soak.ts';

describe('reliability: soak of the four-role mesh', function () {
  this.timeout(300_000);

  it('answers mixed load without error and without growing its file descriptors', async () => {
    const report = await runSoak({ seconds: 30, markSeconds: 10, windowSeconds: 5, settleSeconds: 3, seed: runSeed() });
    assert.ok(report.requests > 0 && report.submitted > 0 && report.statusChanges > 0, JSON.stringify(report));
    assert.equal(report.errors, 0, report.errorSamples.join('\n'));
    assert.equal(report.quietRequests, 0, 'no request while the load is paused for the quiet window');
    assert.equal(report.synced, report.submitted, 'every device submitted to the manufacturer reached maintenance');
    for (const [role, end] of Object.entries(report.end)) {
      const mark = report.mark[role as keyof typeof report.mark];
      assert.ok(end.fds <= mark.fds + FD_TOLERANCE, `${role}: ${mark.fds} fds at the mark, ${end.fds} at the end`);
      // Both RSS windows were read through (the figure itself is the benchmark's).
      for (const window of [report.markWindow, report.endWindow]) {
        const w = window[role as keyof typeof window];
        assert.ok(w.samples >= 10 && w.min > 0 && w.min <= w.median && w.median <= w.max, `${role}: ${JSON.stringify(w)}`);
      }
    }
  });
});
