// Attack: the repository publishes the secret keys of its example issuers (test fixtures).
// Anyone who clones it signs as "acme-manufacturer" and hopes a default node believes it —
// as every default node once did. Reproduced as a new user would: a node made by
// `ics serve --init default` (what `npm start` runs) and stock `gpg --quick-sign-key`; and a
// manufacturer node (`ics init --role manufacturer`) whose stolen device the attacker tries
// to bring back with `ics certify --status in-use --key <published key>`.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ics, ok, serve } from '../helpers/cli.ts';
import { GnuPG, requireGpg, signatureRecords } from '../helpers/gpg.ts';

const PUBLISHED = resolve('test/policy/fixtures/keys/acme-manufacturer.secret.asc');
const DEVICE = 'urn:cm4it:device:acme.example:cam-3:SN666';

describe('security: certifications made with the published example keys', function () {
  this.timeout(180_000);
  let work: string;
  const homes: GnuPG[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-published-keys-'));
  });

  after(async () => {
    for (const gpg of homes) await gpg.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it('a fresh `npm start` node drops a gpg certification by the published acme-manufacturer key', async () => {
    requireGpg({ keyserver: true });
    const node = await serve('data', work, ['--init', 'default']);
    try {
      const keyserver = ['--keyserver', (node.addresses.hkp as string).replace(/^http:/, 'hkp:'), '--keyserver-options', 'no-self-sigs-only,no-import-clean'];
      const attacker = await GnuPG.create(keyserver);
      homes.push(attacker);
      await attacker.import(await readFile(PUBLISHED, 'utf8'));
      const manufacturer = (await attacker.colons(['--list-secret-keys'], ['fpr']))[0]?.[9] as string;
      assert.match(manufacturer, /^[0-9A-F]{40}$/);
      const device = await attacker.generateKey(DEVICE, 'ed25519');
      await attacker.run(['--default-key', manufacturer, '--cert-notation', 'role@cm4it.org=manufacturer', '--cert-notation', 'status@cm4it.org=in-use', '--quick-sign-key', device.toUpperCase()]);
      const sent = signatureRecords(await attacker.colons(['--list-sigs', device.toUpperCase()]));
      assert.ok(sent.some((s) => s.keyId === manufacturer.slice(-16).toLowerCase()), 'gpg made the certification');
      await attacker.run(['--send-keys', device.toUpperCase()]);

      const verdict = (await (await fetch(`${node.addresses.hkp}/ics/v1/verify/${device}`)).json()) as { trusted: boolean; roles: unknown[] };
      assert.equal(verdict.trusted, false);
      assert.deepEqual(verdict.roles, [], 'no role counts: the node trusts no key but its own');
      // What the node serves to a gateway holds no signature by the published key.
      const gateway = await GnuPG.create(keyserver);
      homes.push(gateway);
      await gateway.run(['--recv-keys', device.toUpperCase()]);
      const served = signatureRecords(await gateway.colons(['--list-sigs', device.toUpperCase()]));
      assert.ok(served.length > 0, 'the key itself was stored and served');
      assert.ok(!served.some((s) => s.keyId === manufacturer.slice(-16).toLowerCase()), 'the forged certification was not stored');
    } finally {
      assert.equal(await node.stop(), 0);
    }
  });

  it('a stolen device on a fresh manufacturer node stays stolen when "certified in-use" with the published key', async () => {
    await ok(['init', '--data', 'factory', '--role', 'manufacturer', '--name', 'acme-factory'], work);
    const registered = JSON.parse((await ok(['device', 'register', '--data', 'factory', '--urn', DEVICE, '--key-out', 'dev.secret.asc', '--json'], work)).stdout) as { id: string };
    await ok(['status', 'set', '--data', 'factory', registered.id, 'stolen'], work);
    // Statements are dated to the second: the forged one must be the newest to matter.
    await new Promise((r) => setTimeout(r, 1100));
    const forged = await ics(['certify', '--data', 'factory', registered.id, '--role', 'manufacturer', '--status', 'in-use', '--key', PUBLISHED, '--json'], work);
    assert.match(forged.stdout + forged.stderr, /UNKNOWN_ISSUER|ISSUER_NOT_ALLOWED/, 'the certification is dropped and reported');
    const verify = await ics(['verify', '--data', 'factory', registered.id, '--json'], work);
    assert.equal(verify.code, 1, 'not trusted');
    const verdict = JSON.parse(verify.stdout) as { trusted: boolean; status: string };
    assert.equal(verdict.status, 'stolen');
  });
});
