// The issuance statement (x509-sha256@ / x509-serial@ notations by the CA node's key) is
// evidence only: the verdict counts it toward no role, so that a certificate cannot vouch for
// its own renewal once the countersignature that allowed it has been withdrawn.
import assert from 'node:assert/strict';
import { certify, evaluateVerdict, generateIdentity, IssuerKeyring, type KeyRecord, mergeRecords, parseRecord, revokeCertification } from '../../ics/record/index.ts';

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

  it('a record keeps the newest two issuance statements per signer: merges and parsing agree, in any order', async () => {
    const device = await generateIdentity({ userId: URN, created: minutesAgo(60) });
    const maker = await generateIdentity({ userId: 'urn:cm4it:org:maker', created: minutesAgo(60) });
    const nodeA = await generateIdentity({ userId: 'urn:cm4it:org:system-a', created: minutesAgo(60) });
    const nodeB = await generateIdentity({ userId: 'urn:cm4it:org:system-b', created: minutesAgo(60) });
    const base = await certify(device.record, maker.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: minutesAgo(50) });
    const issue = (record: KeyRecord, node: typeof nodeA, serial: string, minutes: number) =>
      certify(record, node.privateKey, { role: 'integrator', metadata: { 'x509-sha256': serial.repeat(16), 'x509-serial': serial } }, { created: minutesAgo(minutes) });
    // Five monthly renewals at node A, each written onto the copy before (as the CA does), and two at node B.
    const copies: KeyRecord[] = [];
    let atA = base;
    for (const [serial, minutes] of [['a001', 40], ['a002', 30], ['a003', 20], ['a004', 10], ['a005', 5]] as const) {
      atA = await issue(atA, nodeA, serial, minutes);
      copies.push(atA);
    }
    const atB = await issue(await issue(base, nodeB, 'b001', 35), nodeB, 'b002', 15);
    const serialsOf = (record: KeyRecord) =>
      record.userIds.flatMap((u) => u.signatures.flatMap((s) => s.notations.filter((n) => n.name === 'x509-serial@cm4it.org').map((n) => n.value))).sort();

    assert.deepEqual(serialsOf(atA), ['a004', 'a005'], 'only the current and the previous are kept');
    assert.ok(atA.userIds[0]?.signatures.some((s) => s.issuer === maker.record.id), 'other statements stay');
    const merged = mergeRecords(atA, atB);
    assert.deepEqual(serialsOf(merged), ['a004', 'a005', 'b001', 'b002']);
    // An old copy coming back (a peer that had not heard of the later renewals) brings nothing back.
    const withOld = mergeRecords(copies[0] as KeyRecord, merged);
    assert.equal(withOld.digest, merged.digest);
    assert.equal(mergeRecords(merged, copies[1] as KeyRecord).digest, merged.digest);
    assert.equal(mergeRecords(atB, atA).digest, merged.digest, 'commutative');
    // A submitted record carrying all five (written by hand: the model never makes one) is kept with the newest two.
    const signatures = new Map(copies.flatMap((c) => c.userIds[0]?.signatures ?? []).map((sig) => [sig.sigId, sig.packet]));
    const uid = base.userIds[0];
    assert.ok(uid);
    const raw = Buffer.concat([base.primaryKey.packet, ...base.keySignatures.map((sig) => sig.packet), uid.packet, ...signatures.values()]);
    assert.equal(signatures.size, 7, 'the self-certification, the maker and all five issuances');
    const issuers = await IssuerKeyring.fromRecords([maker.record, nodeA.record, nodeB.record]);
    const parsed = (await parseRecord(raw, { issuers })).record as KeyRecord;
    assert.deepEqual(serialsOf(parsed), ['a004', 'a005']);
    assert.equal(parsed.digest, atA.digest);
  });
});
