// The certificate authority's life: a root, an issuing CA it certifies, installation, and
// what it refuses. openssl must read every file as we mean it.
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertificateAuthority, readCertificates } from '../../ics/enrol/index.ts';
import { isIcsError } from '../../ics/errors.ts';
import { caChain, openssl, PASSPHRASE, tempDirs } from './helpers.ts';

const rejects = (promise: Promise<unknown>, code: string) => assert.rejects(promise, (e: unknown) => isIcsError(e) && e.code === code);

describe('enrol/ca', function () {
  this.timeout(60_000);
  const tmp = tempDirs('ics-enrol-ca-');
  before(() => tmp.make());
  after(() => tmp.clean());

  for (const algorithm of ['p256', 'ed25519'] as const) {
    describe(`${algorithm} CAs`, () => {
      it('a root: self-signed, CA constraints critical, key identifiers, 20 years; key encrypted and 0600', async () => {
        const ca = new CertificateAuthority(join(tmp.path, `root-only-${algorithm}`));
        const now = new Date();
        const info = await ca.initRoot({ passphrase: PASSPHRASE, subject: 'CN=Acme root,O=Acme', algorithm, now });
        assert.equal(info.role, 'root');
        assert.equal(info.keyAlgorithm, algorithm);
        assert.equal(info.subject, 'CN=Acme root, O=Acme');
        assert.equal(info.issuer, info.subject);
        assert.equal(info.chainLength, 1);
        assert.match(info.fingerprint ?? '', /^[0-9a-f]{64}$/);
        const years = ((info.notAfter?.getTime() ?? 0) - now.getTime()) / (365.25 * 86_400_000);
        assert.ok(years > 19.99 && years < 20.01, `${years} years`);
        assert.equal(JSON.stringify(info).includes('PRIVATE'), false);

        assert.deepEqual((await readdir(ca.dir)).sort(), ['ca.cert.pem', 'ca.key.pem', 'chain.pem']);
        assert.equal((await stat(ca.path('key'))).mode & 0o777, 0o600);
        const keyPem = await readFile(ca.path('key'), 'utf8');
        assert.match(keyPem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
        // openssl opens the key with the passphrase, and not without it.
        assert.equal((await openssl(['pkey', '-in', ca.path('key'), '-passin', `pass:${PASSPHRASE}`, '-noout'], tmp.path)).code, 0);
        assert.notEqual((await openssl(['pkey', '-in', ca.path('key'), '-passin', 'pass:wrong', '-noout'], tmp.path)).code, 0);

        const text = (await openssl(['x509', '-noout', '-text', '-in', ca.path('certificate')], tmp.path)).stdout;
        assert.match(text, /X509v3 Basic Constraints: critical\s+CA:TRUE\n/);
        assert.match(text, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
        const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(text)?.[1];
        assert.ok(ski);
        assert.match(text, new RegExp(`Authority Key Identifier:\\s+(keyid:)?${ski}`));
        assert.match(text, algorithm === 'p256' ? /Signature Algorithm: ecdsa-with-SHA256/ : /Signature Algorithm: ED25519/);
        assert.equal((await openssl(['verify', '-CAfile', ca.path('certificate'), ca.path('certificate')], tmp.path)).stdout.trim(), `${ca.path('certificate')}: OK`);
      });

      it('an issuing CA: key and request (openssl verifies it), pending until its certificate is installed', async () => {
        const { root, issuingCa } = await caChain(join(tmp.path, 'chain'), algorithm);
        const info = await issuingCa.show();
        assert.equal(info.role, 'issuing');
        assert.equal(info.issuer, `CN=Test root ${algorithm}, O=Acme`);
        assert.equal(info.pathLength, 0);
        assert.equal(info.chainLength, 2);
        assert.deepEqual((await readdir(issuingCa.dir)).sort(), ['ca.cert.pem', 'ca.key.pem', 'chain.pem']);
        const text = (await openssl(['x509', '-noout', '-text', '-in', issuingCa.path('certificate')], tmp.path)).stdout;
        assert.match(text, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0\n/);
        assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign\n/);
        const rootFile = join(tmp.path, `root-${algorithm}.pem`);
        await writeFile(rootFile, root.chainPem());
        const rootText = (await openssl(['x509', '-noout', '-text', '-in', rootFile], tmp.path)).stdout;
        const rootId = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(rootText)?.[1];
        assert.ok(rootId);
        assert.match(text, new RegExp(`Authority Key Identifier:\\s+(keyid:)?${rootId}`));
        const verified = await openssl(['verify', '-CAfile', rootFile, issuingCa.path('certificate')], tmp.path);
        assert.equal(verified.stdout.trim(), `${issuingCa.path('certificate')}: OK`, verified.stderr);
      });

      it('the request of a pending CA verifies with openssl req -verify', async () => {
        const ca = new CertificateAuthority(join(tmp.path, `pending-${algorithm}`));
        const { info, requestPem } = await ca.initIssuing({ passphrase: PASSPHRASE, subject: 'CN=Pending,O=Acme', algorithm });
        assert.equal(info.role, 'pending');
        assert.equal(info.requestFile, ca.path('request'));
        assert.equal(await readFile(ca.path('request'), 'utf8'), requestPem);
        assert.equal((await stat(ca.path('key'))).mode & 0o777, 0o600);
        const run = await openssl(['req', '-verify', '-noout', '-in', ca.path('request')], tmp.path);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout + run.stderr, /verify OK/);
        await rejects(ca.unlock(PASSPHRASE), 'BAD_REQUEST');
      });
    });
  }

  describe('refusals', () => {
    it('init over an existing CA is refused and leaves its files as they were', async () => {
      const ca = new CertificateAuthority(join(tmp.path, 'existing'));
      await ca.initRoot({ passphrase: PASSPHRASE, subject: 'CN=First' });
      const before = await Promise.all(['key', 'certificate', 'chain'].map((f) => readFile(ca.path(f as 'key'), 'utf8')));
      await rejects(ca.initRoot({ passphrase: PASSPHRASE, subject: 'CN=Second' }), 'BAD_REQUEST');
      await rejects(ca.initIssuing({ passphrase: PASSPHRASE, subject: 'CN=Third' }), 'BAD_REQUEST');
      const after = await Promise.all(['key', 'certificate', 'chain'].map((f) => readFile(ca.path(f as 'key'), 'utf8')));
      assert.deepEqual(after, before);
      assert.deepEqual((await readdir(ca.dir)).sort(), ['ca.cert.pem', 'ca.key.pem', 'chain.pem']);
    });

    it('a wrong passphrase is KEY_UNUSABLE, with nothing signed; an empty one is refused at init', async () => {
      const ca = new CertificateAuthority(join(tmp.path, 'locked'));
      await ca.initRoot({ passphrase: PASSPHRASE, subject: 'CN=Locked' });
      await rejects(ca.unlock('not the passphrase'), 'KEY_UNUSABLE');
      const empty = new CertificateAuthority(join(tmp.path, 'no-passphrase'));
      await rejects(empty.initRoot({ passphrase: '', subject: 'CN=Open' }), 'KEY_UNUSABLE');
      // Nothing of the refused CA is made.
      await assert.rejects(readdir(empty.dir), { code: 'ENOENT' });
    });

    it('a certificate for another key than the pending one is refused; nothing is installed', async () => {
      const { root } = await caChain(join(tmp.path, 'mismatch-chain'), 'p256');
      const pending = new CertificateAuthority(join(tmp.path, 'mismatch'));
      await pending.initIssuing({ passphrase: PASSPHRASE, subject: 'CN=Pending' });
      const other = new CertificateAuthority(join(tmp.path, 'mismatch-other'));
      const { requestPem } = await other.initIssuing({ passphrase: PASSPHRASE, subject: 'CN=Other' });
      const foreign = await root.signSubordinate(requestPem);
      await rejects(pending.install(foreign.pem + root.chainPem()), 'BAD_REQUEST');
      assert.deepEqual((await readdir(pending.dir)).sort(), ['ca.csr.pem', 'ca.key.pem']);
      assert.equal((await pending.show()).role, 'pending');
    });

    it('a certificate that does not chain to a root is refused', async () => {
      const { root } = await caChain(join(tmp.path, 'unchained'), 'p256');
      const pending = new CertificateAuthority(join(tmp.path, 'unchained-pending'));
      const { requestPem } = await pending.initIssuing({ passphrase: PASSPHRASE, subject: 'CN=Pending' });
      const signed = await root.signSubordinate(requestPem);
      // Without the root: nothing to chain to.
      await rejects(pending.install(signed.pem), 'BAD_REQUEST');
      // With a different root of the same name: the signature does not verify.
      const impostor = new CertificateAuthority(join(tmp.path, 'impostor'));
      await impostor.initRoot({ passphrase: PASSPHRASE, subject: 'CN=Test root p256,O=Acme' });
      await rejects(pending.install(signed.pem, await readFile(impostor.path('certificate'))), 'SIGNATURE_INVALID');
      assert.equal((await pending.show()).role, 'pending');
      // The right chain, given separately, installs it.
      assert.equal((await pending.install(signed.pem, root.chainPem())).role, 'issuing');
    });

    it('a request whose signature does not verify is SIGNATURE_INVALID; one that is no request, BAD_REQUEST', async () => {
      const { root } = await caChain(join(tmp.path, 'bad-csr'), 'p256');
      const ca = new CertificateAuthority(join(tmp.path, 'bad-csr-pending'));
      const { requestPem } = await ca.initIssuing({ passphrase: PASSPHRASE, subject: 'CN=Tampered' });
      const der = Buffer.from(requestPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
      der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01; // inside the signature value
      await rejects(root.signSubordinate(new Uint8Array(der)), 'SIGNATURE_INVALID');
      // The subject changed after signing: the same refusal.
      const renamed = Buffer.from(requestPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
      const at = renamed.indexOf(Buffer.from('Tampered'));
      renamed[at] = 'X'.charCodeAt(0);
      await rejects(root.signSubordinate(new Uint8Array(renamed)), 'SIGNATURE_INVALID');
      await rejects(root.signSubordinate('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'), 'BAD_REQUEST');
      await rejects(root.signSubordinate('not a request'), 'BAD_REQUEST');
      await rejects(root.signSubordinate(root.chainPem()), 'BAD_REQUEST');
      await rejects(root.signSubordinate(new Uint8Array(20_000)), 'LIMIT_EXCEEDED');
    });

    it('an issuing CA signs no CA; bad names, days and path lengths are refused', async () => {
      const { root, issuing } = await caChain(join(tmp.path, 'limits'), 'ed25519');
      const ca = new CertificateAuthority(join(tmp.path, 'limits-pending'));
      const { requestPem } = await ca.initIssuing({ passphrase: PASSPHRASE, subject: 'CN=Below' });
      await rejects(issuing.signSubordinate(requestPem), 'BAD_REQUEST');
      await rejects(root.signSubordinate(requestPem, { days: 0 }), 'BAD_REQUEST');
      await rejects(root.signSubordinate(requestPem, { pathLength: -1 }), 'BAD_REQUEST');
      const bad = new CertificateAuthority(join(tmp.path, 'bad-name'));
      await rejects(bad.initRoot({ passphrase: PASSPHRASE, subject: 'no equals sign' }), 'BAD_REQUEST');
      await rejects(bad.initRoot({ passphrase: PASSPHRASE, subject: 'XYZ=unknown type' }), 'BAD_REQUEST');
      await rejects(bad.initRoot({ passphrase: PASSPHRASE, subject: 'CN=x', days: 100_000 }), 'BAD_REQUEST');
      await rejects(bad.show(), 'NOT_FOUND');
    });
  });

  it('the chain file holds the CA and its issuers, root last', async () => {
    const { root, issuing, issuingCa } = await caChain(join(tmp.path, 'chain-file'), 'p256');
    const chain = readCertificates(await readFile(issuingCa.path('chain'), 'utf8'));
    assert.deepEqual(
      chain.map((c) => c.serialNumber),
      [issuing.certificate.serialNumber, root.certificate.serialNumber],
    );
  });
});
