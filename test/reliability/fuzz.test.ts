// Quick form of the fuzz part of the reliability suite (bench/reliability/fuzz.ts): a few
// thousand seeded mutations per front end. No crash, no hang, nothing stored from invalid
// input; failing inputs are written with their seed (RELIABILITY_SEED reproduces the run).
import assert from 'node:assert/strict';
import { runSeed } from '../../bench/reliability/common.ts';
import { runFuzz } from '../../bench/reliability/fuzz.ts';

describe('reliability: fuzzing the front ends', function () {
  this.timeout(300_000);

  it('survives mutated HKP, LDAP, sync, policy and config input without crash, hang or stored record', async () => {
    const seed = runSeed();
    const report = await runFuzz({ inputs: 2000, socketSample: 50, seed });
    assert.equal(report.fronts.length, 6);
    for (const f of report.fronts) {
      assert.equal(f.inputs, 2000, f.name);
      assert.deepEqual({ crashes: f.crashes, hangs: f.hangs, stored: f.storedFromInvalid }, { crashes: 0, hangs: 0, stored: 0 }, `${f.name}, seed ${seed}, failing inputs: ${f.failures.join(', ')}`);
    }
  });
});
