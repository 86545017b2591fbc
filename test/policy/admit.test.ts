import assert from 'node:assert/strict';
import type { PolicyEngine, RejectionReason } from '../../ics/policy/index.ts';
import { certify, type IdentityRecord, revokeCertification } from '../../ics/record/index.ts';
import {
  acmeDeviceId,
  device,
  firmware,
  minutesAgo,
  plainCertification,
  type PolicyFixture,
  policyFixture,
  rejection,
  siteDeviceId,
  testEngine,
} from './helpers.ts';

const signatures = (record: IdentityRecord) => (record.type === 'code' ? record.signatures : record.userIds.flatMap((u) => u.signatures));
const issuersOf = (record: IdentityRecord) => signatures(record).filter((s) => !s.self).map((s) => s.issuer);

describe('policy/admit', () => {
  let f: PolicyFixture;
  let engine: PolicyEngine;

  before(async () => {
    f = await policyFixture();
    engine = await testEngine(f);
  });

  it('keeps self-signatures and the signatures of issuers trusted in their role where they may write', async () => {
    const record = await device(siteDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
      { issuer: f.certifier, role: 'certifier' },
    ]);
    const admitted = engine.admit(record);
    assert.deepEqual(admitted.domains, ['devices', 'system']);
    assert.deepEqual(admitted.dropped, []);
    assert.equal(admitted.record.digest, record.digest);
  });

  it('drops an untrusted issuer (ISSUER_NOT_ALLOWED) and counts it', async () => {
    const record = await device(acmeDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.stranger, role: 'integrator' },
    ]);
    const { record: kept, dropped } = engine.admit(record);
    assert.deepEqual(dropped.map((d) => [d.reason, d.issuer]), [['ISSUER_NOT_ALLOWED', f.stranger.record.id]]);
    assert.deepEqual(issuersOf(kept), [f.manufacturer.record.id]);
    assert.equal(signatures(kept).filter((s) => s.self).length, 1, 'the self-certification stays');
  });

  it('drops a trusted issuer signing in a role it does not hold (ROLE_NOT_ALLOWED)', async () => {
    const record = await device(acmeDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.certifier, role: 'owner' },
    ]);
    const { dropped } = engine.admit(record);
    assert.deepEqual(dropped.map((d) => [d.reason, d.issuer]), [['ROLE_NOT_ALLOWED', f.certifier.record.id]]);
  });

  it('drops a role the record’s domains do not let write (ROLE_NOT_ALLOWED), keeps it where they do', async () => {
    // An ACME device outside site A is only in `devices`, where integrators may not write.
    const outside = await device(acmeDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    const a = engine.admit(outside);
    assert.deepEqual(a.domains, ['devices']);
    assert.deepEqual(a.dropped.map((d) => [d.reason, d.issuer]), [['ROLE_NOT_ALLOWED', f.integrator.record.id]]);
    // In site A the record is also in `system`, where they may.
    const inside = await device(siteDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    assert.deepEqual(engine.admit(inside).dropped, []);
  });

  it('drops an issuer trusted only in other domains (ISSUER_NOT_ALLOWED)', async () => {
    const record = await device(acmeDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.developer, role: 'developer' },
    ]);
    assert.deepEqual(engine.admit(record).dropped.map((d) => [d.reason, d.issuer]), [['ISSUER_NOT_ALLOWED', f.developer.record.id]]);
  });

  it('drops a certification that names no role (NO_ROLE)', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const plain = await plainCertification(record, f.certifier, f);
    assert.deepEqual(engine.admit(plain).dropped.map((d) => [d.reason, d.issuer]), [['NO_ROLE', f.certifier.record.id]]);
  });

  it('keeps a withdrawal (0x30) where its issuer may write, and the record stays in its domain', async () => {
    const record = await device(siteDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    const withdrawn = await revokeCertification(record, f.integrator.privateKey, { created: minutesAgo(10), reason: 'contract ended' });
    const admitted = engine.admit(withdrawn);
    assert.deepEqual(admitted.dropped, []);
    assert.deepEqual(admitted.domains, ['devices', 'system']);
    assert.equal(admitted.record.digest, withdrawn.digest);
    // The verdict, not membership, is where the withdrawal counts.
    const verdict = engine.verdict(admitted.record);
    assert.equal(verdict.trusted, false);
    assert.ok(verdict.reasons.some((r) => r.code === 'ROLE_MISSING'));
  });

  it('drops a withdrawal by an issuer that may write no role in the record’s domains', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const withdrawn = await revokeCertification(record, f.integrator.privateKey, { created: minutesAgo(10) });
    assert.deepEqual(engine.admit(withdrawn).dropped.map((d) => [d.reason, d.issuer]), [['ROLE_NOT_ALLOWED', f.integrator.record.id]]);
  });

  it('is idempotent: admitting the admitted record keeps it and drops nothing', async () => {
    let record = await device(acmeDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
      { issuer: f.stranger, role: 'manufacturer' },
      { issuer: f.certifier, role: 'certifier' },
    ]);
    record = await certify(record, f.certifier.privateKey, { role: 'owner' }, { created: minutesAgo(5) });
    const once = engine.admit(record);
    assert.equal(once.dropped.length, 3);
    const twice = engine.admit(once.record);
    assert.equal(twice.record.digest, once.record.digest);
    assert.deepEqual(twice.dropped, []);
    assert.deepEqual(twice.domains, once.domains);
  });

  it('refuses a record in no domain with POLICY_REJECTED and a reason per domain', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: f.stranger, role: 'manufacturer', status: 'in-use' }]);
    const error = await rejection(() => engine.admit(record), 'POLICY_REJECTED');
    const reasons = error.details?.reasons as RejectionReason[];
    assert.deepEqual(
      reasons.map((r) => [r.domain, r.code, r.roles]),
      [
        ['devices', 'SIGNER_MISSING', ['manufacturer']],
        ['system', 'USER_ID_NOT_SELECTED', undefined],
        ['firmware', 'KIND_NOT_SELECTED', undefined],
      ],
    );
  });

  it('refuses a record whose required roles are not all carried (ROLE_MISSING)', async () => {
    const bare = await firmware(f);
    const error = await rejection(() => engine.admit(bare), 'POLICY_REJECTED');
    const reasons = error.details?.reasons as RejectionReason[];
    assert.deepEqual(reasons.find((r) => r.domain === 'firmware')?.code, 'ROLE_MISSING');
    assert.deepEqual(reasons.find((r) => r.domain === 'firmware')?.roles, ['certifier']);
    const endorsed = await firmware(f, 'acme-cam-fw', { endorsed: true });
    assert.deepEqual(engine.admit(endorsed).domains, ['firmware']);
  });

  it('judges accept rules after dropping: an untrusted "manufacturer" does not carry the role', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: f.certifier, role: 'manufacturer', status: 'in-use' }]);
    const error = await rejection(() => engine.admit(record), 'POLICY_REJECTED');
    assert.equal((error.details?.reasons as RejectionReason[])[0]?.code, 'SIGNER_MISSING');
  });

  it('enforces the domain limits (LIMIT_EXCEEDED)', async () => {
    let record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    for (let i = 0; i < 3; i++) {
      record = await certify(record, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: minutesAgo(30 - i) });
    }
    const perSigner = await testEngine(f, (p) => {
      p.devices.limits = { maxSignaturesPerSigner: 2 };
    });
    const e1 = await rejection(() => perSigner.admit(record), 'LIMIT_EXCEEDED');
    assert.deepEqual([e1.details?.domain, e1.details?.limit, e1.details?.max, e1.details?.actual], ['devices', 'maxSignaturesPerSigner', 2, 4]);
    const bytes = await testEngine(f, (p) => {
      p.devices.limits = { maxRecordBytes: 1024 };
    });
    assert.ok(record.bytes.length > 1024);
    const e2 = await rejection(() => bytes.admit(record), 'LIMIT_EXCEEDED');
    assert.deepEqual([e2.details?.domain, e2.details?.limit], ['devices', 'maxRecordBytes']);
    assert.equal(perSigner.limitsFor(['devices', 'system']).maxSignaturesPerSigner, 2);
  });

  it('keeps code signatures by the developer and certifier, drops others', async () => {
    const code = await firmware(f, 'acme-cam-fw', { endorsed: true });
    const { signCode } = await import('../../ics/record/index.ts');
    const flooded = await signCode(code.statement, f.stranger.privateKey, { role: 'developer', status: 'revoked' }, { record: code });
    const admitted = engine.admit(flooded);
    assert.equal(admitted.record.digest, code.digest);
    assert.deepEqual(admitted.dropped.map((d) => d.reason), ['ISSUER_NOT_ALLOWED']);
  });
});
