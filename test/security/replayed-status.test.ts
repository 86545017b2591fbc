// Attack: replaying an old, validly signed status statement ("in-use") after the device
// was reported stolen, hoping the newest arrival wins. Statement time is signature time.
import assert from 'node:assert/strict';
import { certify, evaluateVerdict, mergeRecords } from '../../ics/record/index.ts';
import { certifiedDevice, fixture, minutesAgo } from '../helpers/identities.ts';

describe('security: replayed old status', () => {
  it('does not bring a stolen device back to in-use', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f, { at: minutesAgo(120) });
    const stolen = await certify(
      record,
      f.manufacturer.privateKey,
      { role: 'manufacturer', status: 'stolen' },
      { created: minutesAgo(60) },
    );
    const policy = { issuers: f.trusted, requiredRoles: ['manufacturer' as const] };
    assert.equal(evaluateVerdict(stolen, policy).status, 'stolen');
    // The attacker holds the old record (status in-use) and sends it again, later.
    const replayed = mergeRecords(stolen, record);
    const verdict = evaluateVerdict(replayed, policy);
    assert.equal(verdict.status, 'stolen');
    assert.equal(verdict.trusted, false);
  });
});
