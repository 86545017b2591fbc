// The native fast paths of an enrolment against the library they stand in for: signatures
// checked by node:crypto on the signed bytes (enrol/signed.ts, enrol/der.ts), key identifiers
// hashed by node:crypto, and the certs-only envelope wrapped around the certificates' DER.
// Each must agree with @peculiar/x509 (and openssl) on good input and refuse what it refuses.
import assert from 'node:assert/strict';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keyIdentifier } from '../../ics/enrol/certificate.ts';
import { certsOnly, verifyCertificateRequest } from '../../ics/enrol/index.ts';
import { childrenOf, elementAt, encodeElement, signedParts } from '../../ics/enrol/der.ts';
import { keyObjectOf, verifySigned } from '../../ics/enrol/signed.ts';
import { x509 } from '../../ics/enrol/x509.ts';
import { isIcsError } from '../../ics/errors.ts';
import { openssl, tempDirs } from './helpers.ts';

type Algorithm = 'p256' | 'ed25519' | 'rsa';
const PARAMS: Record<Algorithm, { key: RsaHashedKeyGenParams | EcKeyGenParams | { name: string }; sign: { name: string; hash?: string } }> = {
  p256: { key: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  ed25519: { key: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  rsa: { key: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
};

async function keysOf(algorithm: Algorithm): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(PARAMS[algorithm].key as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function selfSigned(algorithm: Algorithm, keys: CryptoKeyPair): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${algorithm} test`,
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: PARAMS[algorithm].sign,
  });
}

const flipLastByte = (der: Uint8Array) => {
  const copy = new Uint8Array(der);
  copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0x01;
  return copy;
};

describe('enrol: native signature checks, key identifiers and certs-only', function () {
  this.timeout(60_000);
  const tmp = tempDirs('ics-enrol-native-');
  before(() => tmp.make());
  after(() => tmp.clean());

  for (const algorithm of ['p256', 'ed25519'] as const) {
    it(`${algorithm}: a certificate's signature verifies with its issuer's key and with no other; a changed signature fails`, async () => {
      const keys = await keysOf(algorithm);
      const certificate = await selfSigned(algorithm, keys);
      const der = new Uint8Array(certificate.rawData);
      assert.equal(await certificate.verify({ signatureOnly: true }), true, 'the library agrees it is good');
      assert.equal(verifySigned(der, keyObjectOf(certificate.publicKey)), true);
      const other = await selfSigned(algorithm, await keysOf(algorithm));
      assert.equal(verifySigned(der, keyObjectOf(other.publicKey)), false);
      assert.equal(verifySigned(flipLastByte(der), keyObjectOf(certificate.publicKey)), false);
    });

    it(`${algorithm}: key identifiers hashed here equal the library's`, async () => {
      const { publicKey } = await keysOf(algorithm);
      const libraryId = Buffer.from(await (await x509.PublicKey.create(publicKey)).getKeyIdentifier()).toString('hex');
      const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', publicKey));
      assert.equal(await keyIdentifier(spki), libraryId);
      assert.equal(await keyIdentifier(publicKey), libraryId);
      assert.equal(await keyIdentifier(await x509.PublicKey.create(spki)), libraryId);
    });
  }

  it('an algorithm not checked natively (RSA) is left to the library: undefined, not false', async () => {
    const certificate = await selfSigned('rsa', await keysOf('rsa'));
    assert.equal(verifySigned(new Uint8Array(certificate.rawData), keyObjectOf(certificate.publicKey)), undefined);
  });

  it('a request made by openssl verifies; one with a changed signature is SIGNATURE_INVALID', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await writeFile(join(tmp.path, 'device.key'), key.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const made = await openssl(['req', '-new', '-key', 'device.key', '-subj', '/CN=device', '-outform', 'DER', '-out', 'device.csr'], tmp.path);
    assert.equal(made.code, 0, made.stderr);
    const der = new Uint8Array(await readFile(join(tmp.path, 'device.csr')));
    const verified = await verifyCertificateRequest(der);
    assert.equal(verified.algorithm, 'p256');
    await assert.rejects(verifyCertificateRequest(flipLastByte(der)), (e: unknown) => isIcsError(e, 'SIGNATURE_INVALID'));
  });

  it('malformed DER is BAD_REQUEST: truncated, indefinite length, an element past its container, not three parts', () => {
    const bad = [
      Uint8Array.from([0x30]),
      Uint8Array.from([0x30, 0x80, 0x00, 0x00]),
      Uint8Array.from([0x30, 0x05, 0x02, 0x01]),
      Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x00]),
      Uint8Array.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
    ];
    for (const der of bad) assert.throws(() => signedParts(der), (e: unknown) => isIcsError(e, 'BAD_REQUEST'), Buffer.from(der).toString('hex'));
  });

  it('encodeElement writes short and long lengths that elementAt reads back', () => {
    for (const size of [0, 1, 127, 128, 255, 256, 70_000]) {
      const der = encodeElement(0x04, [new Uint8Array(size).fill(7)]);
      const element = elementAt(der, 0);
      assert.equal(element.end, der.byteLength);
      assert.equal(element.end - element.contentStart, size);
    }
    const outer = encodeElement(0x30, [encodeElement(0x02, [Uint8Array.from([1])]), encodeElement(0x05, [])]);
    assert.deepEqual(
      childrenOf(outer, elementAt(outer, 0)).map((c) => c.tag),
      [0x02, 0x05],
    );
  });

  it('certs-only: the library and openssl read back the same certificates in the same order', async () => {
    const certificates = [await selfSigned('p256', await keysOf('p256')), await selfSigned('ed25519', await keysOf('ed25519'))];
    const message = certsOnly(certificates);
    const read = new x509.X509Certificates();
    read.import(new Uint8Array(message));
    assert.deepEqual(
      [...read].map((c) => Buffer.from(c.rawData).toString('hex')),
      certificates.map((c) => Buffer.from(c.rawData).toString('hex')),
    );
    await writeFile(join(tmp.path, 'certs.p7'), message);
    const printed = await openssl(['pkcs7', '-inform', 'DER', '-in', 'certs.p7', '-print_certs', '-noout'], tmp.path);
    assert.equal(printed.code, 0, printed.stderr);
    assert.deepEqual(
      [...printed.stdout.matchAll(/subject=(.*)/g)].map((m) => m[1]?.trim()),
      ['CN = p256 test', 'CN = ed25519 test'],
    );
  });
});
