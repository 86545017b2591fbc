// Quick form of the leak matrix (bench/reliability/leak.ts): on the four-role mesh, records of
// maintenance's private domains asked for over HKP, the JSON API, LDAP and sync by an
// anonymous caller, a user without the right and one with it, and by three peers.
import assert from 'node:assert/strict';
import { runSeed } from '../../bench/reliability/common.ts';
import { leakTable, runLeak } from '../../bench/reliability/leak.ts';

describe('reliability: leak matrix of private domains', function () {
  this.timeout(300_000);

  it('serves no private record to a caller the policy does not name, and no count of them to an anonymous one', async () => {
    const report = await runLeak({ perDomain: 2, seed: runSeed() });
    const table = leakTable(report).join('\n');
    // The probes work: every caller gets what the policy lets it read.
    assert.deepEqual(report.underServed, [], table);
    // Every interface was asked by every caller about every domain.
    const ifaces = new Set(report.cells.map((c) => c.iface));
    const callers = new Set(report.cells.map((c) => c.caller));
    assert.ok(ifaces.size >= 10 && callers.has('anonymous') && callers.has('guest') && callers.has('operator'), table);
    assert.equal(report.recordsLeaked, 0, table);
    assert.ok(report.figureChecks > 0);
    assert.deepEqual(report.figureLeaks.filter((f) => f.caller === 'anonymous'), []);
  });
});
