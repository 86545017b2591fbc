// `ics ca …` and `ics device register --birth-cert` as an operator runs them: an offline
// root at one node certifies the issuing CA of a manufacturer's node, which then issues
// birth certificates that openssl verifies up to the root.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ics, ok } from '../helpers/cli.ts';
import { openssl, tempDirs } from './helpers.ts';

const URN = 'urn:cm4it:device:acme.example:cam-3:SN12345';
const exists = (path: string) => readFile(path).then(
  () => true,
  () => false,
);

describe('enrol/cli: ics ca and birth certificates', function () {
  this.timeout(180_000);
  const tmp = tempDirs('ics-enrol-cli-');
  before(async () => {
    await tmp.make();
    await ok(['init', '--data', 'root', '--role', 'maintenance', '--name', 'acme-root'], tmp.path);
    await ok(['init', '--data', 'factory', '--role', 'manufacturer', '--name', 'acme-factory'], tmp.path);
  });
  after(() => tmp.clean());

  it('ca init makes a root once; a second init is refused and changes nothing', async () => {
    const made = await ok(['ca', 'init', '--data', 'root', '--subject', 'CN=Acme root,O=Acme', '--days', '3650'], tmp.path);
    assert.match(made.stdout, /^root CA CN=Acme root, O=Acme\n/);
    const show = JSON.parse((await ok(['ca', 'show', '--data', 'root', '--json'], tmp.path)).stdout) as Record<string, unknown>;
    assert.equal(show.role, 'root');
    assert.equal(show.keyAlgorithm, 'p256');
    assert.equal(show.subject, 'CN=Acme root, O=Acme');
    assert.doesNotMatch(JSON.stringify(show), /PRIVATE|BEGIN/);
    const before = await readFile(join(tmp.path, 'root/ca/ca.key.pem'), 'utf8');
    const again = await ics(['ca', 'init', '--data', 'root', '--algorithm', 'ed25519'], tmp.path);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /BAD_REQUEST: .*already holds a certificate authority/);
    assert.equal(await readFile(join(tmp.path, 'root/ca/ca.key.pem'), 'utf8'), before);
  });

  it('an issuing CA: init --issuing, sign at the root, install; then show', async () => {
    const pending = await ok(['ca', 'init', '--data', 'factory', '--issuing', '--algorithm', 'ed25519'], tmp.path);
    assert.match(pending.stdout, /^pending CA CN=acme-factory issuing CA\n/);
    assert.match(pending.stdout, /ca\.csr\.pem/);
    const signed = await ok(['ca', 'sign', 'factory/ca/ca.csr.pem', '--data', 'root', '--out', 'issuing.pem'], tmp.path);
    assert.match(signed.stdout, /signed CN=acme-factory issuing CA/);
    await ok(['ca', 'install', 'issuing.pem', '--data', 'factory'], tmp.path);
    const show = (await ok(['ca', 'show', '--data', 'factory'], tmp.path)).stdout;
    assert.match(show, /^issuing CA CN=acme-factory issuing CA\n {2}key: Ed25519, in a file \(encrypted with the node passphrase\)\n {2}issuer: CN=Acme root, O=Acme\n/);
    assert.match(show, /SHA-256 fingerprint: [0-9a-f]{64}/);
    assert.match(show, /path length: 0/);
    assert.deepEqual((await readdir(join(tmp.path, 'factory/ca'))).sort(), ['ca.cert.pem', 'ca.key.pem', 'chain.pem']);
  });

  it('device register --birth-cert writes a birth certificate that openssl verifies up to the root', async () => {
    const run = await ok(['device', 'register', '--data', 'factory', '--urn', URN, '--key-out', 'cam-3.secret.asc', '--birth-cert', 'cam-3.pem', '--json'], tmp.path);
    const outcome = JSON.parse(run.stdout) as { action: string; birthCertificate: { file: string; subject: string } };
    assert.equal(outcome.action, 'inserted');
    assert.equal(outcome.birthCertificate.subject, `serialNumber=SN12345, CN=${URN}`);
    const verified = await openssl(['verify', '-CAfile', 'root/ca/ca.cert.pem', '-untrusted', 'factory/ca/ca.cert.pem', 'cam-3.pem'], tmp.path);
    assert.equal(verified.stdout.trim(), 'cam-3.pem: OK', verified.stderr);
    // The chain file alone is enough too.
    assert.equal((await openssl(['verify', '-CAfile', 'root/ca/ca.cert.pem', '-untrusted', 'factory/ca/chain.pem', 'cam-3.pem'], tmp.path)).code, 0);
  });

  it('refusals: no CA (nothing registered), a wrong passphrase (nothing written), an existing output file', async () => {
    await ok(['init', '--data', 'plain', '--role', 'manufacturer'], tmp.path);
    const urn = 'urn:cm4it:device:acme.example:cam-3:SN2';
    const noCa = await ics(['device', 'register', '--data', 'plain', '--urn', urn, '--key-out', 'sn2.secret.asc', '--birth-cert', 'sn2.pem'], tmp.path);
    assert.equal(noCa.code, 2);
    assert.match(noCa.stderr, /NOT_FOUND: node .* has no certificate authority: make one with `ics ca init`/);
    assert.equal(await exists(join(tmp.path, 'sn2.pem')), false);
    assert.equal(await exists(join(tmp.path, 'sn2.secret.asc')), false);
    assert.equal((await ics(['show', '--data', 'plain', urn], tmp.path)).code, 2);

    const missing = await ics(['ca', 'sign', 'nowhere.csr', '--data', 'root', '--out', 'again.pem'], tmp.path);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /BAD_REQUEST: cannot read nowhere\.csr \(ENOENT\)/);
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'sub.key', '-subj', '/CN=sub', '-out', 'sub.csr'], tmp.path);
    const wrong = { env: { ICS_PASSPHRASE: 'not the passphrase' } };
    const sign = await ics(['ca', 'sign', 'sub.csr', '--data', 'root', '--out', 'again.pem'], tmp.path, wrong);
    assert.equal(sign.code, 2);
    assert.match(sign.stderr, /KEY_UNUSABLE: the passphrase does not open the node issuer key/);
    assert.equal(await exists(join(tmp.path, 'again.pem')), false);
    const init = await ics(['ca', 'init', '--data', 'plain'], tmp.path, wrong);
    assert.equal(init.code, 2);
    assert.match(init.stderr, /KEY_UNUSABLE/);
    assert.equal(await exists(join(tmp.path, 'plain/ca')), false);

    const taken = await ics(['device', 'register', '--data', 'factory', '--urn', urn, '--key-out', 'sn2.secret.asc', '--birth-cert', 'cam-3.pem'], tmp.path);
    assert.equal(taken.code, 2);
    assert.match(taken.stderr, /BAD_REQUEST: cam-3\.pem exists/);
    assert.equal(await exists(join(tmp.path, 'sn2.secret.asc')), false);
  });
});
