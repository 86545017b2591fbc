// CA keys in a PKCS#11 token: Debian's SoftHSM 2 as the token, in a temporary token
// directory per run. The key is made on the token and never leaves it: the CA directory keeps
// a reference (ca.key.uri) and nothing in it is key material; what the token signs —
// certificates and CRLs — openssl verifies; a wrong PIN and a token that went away give clear
// errors, and signing resumes when the token is back, without opening the CA again.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { appendFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { CertificateAuthority, CrlPublisher, makeCrl, parsePkcs11Uri, type Pkcs11Settings } from '../../ics/enrol/index.ts';
import { isIcsError } from '../../ics/errors.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import { ics, ok } from '../helpers/cli.ts';
import { openssl, softHsmToken, tempDirs } from './helpers.ts';

/** Debian's softhsm2. */
const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const PIN_ENV = 'ICS_TEST_PKCS11_PIN';
const PIN = '271828';
const reference = parsePkcs11Uri('pkcs11:token=ics-test;object=ca');
const settings: Pkcs11Settings = { module: MODULE, pinEnv: PIN_ENV };

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

async function rejectsWith(promise: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isIcsError(error, code as never), `${code} expected, got ${String(error)}`);
    assert.match((error as Error).message, text);
    return true;
  });
}

describe('enrol/pkcs11: RFC 7512 key references', () => {
  it('reads token, object and module-path; refuses a PIN in the reference and what is not a private key reference', () => {
    assert.deepEqual(parsePkcs11Uri('pkcs11:token=Acme%20HSM;object=ca%3B1;type=private?module-path=/usr/lib/x.so'), { token: 'Acme HSM', object: 'ca;1', modulePath: '/usr/lib/x.so' });
    assert.deepEqual(parsePkcs11Uri('pkcs11:object=ca;token=t'), { token: 't', object: 'ca' });
    for (const [uri, why] of [
      ['pkcs11:token=t;object=ca?pin-value=1234', /never given in the reference/],
      ['pkcs11:object=ca', /no token=/],
      ['pkcs11:token=t', /no object=/],
      ['pkcs11:token=t;object=ca;type=public', /a private key/],
      ['pkcs11:token=t;token=u;object=ca', /given twice/],
      ['pkcs11:token=%zz;object=ca', /percent-encoded/],
      ['file:token=t;object=ca', /must start with "pkcs11:"/],
    ] as const) {
      assert.throws(() => parsePkcs11Uri(uri), (error: unknown) => isIcsError(error, 'BAD_REQUEST') && why.test((error as Error).message), uri);
    }
  });
});

