import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { isIcsError } from '../../ics/errors.ts';
import {
  armor,
  certify,
  DEFAULT_LIMITS,
  generateIdentity,
  parseKeyRecord,
  parseRecord,
  ROLE_NOTATION,
  reviveRecord,
  SigType,
} from '../../ics/record/index.ts';
import { framePacket, PacketTag, scanPackets } from '../../ics/record/packets.ts';
import { certifiedDevice, fixture, minutesAgo } from '../helpers/identities.ts';

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isIcsError(error), `expected IcsError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

describe('record/parse', () => {
  it('creates Ed25519 and P-256 device records with a URN user ID and self-certification', async () => {
    for (const algorithm of ['ed25519', 'p256'] as const) {
      const urn = `urn:cm4it:device:acme.example:cam-3:${algorithm}`;
      const { record } = await generateIdentity({ userId: urn, algorithm });
      assert.equal(record.kind, 'device');
      assert.match(record.id, /^[0-9a-f]{40}$/);
      assert.equal(record.primaryKey.algorithm, algorithm === 'ed25519' ? 22 : 19);
      assert.equal(record.primaryKey.algorithmName, algorithm === 'ed25519' ? 'ed25519' : 'nistP256');
      assert.equal(record.userIds.length, 1);
      assert.equal(record.userIds[0]?.userId, urn);
      const sigs = record.userIds[0]?.signatures ?? [];
      assert.equal(sigs.length, 1);
      assert.equal(sigs[0]?.self, true);
      assert.equal(sigs[0]?.issuer, record.id);
    }
  });

  it('round-trips armored and binary input to identical canonical bytes', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const fromBinary = await parseRecord(record.bytes, { issuers: f.ring });
    const fromArmor = await parseRecord(armor('publicKey', record.bytes), { issuers: f.ring });
    assert.equal(fromBinary.record.digest, record.digest);
    assert.equal(fromArmor.record.digest, record.digest);
    assert.deepEqual(Buffer.from(fromArmor.record.bytes), Buffer.from(record.bytes));
    assert.equal(fromBinary.dropped.length, 0);
  });

  it('reads third-party certifications with their notations and expiry', async () => {
    const f = await fixture();
    const { device } = await certifiedDevice(f);
    const at = minutesAgo(5);
    const record = await certify(
      device.record,
      f.certifier.privateKey,
      { role: 'certifier', metadata: { endorsement: 'IEC-62304' }, deny: ['video-recording'] },
      { created: at, expiresInSeconds: 86400 },
    );
    const { record: parsed } = await parseKeyRecord(record.bytes, { issuers: f.ring });
    const cert = parsed.userIds[0]?.signatures.find((s) => !s.self);
    assert.ok(cert);
    assert.equal(cert.issuer, f.certifier.record.id);
    assert.equal(cert.type, SigType.certGeneric);
    assert.equal(cert.created.getTime(), Math.floor(at.getTime() / 1000) * 1000);
    assert.equal(cert.expires?.getTime(), cert.created.getTime() + 86400_000);
    assert.deepEqual(
      cert.notations.map((n) => `${n.name}=${n.value}`).sort(),
      [`${ROLE_NOTATION}=certifier`, 'deny@cm4it.org=video-recording', 'endorsement@cm4it.org=IEC-62304'].sort(),
    );
  });

  it('drops certifications by issuers it does not know, without failing the record', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const { record: parsed, dropped } = await parseKeyRecord(record.bytes);
    assert.equal(parsed.userIds[0]?.signatures.length, 1, 'only the self-certification remains');
    assert.deepEqual(dropped.map((d) => d.reason).sort(), ['UNKNOWN_ISSUER', 'UNKNOWN_ISSUER']);
    assert.deepEqual(dropped.map((d) => d.issuer).sort(), [f.manufacturer.record.id, f.integrator.record.id].sort());
  });

  it('refuses a record whose certification does not verify', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const packets = scanPackets(record.bytes, DEFAULT_LIMITS);
    const victim = packets.findIndex((p, i) => p.tag === PacketTag.signature && i > 2);
    const bytes = Buffer.concat(
      packets.map((p, i) => {
        const body = Buffer.from(p.body);
        if (i === victim) body[body.length - 3] = (body[body.length - 3] as number) ^ 0x01;
        return framePacket(p.tag, body);
      }),
    );
    await rejects(parseRecord(bytes, { issuers: f.ring }), 'SIGNATURE_INVALID');
  });

  it('refuses a key without a valid self-certification', async () => {
    const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:x:1' });
    const [key, uid] = scanPackets(record.bytes, DEFAULT_LIMITS);
    assert.ok(key && uid);
    await rejects(parseRecord(Buffer.concat([framePacket(key.tag, key.body), framePacket(uid.tag, uid.body)])), 'RECORD_MALFORMED');
  });

  it('refuses secret keys, compressed data and unknown critical packets with PACKET_NOT_ALLOWED', async () => {
    const { privateKey } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:x:2' });
    await rejects(parseRecord(privateKey.armor()), 'PACKET_NOT_ALLOWED');
    await rejects(parseRecord(framePacket(PacketTag.compressedData, new Uint8Array([1, 2, 3]))), 'PACKET_NOT_ALLOWED');
    const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:x:3' });
    // RFC 9580 §4.3: tags 0–39 are critical; an unknown one makes the sequence invalid.
    for (const tag of [22, 39]) await rejects(parseRecord(Buffer.concat([record.bytes, framePacket(tag, new Uint8Array([0]))])), 'PACKET_NOT_ALLOWED');
    // Known but never part of a record: encrypted data (SED, SEIPD, AEAD), PKESK, one-pass signature.
    for (const tag of [1, 3, 4, 9, 18, 20]) {
      await rejects(parseRecord(Buffer.concat([record.bytes, framePacket(tag, new Uint8Array([1, 2, 3]))])), 'PACKET_NOT_ALLOWED');
    }
  });

  it('skips unknown non-critical packets (tags 40–63) and padding, keeping nothing of them (RFC 9580 §4.3, §5.14)', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const [key, ...others] = scanPackets(record.bytes, DEFAULT_LIMITS);
    assert.ok(key);
    const extra = (tag: number) => framePacket(tag, Buffer.from(`ignored ${tag}`));
    // Before the key, between its packets and at the end; armored and binary.
    const input = Buffer.concat([
      extra(60),
      framePacket(key.tag, key.body),
      extra(40),
      ...others.flatMap((p) => [framePacket(p.tag, p.body), extra(PacketTag.padding)]),
      extra(59),
      extra(63),
    ]);
    for (const form of [input, armor('publicKey', input)]) {
      const { record: parsed, dropped } = await parseKeyRecord(form, { issuers: f.ring });
      assert.equal(parsed.digest, record.digest, 'the canonical record holds only known packets');
      assert.deepEqual(dropped, []);
    }
    // They still count toward the packet cap.
    const cap = { ...DEFAULT_LIMITS, maxPackets: scanPackets(record.bytes, DEFAULT_LIMITS).length + 1 };
    await rejects(parseRecord(Buffer.concat([record.bytes, extra(60), extra(60)]), { issuers: f.ring, limits: cap }), 'LIMIT_EXCEEDED');
  });

  it('refuses truncated input, bad armor and empty input with RECORD_MALFORMED', async () => {
    const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:x:4' });
    await rejects(parseRecord(record.bytes.subarray(0, record.bytes.length - 5)), 'RECORD_MALFORMED');
    await rejects(parseRecord(new Uint8Array()), 'RECORD_MALFORMED');
    const armored = armor('publicKey', record.bytes);
    const corrupted = armored.replace(/\n([A-Za-z0-9+/]{10})/, (_m, s: string) => `\n${s.split('').reverse().join('')}`);
    await rejects(parseRecord(corrupted), 'RECORD_MALFORMED');
    await rejects(parseRecord('not a key at all'), 'RECORD_MALFORMED');
  });

  it('enforces size and count limits with LIMIT_EXCEEDED', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    await rejects(parseRecord(record.bytes, { limits: { ...DEFAULT_LIMITS, maxRecordBytes: 100 } }), 'LIMIT_EXCEEDED');
    await rejects(parseRecord(record.bytes, { limits: { ...DEFAULT_LIMITS, maxPackets: 3 } }), 'LIMIT_EXCEEDED');
    const long = `urn:cm4it:device:acme.example:${'x'.repeat(1100)}`;
    // Our own generator goes through the same parser, so it refuses the oversized user ID too.
    await rejects(generateIdentity({ userId: long }), 'LIMIT_EXCEEDED');
  });

  it('caps signatures per signer, not per record', async () => {
    const f = await fixture();
    let { record } = await certifiedDevice(f);
    for (let i = 0; i < 4; i++) {
      record = await certify(
        record,
        f.manufacturer.privateKey,
        { role: 'manufacturer', status: 'in-use' },
        { created: minutesAgo(50 - i) },
      );
    }
    const limits = { ...DEFAULT_LIMITS, maxSignaturesPerSigner: 3 };
    await rejects(parseRecord(record.bytes, { issuers: f.ring, limits }), 'LIMIT_EXCEEDED');
    // The integrator's single certification is unaffected by the manufacturer's count.
    const ok = await parseRecord(record.bytes, { issuers: f.ring, limits: { ...DEFAULT_LIMITS, maxSignaturesPerSigner: 5 } });
    assert.equal(ok.record.type, 'key');
  });

  it('drops signatures dated in the future', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f, { at: minutesAgo(3 * 24 * 60) });
    const signed = await certify(record, f.manufacturer.privateKey, { role: 'manufacturer', status: 'stolen' }, { created: new Date() });
    // Seen from a node whose clock is a day behind, the new statement is from the future.
    const { record: parsed, dropped } = await parseKeyRecord(signed.bytes, { issuers: f.ring, now: minutesAgo(24 * 60) });
    assert.deepEqual(
      dropped.map((d) => [d.reason, d.issuer]),
      [['NOT_ALLOWED', f.manufacturer.record.id]],
    );
    assert.equal(parsed.digest, record.digest);
  });

  it('keeps only the issuer key id and fingerprint in the unhashed area (canonical signature bytes)', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const sigPacket = scanPackets(record.bytes, DEFAULT_LIMITS).find((p, i) => p.tag === PacketTag.signature && i > 2);
    assert.ok(sigPacket);
    const sig = new openpgp.SignaturePacket();
    sig.read(sigPacket.body);
    assert.deepEqual(
      sig.unhashedSubpackets.map((s) => (s as { type: number }).type),
      [16, 33],
    );
  });

  it('revives stored canonical bytes without a key ring to the same record', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const revived = await reviveRecord(record.bytes);
    assert.equal(revived.digest, record.digest);
    assert.deepEqual(
      revived.type === 'key' ? revived.userIds[0]?.signatures.map((s) => [s.issuer, s.sigId, s.self]) : [],
      record.userIds[0]?.signatures.map((s) => [s.issuer, s.sigId, s.self]),
    );
  });

  it('refuses a public key followed by a second key in one record', async () => {
    const a = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:x:5' });
    const b = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:x:6' });
    await rejects(parseRecord(Buffer.concat([a.record.bytes, b.record.bytes])), 'RECORD_MALFORMED');
  });
});
