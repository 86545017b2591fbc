// The signature reader and hash input of signature.ts, checked against openpgp.js as an
// independent implementation of RFC 4880 §5.2.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { isIcsError } from '../../ics/errors.ts';
import { codeStatement, DEFAULT_LIMITS, signCode } from '../../ics/record/index.ts';
import { scanPackets } from '../../ics/record/packets.ts';
import { hashTrailer, keyHashPrefix, readSignature, userIdHashPrefix } from '../../ics/record/signature.ts';
import { certifiedDevice, fixture } from '../helpers/identities.ts';

type WithToHash = { toHash(type: number, data: unknown): Uint8Array };

describe('record/signature', () => {
  it('reads what openpgp.js reads and hashes what it hashes (certifications)', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const [key, uid, ...sigs] = scanPackets(record.bytes, DEFAULT_LIMITS);
    assert.ok(key && uid && sigs.length === 3);
    const keyPacket = new openpgp.PublicKeyPacket();
    await keyPacket.read(key.body);
    const uidPacket = new openpgp.UserIDPacket();
    uidPacket.read(uid.body);
    for (const raw of sigs) {
      const ours = readSignature(raw.body);
      const theirs = new openpgp.SignaturePacket();
      theirs.read(raw.body);
      assert.equal(ours.type, theirs.signatureType);
      assert.equal(ours.hashAlgorithm, theirs.hashAlgorithm);
      assert.equal(ours.created?.getTime(), theirs.created?.getTime());
      assert.equal(ours.issuerFingerprint, Buffer.from(theirs.issuerFingerprint as Uint8Array).toString('hex'));
      assert.deepEqual(
        ours.notations.map((n) => [n.name, Buffer.from(n.value).toString()]),
        (theirs.rawNotations as unknown as Array<{ name: string; value: Uint8Array }>).map((n) => [
          n.name,
          Buffer.from(n.value).toString(),
        ]),
      );
      const expected = (theirs as unknown as WithToHash).toHash(theirs.signatureType as number, { key: keyPacket, userID: uidPacket });
      const actual = Buffer.concat([keyHashPrefix(keyPacket.write()), userIdHashPrefix(uid.body), ours.hashedPart, hashTrailer(ours)]);
      assert.deepEqual(actual, Buffer.from(expected));
      const digest = createHash(ours.hashAlgorithm === 10 ? 'sha512' : 'sha256')
        .update(actual)
        .digest();
      assert.deepEqual([...ours.left16], [...digest.subarray(0, 2)]);
    }
  });

  it('hashes a code statement signature like openpgp.js does for binary documents', async () => {
    const f = await fixture();
    const code = await signCode(codeStatement('fw', '1.0', { sha256: 'ef'.repeat(32) }), f.manufacturer.privateKey, { role: 'developer' });
    const [raw] = scanPackets(code.signatures[0]?.packet as Uint8Array, DEFAULT_LIMITS);
    assert.ok(raw);
    const ours = readSignature(raw.body);
    const theirs = new openpgp.SignaturePacket();
    theirs.read(raw.body);
    const literal = new openpgp.LiteralDataPacket();
    (literal as unknown as { setBytes(b: Uint8Array, f: number): void }).setBytes(code.canonical, openpgp.enums.literal.binary);
    const expected = (theirs as unknown as WithToHash).toHash(0, literal);
    assert.deepEqual(Buffer.concat([code.canonical, ours.hashedPart, hashTrailer(ours)]), Buffer.from(expected));
  });

  it('re-encodes signature integers minimally, so padded copies are one signature', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const [, , raw] = scanPackets(record.bytes, DEFAULT_LIMITS);
    assert.ok(raw);
    const sig = readSignature(raw.body);
    const start = raw.body.length - sig.value.length;
    const bits = (raw.body[start] as number) * 256 + (raw.body[start + 1] as number);
    const bytes = (bits + 7) >> 3;
    // Same first integer with a leading zero byte and a declared length 8 bits longer.
    const padded = Buffer.concat([
      raw.body.subarray(0, start),
      Uint8Array.of((bits + 8) >> 8, (bits + 8) & 0xff, 0),
      raw.body.subarray(start + 2, start + 2 + bytes),
      raw.body.subarray(start + 2 + bytes),
    ]);
    assert.deepEqual(Buffer.from(readSignature(padded).value), Buffer.from(sig.value));
  });

  it('refuses truncated bodies and bad subpacket lengths with RECORD_MALFORMED', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const [, , raw] = scanPackets(record.bytes, DEFAULT_LIMITS);
    assert.ok(raw);
    for (const cut of [5, 12, raw.body.length - 3]) {
      assert.throws(
        () => readSignature(raw.body.subarray(0, cut)),
        (e: unknown) => isIcsError(e, 'RECORD_MALFORMED'),
      );
    }
    const bad = Buffer.from(raw.body);
    bad[6] = 250; // first hashed subpacket claims more bytes than the area holds
    assert.throws(
      () => readSignature(bad),
      (e: unknown) => isIcsError(e, 'RECORD_MALFORMED'),
    );
  });
});
