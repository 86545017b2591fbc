// The issuance statement (x509-sha256@ / x509-serial@ notations by the CA node's key) is
// evidence only: the verdict counts it toward no role, so that a certificate cannot vouch for
// its own renewal once the countersignature that allowed it has been withdrawn.
import assert from 'node:assert/strict';
import { certify, evaluateVerdict, generateIdentity, revokeCertification } from '../../ics/record/index.ts';

const URN = 'urn:cm4it:device:acme.example:cam-3:SN9';
const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000);

describe('enrol/issuance-statement: evidence, not a role', () => {
  it('counts toward no role, and the verdict says why', async () => {
    const device = await generateIdentity({ userId: URN, created: minutesAgo(10) });
    const manufacturer = await generateIdentity({ userId: 'urn:cm4it:org:maker', created: minutesAgo(10) });
    const integrator = await generateIdentity({ userId: 'urn:cm4it:org:integrator', created: minutesAgo(10) });
    const node = await generateIdentity({ userId: 'urn:cm4it:org:system', created: minutesAgo(10) });
    let record = await certify(device.record, manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: minutesAgo(9) });
    record = await certify(record, integrator.privateKey, { role: 'integrator' }, { created: minutesAgo(8) });
    // The system node may sign as integrator too; its issuance statement names that role.
    const issuance = { 'x509-sha256': 'ab'.repeat(32), 'x509-serial': '4f00' };
    record = await certify(record, node.privateKey, { role: 'integrator', metadata: issuance }, { created: minutesAgo(7) });
    const policy = {
      issuers: [
        { fingerprint: manufacturer.record.id, roles: ['manufacturer' as const] },
        { fingerprint: integrator.record.id, roles: ['integrator' as const] },
        { fingerprint: node.record.id, roles: ['integrator' as const] },
      ],
      requiredRoles: ['manufacturer' as const, 'integrator' as const],
    };
    const before = evaluateVerdict(record, policy);
    assert.equal(before.trusted, true);
    assert.deepEqual(before.roles.filter((r) => r.role === 'integrator').map((r) => r.issuer), [integrator.record.id]);
    assert.ok(before.reasons.some((r) => r.code === 'CERTIFICATE_ISSUANCE' && r.issuer === node.record.id && /serial 4f00/.test(r.message)));
    assert.equal(before.metadata['x509-serial'], undefined, 'not a metadata statement either');

    // The integrator withdraws: the node's issuance statement does not keep the role alive.
    const withdrawn = await revokeCertification(record, integrator.privateKey, { created: minutesAgo(1) });
    const after = evaluateVerdict(withdrawn, policy);
    assert.equal(after.trusted, false);
    assert.ok(after.reasons.some((r) => r.code === 'ROLE_MISSING' && /integrator/.test(r.message)));
  });
});
