// The `ics` command on a real data directory (LevelDB on disk), run as a user would:
// init → register → countersign → status → verify → history, and the bad inputs.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { armor, parseRecord } from '../../ics/record/index.ts';
import { ics, ok, serve } from '../helpers/cli.ts';
import { certifiedDevice, fixture } from '../helpers/identities.ts';

describe('cli: lifecycle on a real data directory', function () {
  this.timeout(120_000);
  let work: string;
  let deviceId: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-cli-'));
    await ok(['init', '--data', 'data', '--role', 'manufacturer', '--name', 'acme-factory'], work);
  });

  after(() => rm(work, { recursive: true, force: true }));

  it('init protects the issuer key: mode 0600, encrypted, passphrase file 0600', async () => {
    for (const file of ['data/keys/issuer.secret.asc', 'data/keys/issuer.passphrase']) {
      assert.equal((await stat(join(work, file))).mode & 0o777, 0o600, file);
    }
    assert.equal((await stat(join(work, 'data'))).mode & 0o777, 0o700);
    const secret = await readFile(join(work, 'data/keys/issuer.secret.asc'), 'utf8');
    const { readPrivateKey } = await import('../../ics/record/index.ts');
    await assert.rejects(readPrivateKey(secret), (e: { code?: string }) => e.code === 'KEY_UNUSABLE');
    const again = await ics(['init', '--data', 'data'], work);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /BAD_REQUEST/);
  });

  it('registers, countersigns, sets status and verifies, with history', async () => {
    const registered = await ok(
      ['device', 'register', '--data', 'data', '--urn', 'urn:cm4it:device:acme.example:cam-3:SN1', '--key-out', 'dev.secret.asc', '--meta', 'model=cam-3', '--json'],
      work,
    );
    const outcome = JSON.parse(registered.stdout) as { id: string; action: string; domains: string[] };
    assert.equal(outcome.action, 'inserted');
    assert.deepEqual(outcome.domains, ['devices']);
    deviceId = outcome.id;
    assert.equal((await stat(join(work, 'dev.secret.asc'))).mode & 0o777, 0o600);

    await ok(['key', 'generate', '--urn', 'urn:cm4it:org:integrator.example', '--out', 'integrator.secret.asc'], work);
    // Not yet trusted: the countersignature is dropped and the response says so.
    const untrusted = JSON.parse((await ok(['certify', '--data', 'data', deviceId, '--role', 'integrator', '--key', 'integrator.secret.asc', '--json'], work)).stdout);
    assert.equal(untrusted.action, 'unchanged');
    assert.deepEqual(untrusted.dropped.map((d: { reason: string }) => d.reason), ['UNKNOWN_ISSUER']);

    await ok(['trust', 'add', '--data', 'data', '--key', 'integrator.asc', '--roles', 'integrator'], work);
    const countersigned = JSON.parse((await ok(['certify', '--data', 'data', 'urn:cm4it:device:acme.example:cam-3:SN1', '--role', 'integrator', '--key', 'integrator.secret.asc', '--deny', 'video-recording', '--json'], work)).stdout);
    assert.equal(countersigned.action, 'updated');
    assert.equal(countersigned.signaturesAdded, 1);

    const trusted = await ics(['verify', '--data', 'data', deviceId, '--json'], work);
    assert.equal(trusted.code, 0);
    const verdict = JSON.parse(trusted.stdout);
    assert.equal(verdict.trusted, true);
    assert.deepEqual(verdict.roles.map((r: { role: string }) => r.role).sort(), ['integrator', 'manufacturer']);
    assert.deepEqual(verdict.authorizations.deny, ['video-recording']);

    await ok(['status', 'set', '--data', 'data', deviceId, 'stolen'], work);
    const stolen = await ics(['verify', '--data', 'data', deviceId.slice(-16)], work);
    assert.equal(stolen.code, 1);
    assert.match(stolen.stdout, /NOT TRUSTED/);
    assert.match(stolen.stdout, /STATUS_UNTRUSTED/);

    const shown = JSON.parse((await ok(['show', '--data', 'data', deviceId, '--json'], work)).stdout);
    assert.deepEqual(shown.history.map((e: { action: string }) => e.action), ['insert', 'update', 'update']);
    assert.equal(shown.signatures.length, 4);
  });

  it('withdraws a countersignature with revoke', async () => {
    await ok(['revoke', '--data', 'data', deviceId, '--key', 'integrator.secret.asc', '--reason', 'contract ended'], work);
    const verdict = JSON.parse((await ics(['verify', '--data', 'data', deviceId, '--json'], work)).stdout);
    assert.deepEqual(verdict.roles.map((r: { role: string }) => r.role), ['manufacturer']);
  });

  it('refuses code records where no domain holds code', async () => {
    await writeFile(join(work, 'fw.bin'), 'firmware image 3.2.1');
    // The manufacturer policy has no code domain: a code record is refused, nothing stored.
    const refused = await ics(['code', 'publish', '--data', 'data', '--name', 'acme-cam-fw', '--version', '3.2.1', '--file', 'fw.bin', '--role', 'developer'], work);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /POLICY_REJECTED/);
  });

  it('exports records that parse back to the stored digest', async () => {
    const exported = await ok(['export', '--data', 'data', deviceId], work);
    const f = await fixture();
    const { record } = await parseRecord(exported.stdout, { issuers: f.ring });
    assert.equal(record.id, deviceId);
  });

  it('imports a bulk file with a summary, refusing the bad records', async () => {
    const f = await fixture();
    const { record: foreign } = await certifiedDevice(f);
    const garbage = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n';
    const run = await ics(['device', 'import', '--data', 'data', '--json'], work, { input: `${armor('publicKey', foreign.bytes)}\n${garbage}` });
    assert.equal(run.code, 1, run.stderr);
    const summary = JSON.parse(run.stdout);
    assert.equal(summary.rejected, 2);
    assert.equal(summary.inserted, 0);
    assert.deepEqual(Object.keys(summary.rejectedByCode).sort(), ['POLICY_REJECTED', 'RECORD_MALFORMED']);
  });

  it('refuses bad input files with a typed error and exit code 2', async () => {
    await writeFile(join(work, 'bad.asc'), 'not a key');
    const bad = await ics(['device', 'register', '--data', 'data', '--urn', 'urn:cm4it:device:acme.example:x:1', '--public-key', 'bad.asc'], work);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /RECORD_MALFORMED/);
    const missing = await ics(['verify', '--data', 'data', 'ffffffffffffffffffffffffffffffffffffffff'], work);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /NOT_FOUND/);
    const usage = await ics(['certify', '--data', 'data'], work);
    assert.equal(usage.code, 2);
  });

  it('refuses an invalid policy at start with file, path and reason', async () => {
    const policyFile = join(work, 'data/policy.yaml');
    const original = await readFile(policyFile, 'utf8');
    await writeFile(policyFile, original.replace('read: public', 'read: everyone').replace('version: 1', 'version: 1\nextra: true'));
    try {
      const run = await ics(['verify', '--data', 'data', deviceId], work);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /CONFIG_INVALID/);
      assert.match(run.stderr, /policy\.yaml/);
      assert.match(run.stderr, /\/extra/);
      assert.match(run.stderr, /\/domains\/0\/read/);
    } finally {
      await writeFile(policyFile, original);
    }
  });

  it('a data directory in use by a running node is refused with UNAVAILABLE', async () => {
    const server = await serve('data', work);
    try {
      const busy = await ics(['verify', '--data', 'data', deviceId], work);
      assert.equal(busy.code, 2);
      assert.match(busy.stderr, new RegExp(`UNAVAILABLE: data directory .* is in use by a running node \\(pid ${server.addresses.pid}`));
    } finally {
      assert.equal(await server.stop(), 0);
    }
    const after = await ics(['verify', '--data', 'data', deviceId], work);
    assert.notEqual(after.code, 2, 'the node released the data directory');
  });
});

describe('cli: a developer node publishes and deprecates firmware', function () {
  this.timeout(60_000);
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-dev-'));
    await ok(['init', '--data', 'data', '--role', 'developer', '--name', 'acme-firmware'], work);
  });

  after(() => rm(work, { recursive: true, force: true }));

  it('code publish → verify trusted; code status deprecated → verify not trusted', async () => {
    await writeFile(join(work, 'fw.bin'), 'firmware image 3.2.1');
    const published = JSON.parse((await ok(['code', 'publish', '--data', 'data', '--name', 'acme-cam-fw', '--version', '3.2.1', '--file', 'fw.bin', '--json'], work)).stdout);
    assert.equal(published.kind, 'code');
    assert.match(published.id, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await ics(['verify', '--data', 'data', published.id], work)).code, 0);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // statements are dated to the second
    await ok(['code', 'status', '--data', 'data', published.id, 'deprecated'], work);
    const deprecated = await ics(['verify', '--data', 'data', published.id, '--json'], work);
    assert.equal(deprecated.code, 1);
    assert.equal(JSON.parse(deprecated.stdout).status, 'deprecated');
  });
});
