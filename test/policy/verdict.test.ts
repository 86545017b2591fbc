import assert from 'node:assert/strict';
import type { PolicyEngine } from '../../ics/policy/index.ts';
import { certify } from '../../ics/record/index.ts';
import { acmeDeviceId, device, minutesAgo, type PolicyFixture, policyFixture, siteDeviceId, testEngine } from './helpers.ts';

const failures = (v: { reasons: readonly { code: string; severity: string }[] }) => v.reasons.filter((r) => r.severity === 'fail').map((r) => r.code);

describe('policy/verdict', () => {
  let f: PolicyFixture;
  let engine: PolicyEngine;

  before(async () => {
    f = await policyFixture();
    engine = await testEngine(f);
  });

  it('judges a record by its domains’ rules and names them', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const v = engine.verdict(record);
    assert.deepEqual(v.domains, ['devices']);
    assert.equal(v.trusted, true);
    assert.equal(v.status, 'in-use');
  });

  it('a record in several domains must meet every domain’s required roles', async () => {
    // Site A devices are in `system` too, whose verdict requires manufacturer and integrator.
    const siteDevice = await device(siteDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    const both = engine.verdict(siteDevice);
    assert.deepEqual(both.domains, ['devices', 'system']);
    assert.equal(both.trusted, true);
    const strict = await testEngine(f, (p) => {
      p.system.verdict = { requiredRoles: ['integrator', 'certifier'] };
    });
    const v = strict.verdict(siteDevice);
    assert.equal(v.trusted, false);
    assert.deepEqual(failures(v), ['ROLE_MISSING']);
  });

  it('trusted statuses are the intersection of the domains’ lists', async () => {
    const planned = await device(siteDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'planned' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    const lenient = await testEngine(f, (p) => {
      p.devices.verdict = { trustedStatuses: ['in-use', 'planned'] };
      p.system.verdict = { requiredRoles: ['integrator'], trustedStatuses: ['planned'] };
    });
    assert.equal(lenient.verdict(planned).trusted, true);
    const mixed = await testEngine(f, (p) => {
      p.devices.verdict = { trustedStatuses: ['in-use'] };
      p.system.verdict = { requiredRoles: ['integrator'], trustedStatuses: ['planned'] };
    });
    assert.deepEqual(failures(mixed.verdict(planned)), ['STATUS_UNTRUSTED']);
  });

  it('counts an issuer only in the roles it may write in the record’s domains', async () => {
    // Outside site A the integrator may not write, so its maintainer status does not count.
    let record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    record = await certify(record, f.integrator.privateKey, { role: 'maintainer', status: 'stolen' }, { created: minutesAgo(1) });
    const v = engine.verdict(record);
    assert.equal(v.status, 'in-use');
    assert.equal(v.trusted, true);
  });

  it('a record in no domain is not trusted', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: f.stranger, role: 'manufacturer', status: 'in-use' }]);
    const v = engine.verdict(record);
    assert.deepEqual(v.domains, []);
    assert.equal(v.trusted, false);
  });
});
