// Attack: certificate flooding (SKS 2019, CVE-2019-13050) — thousands of certifications
// by keys nobody trusts, meant to make the record unusable or the server slow.
import assert from 'node:assert/strict';
import { isIcsError } from '../../ics/errors.ts';
import { certify, DEFAULT_LIMITS, parseKeyRecord, parseRecord } from '../../ics/record/index.ts';
import { certifiedDevice, fixture, minutesAgo } from '../helpers/identities.ts';

describe('security: signature flooding', () => {
  it('drops hundreds of distinct certifications by unknown issuers without verifying them', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const distinct = 200;
    const packets: Uint8Array[] = [];
    for (let i = 0; i < distinct; i++) {
      const signed = await certify(record, f.stranger.privateKey, { role: 'integrator' }, { created: minutesAgo(30 + i) });
      const sig = signed.userIds[0]?.signatures.find((s) => s.issuer === f.stranger.record.id);
      assert.ok(sig);
      packets.push(sig.packet);
    }
    // Each distinct signature sent 10 times over.
    const bytes = Buffer.concat([record.bytes, ...Array.from({ length: 10 }, () => packets).flat()]);
    const { record: parsed, dropped } = await parseKeyRecord(bytes, { issuers: f.ring });
    assert.equal(parsed.digest, record.digest, 'nothing of the flood is kept');
    assert.equal(dropped.length, distinct, 'copies collapse before they are counted');
    assert.ok(dropped.every((d) => d.reason === 'UNKNOWN_ISSUER' && d.issuer === f.stranger.record.id));
  });

  it('refuses thousands of copies of one trusted certification before verifying them', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const cert = record.userIds[0]?.signatures.find((s) => s.issuer === f.manufacturer.record.id);
    assert.ok(cert);
    const bytes = Buffer.concat([record.bytes, ...Array.from({ length: 3000 }, () => cert.packet)]);
    const { record: parsed } = await parseKeyRecord(bytes, { issuers: f.ring });
    assert.equal(parsed.digest, record.digest, 'copies collapse to the one signature');
  });

  it('refuses a record with more packets than the limit before parsing them', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const sig = record.userIds[0]?.signatures[0];
    assert.ok(sig);
    const bytes = Buffer.concat([record.bytes, ...Array.from({ length: DEFAULT_LIMITS.maxPackets }, () => sig.packet)]);
    await assert.rejects(parseRecord(bytes, { issuers: f.ring }), (e: unknown) => isIcsError(e, 'LIMIT_EXCEEDED'));
  });

  it('a trusted issuer cannot flood past its own per-signer cap, and others are unaffected', async () => {
    const f = await fixture();
    let { record } = await certifiedDevice(f, { at: minutesAgo(300) });
    for (let i = 0; i < 6; i++) {
      record = await certify(
        record,
        f.manufacturer.privateKey,
        { role: 'manufacturer', status: 'in-use' },
        { created: minutesAgo(200 - i) },
      );
    }
    const limits = { ...DEFAULT_LIMITS, maxSignaturesPerSigner: 4 };
    await assert.rejects(parseRecord(record.bytes, { issuers: f.ring, limits }), (e: unknown) => isIcsError(e, 'LIMIT_EXCEEDED'));
  });
});