describe('enrol/pkcs11: a CA whose key is in SoftHSM', function () {
  this.timeout(60_000);
  const tmp = tempDirs('ics-pkcs11-');
  let tokens: string;
  let token: Awaited<ReturnType<typeof softHsmToken>> | undefined;

  before(async () => {
    await tmp.make();
    token = await softHsmToken(reference.token, PIN);
    tokens = token.tokens;
    process.env[PIN_ENV] = PIN;
  });

  after(async () => {
        delete process.env[PIN_ENV];
    await tmp.clean();
  });

  it('makes the key on the token, keeps only a reference, and signs certificates and CRLs that openssl verifies', async () => {
    const dir = join(tmp.path, 'ca');
    const ca = new CertificateAuthority(dir);
    const info = await ca.initRoot({ passphrase: 'not used for a token key', subject: 'CN=Token root,O=Acme', token: { reference, settings } });
    assert.equal(info.role, 'root');
    assert.match(info.keyLocation, /PKCS#11 token "ics-test", object "ca"/);
    assert.equal(existsSync(join(dir, 'ca.key.pem')), false, 'no key file');
    assert.equal(readFileSync(join(dir, 'ca.key.uri'), 'utf8'), 'pkcs11:token=ics-test;object=ca;type=private\n');
    assert.equal(statSync(join(dir, 'ca.key.uri')).mode & 0o777, 0o600);
    // Nothing in the CA directory is a private key, encrypted or not.
    // (PEM of any kind, or the DER start of a PKCS#8 EC key: version 0, then id-ecPublicKey.)
    const pkcs8Start = Buffer.from('020100301306072a8648ce3d0201', 'hex');
    for (const file of filesUnder(dir)) {
      const bytes = readFileSync(file);
      assert.doesNotMatch(bytes.toString('latin1'), /PRIVATE KEY/, file);
      assert.equal(bytes.indexOf(pkcs8Start), -1, file);
    }
    // The same key is never made twice.
    await rejectsWith(new CertificateAuthority(join(tmp.path, 'again')).initRoot({ passphrase: 'x', subject: 'CN=again', token: { reference, settings } }), 'BAD_REQUEST', /already holds a key "ca"/);

    const authority = await ca.unlock('', settings);
    const device = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
    const leaf = await authority.issue({ subject: [['CN', 'urn:cm4it:device:acme.example:pkcs11-1']], publicKey: new Uint8Array(device), lifetimeSeconds: 86_400, sanUris: ['urn:cm4it:device:acme.example:pkcs11-1'] });
    await writeFile(join(tmp.path, 'leaf.pem'), leaf.pem);
    await writeFile(join(tmp.path, 'chain.pem'), authority.chainPem());
    const verified = await openssl(['verify', '-CAfile', 'chain.pem', 'leaf.pem'], tmp.path);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /leaf.pem: OK/);

    const crl = await makeCrl(authority, [{ serial: leaf.serial, revoked: { at: new Date(), reason: 'keyCompromise' } }] as never, { thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86_400_000), number: 1 });
    await writeFile(join(tmp.path, 'list.crl'), crl);
    const read = await openssl(['crl', '-inform', 'DER', '-in', 'list.crl', '-CAfile', 'chain.pem', '-noout'], tmp.path);
    assert.equal(read.code, 0, read.stderr);
    assert.match(read.stdout + read.stderr, /verify OK/);
  });

  it('a wrong PIN is a clear error, and nothing is opened', async () => {
    process.env[PIN_ENV] = '000000';
    try {
      await rejectsWith(new CertificateAuthority(join(tmp.path, 'ca')).unlock('', settings), 'KEY_UNUSABLE', /PIN does not open the PKCS#11 token "ics-test"/);
    } finally {
      process.env[PIN_ENV] = PIN;
    }
    await rejectsWith(new CertificateAuthority(join(tmp.path, 'ca')).unlock('', { module: MODULE, pinEnv: 'ICS_TEST_NO_SUCH_PIN' }), 'KEY_UNUSABLE', /set ICS_TEST_NO_SUCH_PIN/);
  });

  it('a token that goes away fails signing with UNAVAILABLE; signing resumes when it is back', async () => {
    const authority = await new CertificateAuthority(join(tmp.path, 'ca')).unlock('', settings);
    const device = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    const spec = { subject: [['CN', 'svc']] as [string, string][], publicKey: device, lifetimeSeconds: 3600 };
    assert.ok((await authority.issue(spec)).serial);
    const away = `${tokens}-away`;
    await rename(tokens, away);
    try {
      await rejectsWith(authority.issue(spec), 'UNAVAILABLE', /PKCS#11 token "ics-test", object "ca"/);
      await rejectsWith(authority.issue(spec), 'UNAVAILABLE', /token/);
    } finally {
      await rename(away, tokens);
    }
    const issued = await authority.issue(spec);
    await writeFile(join(tmp.path, 'after.pem'), issued.pem);
    const verified = await openssl(['verify', '-CAfile', 'chain.pem', 'after.pem'], tmp.path);
    assert.equal(verified.code, 0, verified.stderr);
  });

  it('a CRL due while the token is away is made once it is back (the previous one served meanwhile, the failure logged)', async () => {
    const authority = await new CertificateAuthority(join(tmp.path, 'ca')).unlock('', settings);
    const errors: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
    const publisher = new CrlPublisher({ signer: authority, index: await createMemoryStore(), validitySeconds: () => 86_400, logger, debounceMs: 10, retryMs: 100 });
    try {
      await publisher.start();
      const first = publisher.der;
      assert.ok(first);
      await rename(tokens, `${tokens}-away`);
      try {
        publisher.revoked();
        await waitFor(() => errors.length > 0);
        assert.equal(publisher.der, first, 'the previous list is served');
        assert.match(errors[0] as string, /the CRL could not be made/);
      } finally {
        await rename(`${tokens}-away`, tokens);
      }
      await waitFor(() => publisher.der !== first);
      await writeFile(join(tmp.path, 'retried.crl'), publisher.der as Uint8Array);
      const read = await openssl(['crl', '-inform', 'DER', '-in', 'retried.crl', '-CAfile', 'chain.pem', '-noout'], tmp.path);
      assert.match(read.stdout + read.stderr, /verify OK/);
    } finally {
      await publisher.stop();
    }
  });

  it('ics ca init --pkcs11 makes an issuing CA key on the token from the config\'s pkcs11 section; ics ca show says where it is', async () => {
    await ok(['init', '--data', 'node', '--role', 'maintenance', '--name', 'acme-node'], tmp.path);
    await appendFile(join(tmp.path, 'node/config.yaml'), `pkcs11:\n  module: ${MODULE}\n  pinEnv: ${PIN_ENV}\n`);
    // A PIN in the reference is refused before anything is made.
    const refused = await ics(['ca', 'init', '--data', 'node', '--issuing', '--pkcs11', 'pkcs11:token=ics-test;object=cli?pin-value=1'], tmp.path);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /never given in the reference/);
    assert.equal(existsSync(join(tmp.path, 'node/ca/ca.key.uri')), false);
    const made = await ok(['ca', 'init', '--data', 'node', '--issuing', '--pkcs11', 'pkcs11:token=ics-test;object=cli'], tmp.path, { env: { [PIN_ENV]: PIN } });
    assert.match(made.stdout, /key: ECDSA P-256, in PKCS#11 token "ics-test", object "cli"/);
    assert.equal(existsSync(join(tmp.path, 'node/ca/ca.key.pem')), false);
    // The request the token signed verifies.
    const request = await openssl(['req', '-in', 'node/ca/ca.csr.pem', '-noout', '-verify'], tmp.path);
    assert.equal(request.code, 0, request.stderr);
    assert.match(request.stdout + request.stderr, /verify OK|Certificate request self-signature verify OK/);
  });
});
