// The node's OpenPGP issuer key in a PKCS#11 token (Debian's SoftHSM 2, a temporary token
// directory per run): `ics init --pkcs11` makes it on the token, the data directory holds no
// private key, statuses the token signs are good signatures to gpg, a wrong PIN stops the
// node at start, and a token that goes away fails signing with UNAVAILABLE until it is back.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { isIcsError } from '../../ics/errors.ts';
import { openIssuerKey } from '../../ics/node/issuer-key.ts';
import { certify, generateIdentity, issuerFingerprint } from '../../ics/record/index.ts';
import { softHsmToken, tempDirs } from '../enrol/helpers.ts';
import { EPHEMERAL, ics, ok, ServeProcess } from '../helpers/cli.ts';
import { requireGpg, signatureRecords, withGnuPG } from '../helpers/gpg.ts';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const PIN_ENV = 'ICS_TEST_ISSUER_PIN';
const PIN = '314159';
const ISSUER_URI = 'pkcs11:token=ics-issuer;object=issuer';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('node: the OpenPGP issuer key in a PKCS#11 token (SoftHSM)', function () {
  this.timeout(120_000);
  const tmp = tempDirs('ics-issuer-pkcs11-');
  let token: Awaited<ReturnType<typeof softHsmToken>> | undefined;
  let node: string;
  let issuerId: string;
  let deviceId: string;

  before(async () => {
    requireGpg();
    await tmp.make();
    token = await softHsmToken('ics-issuer', PIN);
    process.env[PIN_ENV] = PIN;
    node = join(tmp.path, 'node');
  });

  after(async () => {
        delete process.env[PIN_ENV];
    await tmp.clean();
  });

  it('ics init --pkcs11 makes the issuer key on the token; the data directory holds its public key only', async () => {
    const init = ['init', '--data', 'node', '--role', 'manufacturer', '--name', 'acme-maker', '--pkcs11', ISSUER_URI, '--pkcs11-module', MODULE, '--pkcs11-pin-env', PIN_ENV];
    // A wrong PIN makes nothing: no key on the token, no data directory.
    const refused = await ics(init, tmp.path, { env: { [PIN_ENV]: '000000' } });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /KEY_UNUSABLE.*PIN does not open the PKCS#11 token "ics-issuer"/);
    assert.equal(existsSync(node), false);

    const made = JSON.parse((await ok([...init, '--json'], tmp.path)).stdout) as { issuerFingerprint: string; issuerKeyLocation: string };
    issuerId = made.issuerFingerprint;
    assert.equal(made.issuerKeyLocation, 'PKCS#11 token "ics-issuer", object "issuer"');
    assert.equal(existsSync(join(node, 'keys/issuer.secret.asc')), false, 'no issuer key file');
    const config = await readFile(join(node, 'config.yaml'), 'utf8');
    assert.match(config, /secretKey: pkcs11:token=ics-issuer;object=issuer;type=private/);
    assert.match(config, new RegExp(`module: ${MODULE}`));
    // Nothing under the data directory is a private key or the PIN.
    for (const file of filesUnder(node)) {
      const text = readFileSync(file).toString('latin1');
      assert.doesNotMatch(text, /PRIVATE KEY/, file);
      assert.equal(text.includes(PIN), false, file);
    }
    // `ics ca show` says where the issuer key lives (the CA itself comes later).
    await ok(['ca', 'init', '--data', 'node', '--subject', 'CN=Acme maker root'], tmp.path);
    assert.match((await ok(['ca', 'show', '--data', 'node'], tmp.path)).stdout, /node issuer key \(OpenPGP\): in PKCS#11 token "ics-issuer", object "issuer"/);
    // The same object label is never made twice.
    const again = await ics(['init', '--data', 'again', '--role', 'manufacturer', '--pkcs11', ISSUER_URI, '--pkcs11-module', MODULE, '--pkcs11-pin-env', PIN_ENV], tmp.path);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds a key "issuer"/);
  });

  it('a status the token signs is a valid certification to gpg (sig!, with its notations)', async () => {
    const registered = JSON.parse(
      (await ok(['device', 'register', '--data', 'node', '--urn', 'urn:cm4it:device:acme.example:hsm-1', '--key-out', 'dev.secret.asc', '--json'], tmp.path, { env: { ICS_KEY_PASSPHRASE: 'x' } })).stdout,
    ) as { id: string; action: string };
    assert.equal(registered.action, 'inserted');
    deviceId = registered.id;
    await ok(['status', 'set', '--data', 'node', deviceId, 'stolen'], tmp.path);
    const stolen = await ics(['verify', '--data', 'node', deviceId], tmp.path);
    assert.equal(stolen.code, 1, stolen.stdout);
    assert.match(stolen.stdout, /STATUS_UNTRUSTED/);

    const exported = (await ok(['export', '--data', 'node', deviceId], tmp.path)).stdout;
    await withGnuPG(async (gpg) => {
      await gpg.import(await readFile(join(node, 'keys/issuer.asc')));
      await gpg.import(exported);
      const sigs = signatureRecords(await gpg.colons(['--check-sigs', deviceId.toUpperCase()]));
      const byIssuer = sigs.filter((s) => s.keyId === issuerId.slice(-16));
      assert.equal(byIssuer.length, 2, JSON.stringify(sigs)); // registration, then the status
      assert.ok(sigs.every((s) => s.validity === '!'), JSON.stringify(sigs));
      const listing = await gpg.text(['--list-options', 'show-notations', '--check-sigs', deviceId.toUpperCase()]);
      assert.match(listing, /status@cm4it\.org=stolen/);
      // And the issuer's own key (made on the token, self-certified by it) checks good too.
      const own = signatureRecords(await gpg.colons(['--check-sigs', issuerId.toUpperCase()]));
      assert.deepEqual(own.map((s) => s.validity), ['!']);
    });
  });

  it('ics key generate --pkcs11 makes a countersigning key on the token that --key uses', async () => {
    const generated = await ok(['key', 'generate', '--data', 'node', '--pkcs11', 'pkcs11:token=ics-issuer;object=integrator', '--urn', 'urn:cm4it:org:integrator.example', '--out', 'integrator.asc'], tmp.path);
    assert.match(generated.stdout, /private key in the PKCS#11 token "ics-issuer", object "integrator", public key integrator\.asc/);
    await ok(['trust', 'add', '--data', 'node', '--key', 'integrator.asc', '--roles', 'integrator'], tmp.path);
    const missing = await ics(['certify', '--data', 'node', deviceId, '--role', 'integrator', '--key', 'pkcs11:token=ics-issuer;object=integrator'], tmp.path);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--key-public/);
    const countersigned = JSON.parse(
      (await ok(['certify', '--data', 'node', deviceId, '--role', 'integrator', '--key', 'pkcs11:token=ics-issuer;object=integrator', '--key-public', 'integrator.asc', '--json'], tmp.path)).stdout,
    ) as { action: string; signaturesAdded: number };
    assert.equal(countersigned.action, 'updated');
    assert.equal(countersigned.signaturesAdded, 1);
    // A public key that is not the token object's key is refused, nothing signed.
    const wrong = await ics(['certify', '--data', 'node', deviceId, '--role', 'integrator', '--key', 'pkcs11:token=ics-issuer;object=integrator', '--key-public', 'node/keys/issuer.asc'], tmp.path);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /KEY_UNUSABLE.*is not the OpenPGP key/);
  });

  it('a wrong PIN stops ics serve at start with KEY_UNUSABLE; the right one serves', async () => {
    process.env[PIN_ENV] = '000000';
    const refused = new ServeProcess(['--data', 'node', ...EPHEMERAL], tmp.path);
    process.env[PIN_ENV] = PIN;
    await assert.rejects(refused.logged(/^ics node ready$/), /exited/);
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.log, /KEY_UNUSABLE/);
    assert.match(refused.log, /PIN does not open the PKCS#11 token "ics-issuer"/);

    const serving = new ServeProcess(['--data', 'node', ...EPHEMERAL], tmp.path);
    try {
      const logged = await serving.logged(/node issuer key in a PKCS#11 token/);
      assert.equal(logged.issuer, issuerId);
      await serving.logged(/^ics node ready$/);
    } finally {
      await serving.stop();
    }
  });

  it('a token that goes away fails signing with UNAVAILABLE; the same key signs again once it is back', async () => {
    const issuer = await openIssuerKey(
      { secretKey: `${ISSUER_URI};type=private`, publicKey: join(node, 'keys/issuer.asc') },
      { passphrase: async () => '', pkcs11: { module: MODULE, pinEnv: PIN_ENV } },
    );
    assert.equal(issuerFingerprint(issuer), issuerId);
    const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:hsm-2' });
    assert.equal((await certify(record, issuer, { role: 'manufacturer', status: 'in-use' })).userIds[0]?.signatures.length, 2);
    const tokens = (token as { tokens: string }).tokens;
    await rename(tokens, `${tokens}-away`);
    try {
      await assert.rejects(certify(record, issuer, { role: 'manufacturer', status: 'stolen' }), (error: unknown) => isIcsError(error, 'UNAVAILABLE') && /PKCS#11 token "ics-issuer"/.test((error as Error).message));
    } finally {
      await rename(`${tokens}-away`, tokens);
    }
    const again = await certify(record, issuer, { role: 'manufacturer', status: 'stolen' });
    assert.equal(again.userIds[0]?.signatures.filter((s) => s.issuer === issuerId).length, 1);
  });
});
