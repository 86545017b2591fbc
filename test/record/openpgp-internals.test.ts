// openpgp.js internals this model relies on (see ics/record/openpgp-internals.ts): checked
// against values computed independently, so that a library upgrade that changes them fails here.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { DEFAULT_LIMITS } from '../../ics/record/index.ts';
import { binaryLiteral, signedData, signatureValue } from '../../ics/record/openpgp-internals.ts';
import { scanPackets } from '../../ics/record/packets.ts';
import { certifiedDevice, fixture } from '../helpers/identities.ts';

describe('record/openpgp-internals', () => {
  it('signedData is RFC 4880 §5.2.4: key, user ID, hashed part and trailer', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const [key, uid, sigRaw] = scanPackets(record.bytes, DEFAULT_LIMITS);
    assert.ok(key && uid && sigRaw);
    const keyPacket = new openpgp.PublicKeyPacket();
    await keyPacket.read(key.body);
    const uidPacket = new openpgp.UserIDPacket();
    uidPacket.read(uid.body);
    const sig = new openpgp.SignaturePacket();
    sig.read(sigRaw.body);
    const hashedLength = 6 + ((sigRaw.body[4] as number) << 8) + (sigRaw.body[5] as number);
    const hashed = sigRaw.body.subarray(0, hashedLength);
    const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    const expected = Buffer.concat([
      Buffer.from([0x99, key.body.length >> 8, key.body.length & 255]),
      key.body,
      Buffer.from([0xb4]),
      u32(uid.body.length),
      uid.body,
      hashed,
      Buffer.from([0x04, 0xff]),
      u32(hashed.length),
    ]);
    assert.deepEqual(Buffer.from(signedData(sig, sig.signatureType as number, { key: keyPacket, userID: uidPacket })), expected);
    const digest = createHash(sig.hashAlgorithm === 10 ? 'sha512' : 'sha256').update(expected).digest();
    assert.deepEqual([...(sig.signedHashValue as Uint8Array)], [...digest.subarray(0, 2)]);
    // The signature value is the packet's tail after the two quick-check bytes.
    const unhashedLength = ((sigRaw.body[hashedLength] as number) << 8) + (sigRaw.body[hashedLength + 1] as number);
    assert.deepEqual(Buffer.from(signatureValue(sig)), Buffer.from(sigRaw.body.subarray(hashedLength + 2 + unhashedLength + 2)));
  });

  it('a binary literal signs its bytes as they are', () => {
    const literal = binaryLiteral(Buffer.from('{"a":1}'));
    const bytes = (literal as unknown as { getBytes(): Uint8Array }).getBytes();
    assert.equal(Buffer.from(bytes).toString(), '{"a":1}');
  });
});
