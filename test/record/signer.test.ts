// The project's own OpenPGP signature writer (ics/record/signer.ts), which token keys sign
// through. Ed25519 signatures are deterministic, so a signature written here must be the very
// bytes openpgp.js makes with the same key; ECDSA ones verify and say the same things.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import {
  certify,
  codeStatement,
  generateIdentity,
  issuerFingerprint,
  type KeyRecord,
  type OpenPgpSigner,
  parseKeyRecord,
  privateKeyPkcs8,
  publicKeyBody,
  revokeCertification,
  signCode,
  signerIdentity,
  v4Fingerprint,
} from '../../ics/record/index.ts';
import { PubKeyAlgo } from '../../ics/record/keys.ts';
import type * as openpgp from 'openpgp';

/** A signer backed by a node:crypto key, as a token's would be by the token. */
function keyObjectSigner(privateKey: KeyObject, keyBody: Uint8Array): OpenPgpSigner {
  const ed = privateKey.asymmetricKeyType === 'ed25519';
  return {
    keyBody,
    fingerprint: v4Fingerprint(keyBody),
    algorithm: ed ? PubKeyAlgo.eddsaLegacy : PubKeyAlgo.ecdsa,
    location: 'test',
    sign: async (toHash, digest) => (ed ? sign(null, digest, privateKey) : sign('sha256', toHash, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
  };
}

function signerOf(key: openpgp.PrivateKey): OpenPgpSigner {
  return keyObjectSigner(createPrivateKey(privateKeyPkcs8(key)), key.toPublic().keyPacket.write());
}

const CREATED = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
const signaturesOf = (record: KeyRecord) => record.userIds.flatMap((u) => u.signatures.filter((s) => !s.self).map((s) => Buffer.from(s.packet).toString('hex')));

describe('record/signer', () => {
  let device: KeyRecord;
  before(async () => {
    device = (await generateIdentity({ userId: 'urn:cm4it:device:acme.example:signer-1' })).record;
  });

  it('writes the bytes openpgp.js writes for an Ed25519 certification, revocation and code signature', async () => {
    const { privateKey } = await generateIdentity({ userId: 'urn:cm4it:org:maker.example' });
    const signer = signerOf(privateKey);
    assert.equal(signer.fingerprint, issuerFingerprint(privateKey));
    const statement = { role: 'manufacturer' as const, status: 'in-use', allow: ['mqtt'], metadata: { batch: '7' } };
    const byLibrary = await certify(device, privateKey, statement, { created: CREATED, expiresInSeconds: 3600 });
    const byWriter = await certify(device, signer, statement, { created: CREATED, expiresInSeconds: 3600 });
    assert.equal(signaturesOf(byWriter).length, 1);
    assert.deepEqual(signaturesOf(byWriter), signaturesOf(byLibrary));

    const revokedByLibrary = await revokeCertification(byLibrary, privateKey, { created: new Date(CREATED.getTime() + 1000), reason: 'superseded' });
    const revokedByWriter = await revokeCertification(byWriter, signer, { created: new Date(CREATED.getTime() + 1000), reason: 'superseded' });
    assert.deepEqual(signaturesOf(revokedByWriter), signaturesOf(revokedByLibrary));

    const code = codeStatement('firmware', '1.0.0', { sha256: 'ab'.repeat(32) });
    const codeByLibrary = await signCode(code, privateKey, { role: 'developer', status: 'released' }, { created: CREATED });
    const codeByWriter = await signCode(code, signer, { role: 'developer', status: 'released' }, { created: CREATED });
    assert.deepEqual(Buffer.from(codeByWriter.bytes), Buffer.from(codeByLibrary.bytes));
  });

  it('writes ECDSA P-256 certifications that verify and carry the statement', async () => {
    const { privateKey } = await generateIdentity({ userId: 'urn:cm4it:org:maker.example', algorithm: 'p256' });
    const signed = await certify(device, signerOf(privateKey), { role: 'manufacturer', status: 'stolen' }, { created: CREATED });
    const signature = signed.userIds[0]?.signatures.find((s) => !s.self);
    assert.equal(signature?.issuer, issuerFingerprint(privateKey));
    assert.deepEqual(signature?.notations.map((n) => `${n.name}=${n.value}`), ['role@cm4it.org=manufacturer', 'status@cm4it.org=stolen']);
    assert.equal(signature?.created.getTime(), CREATED.getTime());
  });

  it('a signer whose key is not the public key it names is refused (KEY_UNUSABLE), nothing signed', async () => {
    const { privateKey } = await generateIdentity({ userId: 'urn:cm4it:org:maker.example', algorithm: 'p256' });
    const wrong = keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, privateKey.toPublic().keyPacket.write());
    await assert.rejects(certify(device, wrong, { role: 'manufacturer', status: 'in-use' }, { created: CREATED }), { code: 'KEY_UNUSABLE', message: /does not verify/ });
    const code = codeStatement('firmware', '1.0.0', { sha256: 'ab'.repeat(32) });
    await assert.rejects(signCode(code, wrong, { role: 'developer', status: 'released' }), { code: 'KEY_UNUSABLE' });
  });

  it('makes the key record of a key held elsewhere: P-256 point, user ID, self-certification', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = pair.publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url')]);
    const signer = keyObjectSigner(pair.privateKey, publicKeyBody('p256', point, CREATED));
    const record = await signerIdentity(signer, 'urn:cm4it:org:token.example', CREATED);
    assert.equal(record.id, signer.fingerprint);
    assert.equal(record.primaryKey.created.getTime(), CREATED.getTime());
    const self = record.userIds[0]?.signatures.filter((s) => s.self) ?? [];
    assert.equal(self.length, 1);
    // The record reads back the same from its own bytes (a self-certification that does not verify is dropped).
    const { record: again } = await parseKeyRecord(record.bytes);
    assert.equal(again.userIds[0]?.signatures.filter((s) => s.self).length, 1);
    // And a device certified by it verifies with its public key.
    const signed = await certify(device, signer, { role: 'manufacturer', status: 'in-use' }, { created: CREATED });
    assert.equal(signaturesOf(signed).length, 1);
  });

  it('refuses an Ed25519 point of the wrong size and times before 1970', () => {
    assert.throws(() => publicKeyBody('ed25519', new Uint8Array(31), CREATED), /32 bytes/);
    assert.throws(() => publicKeyBody('p256', new Uint8Array(65), CREATED), /uncompressed point/);
    assert.throws(() => publicKeyBody('ed25519', new Uint8Array(32), new Date(-1000)), /1970/);
  });
});
