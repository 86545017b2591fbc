// End-entity certificates from the authority's general `issue`, and certificate requests made
// by openssl itself: what EST will build on.
import assert from 'node:assert/strict';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomSerial, type UnlockedAuthority, verifyCertificateRequest } from '../../ics/enrol/index.ts';
import { isIcsError } from '../../ics/errors.ts';
import { caChain, openssl, tempDirs } from './helpers.ts';

const rejects = (promise: Promise<unknown>, code: string) => assert.rejects(promise, (e: unknown) => isIcsError(e) && e.code === code);
const spki = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) => new Uint8Array(key.export({ type: 'spki', format: 'der' }));

describe('enrol/leaf', function () {
  this.timeout(60_000);
  const tmp = tempDirs('ics-enrol-leaf-');
  let root: UnlockedAuthority;
  let issuing: UnlockedAuthority;
  before(async () => {
    await tmp.make();
    ({ root, issuing } = await caChain(tmp.path, 'p256'));
    await writeFile(join(tmp.path, 'root.pem'), root.chainPem());
    await writeFile(join(tmp.path, 'issuing.pem'), issuing.certificate.toString('pem'));
  });
  after(() => tmp.clean());

  for (const type of ['ec', 'ed25519'] as const) {
    it(`a request openssl made (${type}) verifies, and its certificate is a TLS client certificate openssl accepts`, async () => {
      const key = join(tmp.path, `device-${type}.key`);
      const csr = join(tmp.path, `device-${type}.csr`);
      const genpkey = type === 'ec' ? ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['genpkey', '-algorithm', 'ED25519'];
      assert.equal((await openssl([...genpkey, '-out', key], tmp.path)).code, 0);
      const req = await openssl(['req', '-new', '-key', key, '-subj', '/CN=cam-3', '-out', csr], tmp.path);
      assert.equal(req.code, 0, req.stderr);
      const request = await verifyCertificateRequest(await readFile(csr));
      assert.equal(request.algorithm, type === 'ec' ? 'p256' : 'ed25519');
      const issued = await issuing.issue({
        subject: 'CN=cam-3,O=Acme',
        publicKey: request.spki,
        sanUris: ['urn:cm4it:device:acme.example:cam-3:SN12345'],
        lifetimeSeconds: 30 * 86_400,
        extendedKeyUsage: ['clientAuth'],
      });
      const file = join(tmp.path, `leaf-${type}.pem`);
      await writeFile(file, issued.pem);
      const verified = await openssl(['verify', '-purpose', 'sslclient', '-CAfile', 'root.pem', '-untrusted', 'issuing.pem', file], tmp.path);
      assert.equal(verified.stdout.trim(), `${file}: OK`, verified.stderr);
      const text = (await openssl(['x509', '-noout', '-text', '-in', file], tmp.path)).stdout;
      assert.match(text, /X509v3 Extended Key Usage: \s*\n\s+TLS Web Client Authentication\n/);
      assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
      // The certificate holds the key openssl generated.
      const fromKey = await openssl(['pkey', '-in', key, '-pubout'], tmp.path);
      const fromCert = await openssl(['x509', '-in', file, '-noout', '-pubkey'], tmp.path);
      assert.equal(fromCert.stdout, fromKey.stdout);
    });
  }

  it('takes a WebCrypto public key and a given serial; the validity is as asked', async () => {
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2031-01-01T00:00:00Z');
    const issued = await issuing.issue({ subject: [['CN', 'svc']], publicKey: keys.publicKey, serial: '01ab', notBefore, notAfter, keyUsage: ['digitalSignature', 'keyAgreement'] });
    assert.equal(issued.serial, '01ab');
    assert.equal(issued.notBefore.getTime(), notBefore.getTime());
    assert.equal(issued.notAfter.getTime(), notAfter.getTime());
  });

  it('refuses CA key usages, bad URIs, serials and validities, and other key types', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const base = { subject: 'CN=x', publicKey: spki(publicKey), lifetimeSeconds: 60 };
    await rejects(issuing.issue({ ...base, keyUsage: ['keyCertSign' as 'digitalSignature'] }), 'BAD_REQUEST');
    await rejects(issuing.issue({ ...base, sanUris: ['not a uri'] }), 'BAD_REQUEST');
    await rejects(issuing.issue({ ...base, sanUris: ['urn:cm4it:device:café'] }), 'BAD_REQUEST');
    await rejects(issuing.issue({ ...base, serial: '80' }), 'BAD_REQUEST');
    await rejects(issuing.issue({ ...base, serial: '00' }), 'BAD_REQUEST');
    await rejects(issuing.issue({ ...base, serial: '01'.repeat(21) }), 'BAD_REQUEST');
    await rejects(issuing.issue({ ...base, notAfter: new Date() }), 'BAD_REQUEST');
    await rejects(issuing.issue({ subject: 'CN=x', publicKey: spki(publicKey) }), 'BAD_REQUEST');
    await rejects(issuing.issue({ ...base, lifetimeSeconds: -1 }), 'BAD_REQUEST');
    await rejects(issuing.issue({ ...base, extendedKeyUsage: ['fastTravel'] }), 'BAD_REQUEST');
    await rejects(issuing.issue({ ...base, subject: '' }), 'BAD_REQUEST');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    await rejects(issuing.issue({ ...base, publicKey: spki(rsa) }), 'ALGORITHM_UNSUPPORTED');
  });

  it('a request with a key type not allowed is refused before its signature is checked', async () => {
    const key = join(tmp.path, 'only.key');
    const csr = join(tmp.path, 'only.csr');
    await openssl(['genpkey', '-algorithm', 'ED25519', '-out', key], tmp.path);
    await openssl(['req', '-new', '-key', key, '-subj', '/CN=only', '-out', csr], tmp.path);
    await rejects(verifyCertificateRequest(await readFile(csr), ['p256']), 'ALGORITHM_UNSUPPORTED');
  });

  it('serials are 16 octets, positive, random', () => {
    const serials = Array.from({ length: 2000 }, () => randomSerial());
    for (const s of serials) assert.match(s, /^[4-7][0-9a-f]{31}$/);
    assert.equal(new Set(serials).size, serials.length);
  });
});
