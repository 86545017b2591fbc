// Attack: copying a trusted issuer's certification from one device onto another device's
// key, or a third party forging the key's own revocation / binding signatures.
import assert from 'node:assert/strict';
import { isIcsError } from '../../ics/errors.ts';
import { parseKeyRecord, parseRecord } from '../../ics/record/index.ts';
import { certifiedDevice, fixture } from '../helpers/identities.ts';

describe('security: signature transplant', () => {
  it("a certification copied onto another device's user ID does not verify", async () => {
    const f = await fixture();
    const { record: a } = await certifiedDevice(f);
    const { device: b } = await certifiedDevice(f);
    const manufacturerSig = a.userIds[0]?.signatures.find((s) => s.issuer === f.manufacturer.record.id);
    assert.ok(manufacturerSig);
    const forged = Buffer.concat([b.record.bytes, manufacturerSig.packet]);
    await assert.rejects(parseRecord(forged, { issuers: f.ring }), (e: unknown) => isIcsError(e, 'SIGNATURE_INVALID'));
  });

  it('a certification moved to the key level is dropped as not allowed', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const [keyPacket] = [record.primaryKey.packet];
    const cert = record.userIds[0]?.signatures.find((s) => !s.self);
    const uid = record.userIds[0];
    assert.ok(cert && uid);
    const selfSig = uid.signatures.find((s) => s.self);
    assert.ok(selfSig);
    const bytes = Buffer.concat([keyPacket, cert.packet, uid.packet, selfSig.packet]);
    const { record: parsed, dropped } = await parseKeyRecord(bytes, { issuers: f.ring });
    assert.equal(parsed.keySignatures.length, 0);
    assert.deepEqual(
      dropped.map((d) => d.reason),
      ['NOT_ALLOWED'],
    );
  });
});
