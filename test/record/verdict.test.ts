import assert from 'node:assert/strict';
import {
  certify,
  codeStatement,
  evaluateVerdict,
  type KeyRecord,
  mergeRecords,
  parseKeyRecord,
  revokeCertification,
  signCode,
  type VerdictPolicy,
} from '../../ics/record/index.ts';
import { certifiedDevice, type Fixture, fixture, minutesAgo } from '../helpers/identities.ts';

function policy(f: Fixture, extra: Partial<VerdictPolicy> = {}): VerdictPolicy {
  return { issuers: f.trusted, requiredRoles: ['manufacturer', 'integrator'], ...extra };
}

const codes = (v: { reasons: readonly { code: string; severity: string }[] }, severity: string) =>
  v.reasons.filter((r) => r.severity === severity).map((r) => r.code);

describe('record/verdict', () => {
  let f: Fixture;
  let record: KeyRecord;

  before(async () => {
    f = await fixture();
    ({ record } = await certifiedDevice(f, { at: minutesAgo(120) }));
  });

  it('trusts a device with the required roles and an in-use status, and says why', () => {
    const v = evaluateVerdict(record, policy(f));
    assert.equal(v.trusted, true);
    assert.equal(v.status, 'in-use');
    assert.equal(v.statusSetBy?.role, 'manufacturer');
    assert.deepEqual(v.roles.map((r) => r.role).sort(), ['integrator', 'manufacturer']);
    assert.deepEqual(codes(v, 'ok').sort(), ['ROLE_PRESENT', 'ROLE_PRESENT', 'STATUS_TRUSTED']);
    assert.deepEqual(codes(v, 'fail'), []);
  });

  it('is not trusted when a required role is missing', () => {
    const v = evaluateVerdict(record, policy(f, { requiredRoles: ['manufacturer', 'integrator', 'certifier'] }));
    assert.equal(v.trusted, false);
    assert.deepEqual(codes(v, 'fail'), ['ROLE_MISSING']);
  });

  it('ignores issuers the policy does not trust and roles they may not sign in', () => {
    const manufacturerOnly = f.trusted.filter((t) => t.roles.includes('manufacturer'));
    const v = evaluateVerdict(record, { issuers: manufacturerOnly, requiredRoles: ['manufacturer', 'integrator'] });
    assert.equal(v.trusted, false);
    assert.ok(codes(v, 'info').includes('ISSUER_UNTRUSTED'));
    const wrongRole = f.trusted.map((t) => (t.roles.includes('integrator') ? { ...t, roles: ['owner' as const] } : t));
    const w = evaluateVerdict(record, { issuers: wrongRole, requiredRoles: ['integrator'] });
    assert.equal(w.trusted, false);
    assert.ok(codes(w, 'info').includes('ROLE_NOT_ALLOWED'));
  });

  it('takes the newest status by an allowed setter: stolen makes the device untrusted', async () => {
    const stolen = await certify(
      record,
      f.manufacturer.privateKey,
      { role: 'manufacturer', status: 'stolen' },
      { created: minutesAgo(60) },
    );
    const v = evaluateVerdict(stolen, policy(f));
    assert.equal(v.status, 'stolen');
    assert.equal(v.trusted, false);
    assert.deepEqual(codes(v, 'fail'), ['STATUS_UNTRUSTED']);
  });

  it('an older status statement replayed later does not change the current status', async () => {
    const older = await certify(
      record,
      f.manufacturer.privateKey,
      { role: 'manufacturer', status: 'planned' },
      { created: minutesAgo(200) },
    );
    const stolen = await certify(
      record,
      f.manufacturer.privateKey,
      { role: 'manufacturer', status: 'stolen' },
      { created: minutesAgo(60) },
    );
    // The replayed statement arrives after the newer one.
    const merged = mergeRecords(stolen, older);
    assert.equal(evaluateVerdict(merged, policy(f)).status, 'stolen');
    const { record: reparsed } = await parseKeyRecord(merged.bytes, { issuers: f.ring });
    assert.equal(evaluateVerdict(reparsed, policy(f)).status, 'stolen');
  });

  it('keeps a terminal status terminal', async () => {
    const destroyed = await certify(
      record,
      f.manufacturer.privateKey,
      { role: 'manufacturer', status: 'destroyed' },
      { created: minutesAgo(60) },
    );
    const revived = await certify(
      destroyed,
      f.integrator.privateKey,
      { role: 'maintainer', status: 'in-use' },
      { created: minutesAgo(30) },
    );
    const v = evaluateVerdict(revived, policy(f));
    assert.equal(v.status, 'destroyed');
    assert.equal(v.trusted, false);
    assert.deepEqual(codes(v, 'fail'), ['STATUS_TERMINAL']);
  });

  it('a status statement by a role that may not set status does not count', async () => {
    const byCertifier = await certify(record, f.certifier.privateKey, { role: 'certifier', status: 'stolen' }, { created: minutesAgo(30) });
    assert.equal(evaluateVerdict(byCertifier, policy(f)).status, 'in-use');
  });

  it('a withdrawn countersignature no longer counts; a newer one counts again', async () => {
    const withdrawn = await revokeCertification(record, f.integrator.privateKey, { created: minutesAgo(60), reason: 'contract ended' });
    const v = evaluateVerdict(withdrawn, policy(f));
    assert.equal(v.trusted, false);
    assert.deepEqual(codes(v, 'fail'), ['ROLE_MISSING']);
    assert.ok(codes(v, 'info').includes('CERTIFICATION_REVOKED'));
    const renewed = await certify(withdrawn, f.integrator.privateKey, { role: 'integrator' }, { created: minutesAgo(30) });
    assert.equal(evaluateVerdict(renewed, policy(f)).trusted, true);
  });

  it('an expired certification does not count', async () => {
    const { device } = await certifiedDevice(f);
    let r = await certify(
      device.record,
      f.manufacturer.privateKey,
      { role: 'manufacturer', status: 'in-use' },
      { created: minutesAgo(100) },
    );
    r = await certify(r, f.certifier.privateKey, { role: 'certifier' }, { created: minutesAgo(100), expiresInSeconds: 60 });
    const v = evaluateVerdict(r, { issuers: f.trusted, requiredRoles: ['certifier'] });
    assert.equal(v.trusted, false);
    assert.ok(codes(v, 'info').includes('CERTIFICATION_EXPIRED'));
    assert.deepEqual(v.endorsements, []);
  });

  it('collects authorizations (deny wins), endorsements and metadata', async () => {
    let r = await certify(
      record,
      f.integrator.privateKey,
      { role: 'integrator', allow: ['telemetry', 'video-recording'] },
      { created: minutesAgo(90) },
    );
    r = await certify(
      r,
      f.manufacturer.privateKey,
      { role: 'manufacturer', deny: ['video-recording'], metadata: { model: 'cam-3' } },
      { created: minutesAgo(80) },
    );
    r = await certify(
      r,
      f.certifier.privateKey,
      { role: 'certifier', metadata: { endorsement: 'IEC-62304' } },
      { created: minutesAgo(70) },
    );
    const v = evaluateVerdict(r, policy(f));
    assert.deepEqual(v.authorizations, { allow: ['telemetry'], deny: ['video-recording'] });
    assert.equal(v.endorsements.length, 1);
    assert.equal(v.endorsements[0]?.metadata.endorsement, 'IEC-62304');
    assert.equal(v.metadata.model, 'cam-3');
  });

  it('without any status statement the device is not trusted unless the policy allows it', async () => {
    const { device } = await certifiedDevice(f);
    const r = await certify(device.record, f.manufacturer.privateKey, { role: 'manufacturer' }, { created: minutesAgo(10) });
    const strict = evaluateVerdict(r, { issuers: f.trusted, requiredRoles: ['manufacturer'] });
    assert.deepEqual(codes(strict, 'fail'), ['STATUS_MISSING']);
    assert.equal(evaluateVerdict(r, { issuers: f.trusted, requiredRoles: ['manufacturer'], allowMissingStatus: true }).trusted, true);
  });

  it('code: released is trusted, a newer deprecated is not, revoked stays revoked', async () => {
    const developer = { fingerprint: f.manufacturer.record.id, roles: ['developer' as const] };
    const statement = codeStatement('acme-cam-fw', '3.2.1', { sha256: 'cd'.repeat(32) });
    let code = await signCode(statement, f.manufacturer.privateKey, { role: 'developer', status: 'released' }, { created: minutesAgo(60) });
    const p: VerdictPolicy = { issuers: [developer], requiredRoles: ['developer'] };
    assert.equal(evaluateVerdict(code, p).trusted, true);
    assert.equal(evaluateVerdict(code, p).kind, 'code');
    code = await signCode(
      statement,
      f.manufacturer.privateKey,
      { role: 'developer', status: 'deprecated' },
      { created: minutesAgo(30), record: code },
    );
    const deprecated = evaluateVerdict(code, p);
    assert.equal(deprecated.status, 'deprecated');
    assert.equal(deprecated.trusted, false);
    code = await signCode(
      statement,
      f.manufacturer.privateKey,
      { role: 'developer', status: 'revoked' },
      { created: minutesAgo(20), record: code },
    );
    code = await signCode(
      statement,
      f.manufacturer.privateKey,
      { role: 'developer', status: 'released' },
      { created: minutesAgo(10), record: code },
    );
    assert.equal(evaluateVerdict(code, p).status, 'revoked');
  });
});
