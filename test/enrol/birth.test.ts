// Birth certificates (IEEE 802.1AR style) for device records: the record's own primary key,
// the serial number in the subject, the URN as SAN URI, no expiry unless asked; a chain
// root → issuing → birth that openssl verifies, for every CA and device key type.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { deviceSerial, issueBirthCertificate, NO_WELL_DEFINED_EXPIRATION, type UnlockedAuthority } from '../../ics/enrol/index.ts';
import { isIcsError } from '../../ics/errors.ts';
import { generateIdentity, type KeyRecord, parseKeyRecord } from '../../ics/record/index.ts';
import { caChain, openssl, tempDirs } from './helpers.ts';

const URN = 'urn:cm4it:device:acme.example:cam-3:SN12345';
const rejects = (promise: Promise<unknown>, code: string) => assert.rejects(promise, (e: unknown) => isIcsError(e) && e.code === code);

/** The raw public key bytes as OpenPGP holds them: EdDSA legacy Q without its 0x40 prefix, v4 Ed25519 A, ECDSA Q (uncompressed point). */
function openpgpKeyBytes(key: openpgp.PrivateKey): Buffer {
  const params = key.keyPacket.publicParams as { Q?: Uint8Array; A?: Uint8Array };
  if (key.keyPacket.algorithm === openpgp.enums.publicKey.eddsaLegacy) return Buffer.from((params.Q as Uint8Array).subarray(1));
  return Buffer.from((params.A ?? params.Q) as Uint8Array);
}

/** A device record whose primary key is legacy EdDSA (algorithm 22), v4 Ed25519 (27) or ECDSA P-256. */
async function device(kind: 'eddsa-legacy' | 'ed25519-v4' | 'p256', urn = URN): Promise<{ record: KeyRecord; privateKey: openpgp.PrivateKey }> {
  if (kind !== 'ed25519-v4') return generateIdentity({ userId: urn, algorithm: kind === 'p256' ? 'p256' : 'ed25519' });
  const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: urn }], format: 'object', config: { v6Keys: false } as openpgp.Config });
  return { record: (await parseKeyRecord(privateKey.toPublic().write())).record, privateKey };
}

describe('enrol/birth', function () {
  this.timeout(60_000);
  const tmp = tempDirs('ics-enrol-birth-');
  const chains: Partial<Record<'p256' | 'ed25519', { root: UnlockedAuthority; issuing: UnlockedAuthority }>> = {};
  before(async () => {
    await tmp.make();
    chains.p256 = await caChain(tmp.path, 'p256');
    chains.ed25519 = await caChain(tmp.path, 'ed25519');
  });
  after(() => tmp.clean());

  it('the serial number is the last segment of the device URN', () => {
    assert.equal(deviceSerial(URN), 'SN12345');
    assert.equal(deviceSerial('urn:cm4it:gateway:acme.example:gw-1:0042'), '0042');
    assert.throws(() => deviceSerial('urn:cm4it:device:acme.example:cam-3:'), (e: unknown) => isIcsError(e, 'BAD_REQUEST'));
  });

  for (const ca of ['p256', 'ed25519'] as const) {
    for (const key of ['eddsa-legacy', 'ed25519-v4', 'p256'] as const) {
      it(`${ca} CAs, ${key} device key: openssl verifies root → issuing → birth, and reads the 802.1AR profile`, async () => {
        const { root, issuing } = chains[ca] ?? assert.fail('no chain');
        const { record, privateKey } = await device(key);
        const birth = await issueBirthCertificate(issuing, record);
        const dir = tmp.path;
        const files = { root: join(dir, `root-${ca}.pem`), issuing: join(dir, `issuing-${ca}.pem`), birth: join(dir, `birth-${ca}-${key}.pem`) };
        await writeFile(files.root, root.chainPem());
        await writeFile(files.issuing, issuing.certificate.toString('pem'));
        await writeFile(files.birth, birth.pem);
        const verified = await openssl(['verify', '-CAfile', files.root, '-untrusted', files.issuing, files.birth], dir);
        assert.equal(verified.stdout.trim(), `${files.birth}: OK`, verified.stderr);

        const text = (await openssl(['x509', '-noout', '-text', '-in', files.birth], dir)).stdout;
        assert.match(text, /Subject: serialNumber = SN12345, CN = urn:cm4it:device:acme\.example:cam-3:SN12345\n/);
        assert.match(text, /Not After : Dec 31 23:59:59 9999 GMT/);
        assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
        assert.match(text, /X509v3 Subject Alternative Name: \s*\n\s+URI:urn:cm4it:device:acme\.example:cam-3:SN12345\n/);
        assert.match(text, /X509v3 Subject Key Identifier/);
        assert.doesNotMatch(text, /CA:TRUE/);
        assert.match(text, key === 'p256' ? /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/ : /Public Key Algorithm: ED25519/);
        // 802.1AR's "no well-defined expiration" is the GeneralizedTime 99991231235959Z.
        assert.match((await openssl(['asn1parse', '-in', files.birth], dir)).stdout, /GENERALIZEDTIME\s+:99991231235959Z/);

        // The certificate's key is the record's key: the same bytes as the OpenPGP key packet's.
        const spki = Buffer.from(birth.certificate.publicKey.rawData);
        const raw = openpgpKeyBytes(privateKey);
        assert.ok(spki.subarray(spki.length - raw.length).equals(raw), 'SPKI ends with the OpenPGP key material');
        assert.equal(birth.notAfter.getTime(), NO_WELL_DEFINED_EXPIRATION.getTime());
        assert.match(birth.serial, /^[0-7][0-9a-f]{31}$/);
      });
    }
  }

  it('a lifetime gives an ordinary expiry; a long URN is left out of the CN but stays in the SAN', async () => {
    const { issuing } = chains.p256 ?? assert.fail('no chain');
    const now = new Date();
    const { record } = await device('p256');
    const birth = await issueBirthCertificate(issuing, record, { lifetimeSeconds: 86_400 * 365, now });
    assert.equal(Math.round((birth.notAfter.getTime() - now.getTime()) / 86_400_000), 365);
    const long = `urn:cm4it:device:acme.example:${'very-long-model-name-'.repeat(3)}:SN77`;
    const longDevice = await device('p256', long);
    const named = await issueBirthCertificate(issuing, longDevice.record);
    assert.equal(named.subject, 'serialNumber=SN77');
    const file = join(tmp.path, 'long.pem');
    await writeFile(file, named.pem);
    assert.match((await openssl(['x509', '-noout', '-ext', 'subjectAltName', '-in', file], tmp.path)).stdout, new RegExp(`URI:${long}`));
  });

  it('refuses what is not a device with a P-256 or Ed25519 key', async () => {
    const { issuing } = chains.ed25519 ?? assert.fail('no chain');
    const org = await generateIdentity({ userId: 'urn:cm4it:org:acme.example' });
    await rejects(issueBirthCertificate(issuing, org.record), 'BAD_REQUEST');
    const { record } = await device('eddsa-legacy');
    await rejects(issueBirthCertificate(issuing, record, { userId: 'urn:cm4it:device:acme.example:cam-3:OTHER' }), 'BAD_REQUEST');
    const { privateKey } = await openpgp.generateKey({ type: 'rsa', rsaBits: 2048, userIDs: [{ name: URN }], format: 'object' });
    const rsa = (await parseKeyRecord(privateKey.toPublic().write())).record;
    await rejects(issueBirthCertificate(issuing, rsa), 'ALGORITHM_UNSUPPORTED');
  });
});
