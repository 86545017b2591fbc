// CRLs as enrol/crl.ts encodes them (element by element, not through asn1js): read back by
// @peculiar/x509 and verified by openssl for both CA key types, entry by entry.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { CertificateAuthority, CrlPublisher, makeCrl } from '../../ics/enrol/index.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import { x509 } from '../../ics/enrol/x509.ts';
import type { CertificateEntry, RevocationReason } from '../../ics/store/index.ts';
import { openssl, PASSPHRASE, tempDirs } from './helpers.ts';

const entry = (serial: string, reason: RevocationReason, at: Date): CertificateEntry => ({
  serial,
  recordId: 'ab'.repeat(20),
  issuer: 'cd'.repeat(32),
  purpose: 'operational',
  notBefore: new Date(at.getTime() - 86_400_000),
  notAfter: new Date(at.getTime() + 86_400_000),
  sha256: 'ef'.repeat(32),
  der: new Uint8Array(8),
  issuedAt: at,
  revoked: { at, reason },
});

describe('enrol/crl: the list as openssl and the library read it', function () {
  this.timeout(60_000);
  const tmp = tempDirs('ics-enrol-crl-');
  before(() => tmp.make());
  after(() => tmp.clean());

  for (const algorithm of ['p256', 'ed25519'] as const) {
    it(`${algorithm} CA: entries with serial, date and reason; CRL number and AKI; signature verified by openssl`, async () => {
      const ca = new CertificateAuthority(join(tmp.path, algorithm));
      await ca.initRoot({ passphrase: PASSPHRASE, subject: `CN=${algorithm} CRL test CA`, algorithm });
      const authority = await ca.unlock(PASSPHRASE);
      const at = new Date(Date.UTC(2026, 11, 7, 10, 0, 0));
      // A serial whose top bit is set needs a zero octet first; an odd-length one a zero nibble.
      const entries = [entry('4a01', 'keyCompromise', at), entry('ff01', 'affiliationChanged', at), entry('abc', 'superseded', at), entry('7f'.repeat(16), 'cessationOfOperation', at)];
      const thisUpdate = new Date(Date.UTC(2026, 11, 7, 12, 0, 0));
      const der = await makeCrl(authority, entries, { thisUpdate, nextUpdate: new Date(Date.UTC(2051, 0, 1)), number: 1234567 });
      const crl = new x509.X509Crl(new Uint8Array(der));
      assert.deepEqual(
        crl.entries.map((e) => [e.serialNumber.replace(/^00/, ''), e.reason]),
        [
          ['4a01', x509.X509CrlReason.keyCompromise],
          ['ff01', x509.X509CrlReason.affiliationChanged],
          ['0abc', x509.X509CrlReason.superseded],
          ['7f'.repeat(16), x509.X509CrlReason.cessationOfOperation],
        ],
      );
      assert.equal(crl.thisUpdate.getTime(), thisUpdate.getTime());
      assert.equal(crl.nextUpdate?.getTime(), Date.UTC(2051, 0, 1), 'GeneralizedTime from 2050 on');
      assert.equal(await crl.verify({ publicKey: authority.certificate.publicKey }), true);
      await writeFile(join(tmp.path, `${algorithm}.crl`), der);
      await writeFile(join(tmp.path, `${algorithm}.pem`), authority.chainPem());
      const read = await openssl(['crl', '-inform', 'DER', '-in', `${algorithm}.crl`, '-CAfile', `${algorithm}.pem`, '-noout', '-text'], tmp.path);
      assert.equal(read.code, 0, read.stderr);
      assert.match(read.stdout + read.stderr, /verify OK/);
      assert.match(read.stdout, /X509v3 CRL Number:\s+1234567/);
      assert.match(read.stdout, new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${authority.keyIdentifier.toUpperCase().match(/../g)?.join(':')}`));
      assert.match(read.stdout, /Serial Number: FF01[\s\S]*Affiliation Changed/);
    });
  }

  it('the publisher: a reported revocation joins the last list read; an unreported one waits for a full read; expired entries leave', async () => {
    const ca = new CertificateAuthority(join(tmp.path, 'publisher'));
    await ca.initRoot({ passphrase: PASSPHRASE, subject: 'CN=publisher test CA', algorithm: 'p256' });
    const authority = await ca.unlock(PASSPHRASE);
    const issuer = createHash('sha256').update(new Uint8Array(authority.certificate.rawData)).digest('hex');
    const store = await createMemoryStore();
    const now = new Date();
    const add = async (serial: string, notAfter = new Date(now.getTime() + 86_400_000)) => {
      const { revoked: _revoked, ...fresh } = entry(serial, 'keyCompromise', now);
      await store.addCertificate({ ...fresh, issuer, notAfter, sha256: createHash('sha256').update(fresh.der).digest('hex') });
      return store.revokeCertificate(serial, { at: now, reason: 'keyCompromise' });
    };
    await add('4a01');
    let clock = now;
    const publisher = new CrlPublisher({ signer: authority, index: store, validitySeconds: () => 86_400, logger: pino({ level: 'silent' }), now: () => clock });
    const listed = () => new x509.X509Crl(new Uint8Array(publisher.der as Uint8Array)).entries.map((e) => e.serialNumber.toUpperCase()).sort();
    await publisher.start();
    assert.deepEqual(listed(), ['4A01']);
    publisher.revoked(await add('4a02'));
    await add('4a03'); // revoked behind the publisher's back
    await add('4a04', new Date(now.getTime() + 60_000));
    publisher.revoked(await store.getCertificate('4a04'));
    await publisher.refresh();
    assert.deepEqual(listed(), ['4A01', '4A02', '4A04'], 'reported ones only, until the next full read');
    clock = new Date(now.getTime() + 120_000); // 4a04 has expired
    publisher.revoked(); // no entry: read whole
    await publisher.refresh();
    assert.deepEqual(listed(), ['4A01', '4A02', '4A03']);
    await publisher.stop();
  });

  it('no revoked certificates: the list leaves revokedCertificates out (RFC 5280 §5.1.2.6)', async () => {
    const ca = new CertificateAuthority(join(tmp.path, 'empty'));
    await ca.initRoot({ passphrase: PASSPHRASE, subject: 'CN=empty CRL test CA', algorithm: 'p256' });
    const authority = await ca.unlock(PASSPHRASE);
    const der = await makeCrl(authority, [], { thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86_400_000), number: 1 });
    const crl = new x509.X509Crl(new Uint8Array(der));
    assert.equal(crl.entries.length, 0);
    assert.equal(await crl.verify({ publicKey: authority.certificate.publicKey }), true);
  });
});
