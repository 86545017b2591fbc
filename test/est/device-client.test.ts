// `ics enrol`, the reference device client, against a running EST listener (world.ts): a
// device with its birth certificate enrols, finds its certificate current the next time,
// renews inside the renewal window with a new key, and with --watch renews by itself until
// told to stop. A stolen device is refused and nothing is written. openssl checks the result.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { type IcsNode, openNode, type RunningServices, startServices } from '../../ics/node/index.ts';
import { ICS, ics, ok } from '../helpers/cli.ts';
import { tempDirs } from '../enrol/helpers.ts';
import { curl, openssl } from './helpers.ts';
import { buildWorld, deviceUrn } from './world.ts';

describe('est: ics enrol, the device client', function () {
  this.timeout(180_000);
  const tmp = tempDirs('ics-est-client-');
  let node: IcsNode;
  let services: RunningServices;
  let est = '';
  const ids: Record<string, string> = {};
  const at = (path: string) => join(tmp.path, path);

  const enrolArgs = (serial: string, dir: string, extra: string[] = []) => [
    'enrol',
    '--server',
    est,
    '--ca',
    'system-ca.pem',
    '--birth-cert',
    `${serial}.pem`,
    '--birth-key',
    `${serial}.key.pem`,
    '--dir',
    dir,
    '--json',
    ...extra,
  ];
  const operational = async (dir: string) => new X509Certificate(await readFile(at(join(dir, 'operational.pem'))));
  const certificatesOfRecord = async (serial: string) => (await node.store.certificatesOf(ids[serial] as string)).length;

  before(async () => {
    await tmp.make();
    Object.assign(ids, (await buildWorld(tmp.path)).ids);
    node = await openNode(at('system'), { testKeys: 'refuse', logger: pino({ level: 'silent' }) });
    services = await startServices(node, { hkp: '127.0.0.1:0', ldap: 'off', p2p: 'off', est: '127.0.0.1:0' });
    est = services.addresses.est ?? '';
    for (const dir of ['sn4', 'sn4-watch', 'sn2', 'sn1', 'sn1-again', 'sn4-enc']) await mkdir(at(dir));
    await ok(['key', 'pkcs8', '--key', 'SN1.secret.asc', '--out', 'SN1.key.pem'], tmp.path);
  });

  after(async () => {
    await services?.stop();
    await node?.close();
    await tmp.clean();
  });

  it('enrols with the birth certificate: a certificate openssl verifies, its key beside it (0600)', async () => {
    const run = await ok(enrolArgs('SN4', 'sn4'), tmp.path);
    const outcome = JSON.parse(run.stdout) as { action: string; serial: string; urn: string; renewAt: string; notAfter: string };
    assert.equal(outcome.action, 'enrolled');
    assert.equal(outcome.urn, deviceUrn('SN4'));
    const certificate = await operational('sn4');
    assert.equal(certificate.serialNumber.toLowerCase(), outcome.serial);
    assert.match(certificate.subjectAltName ?? '', new RegExp(`URI:${deviceUrn('SN4')}`));
    // The file holds the certificate and then the CA chain: openssl verifies it against the trust anchors.
    const verified = await openssl(['verify', '-CAfile', 'system-ca.pem', 'sn4/operational.pem'], tmp.path);
    assert.equal(verified.stdout.trim(), 'sn4/operational.pem: OK', verified.stderr);
    assert.ok(certificate.checkPrivateKey(createPrivateKey(await readFile(at('sn4/operational.key.pem')))));
    assert.equal((await stat(at('sn4/operational.key.pem'))).mode & 0o777, 0o600);
    // A third of the 30-day lifetime left is the default renewal point.
    const lifetime = Date.parse(certificate.validTo) - Date.parse(certificate.validFrom);
    assert.ok(Math.abs(Date.parse(outcome.renewAt) - (Date.parse(outcome.notAfter) - lifetime / 3)) < 2_000);
    assert.equal(await certificatesOfRecord('SN4'), 1);
  });

  it('the next run finds the certificate current and asks for nothing', async () => {
    const before = (await operational('sn4')).serialNumber;
    const outcome = JSON.parse((await ok(enrolArgs('SN4', 'sn4'), tmp.path)).stdout) as { action: string };
    assert.equal(outcome.action, 'current');
    assert.equal((await operational('sn4')).serialNumber, before);
    assert.equal(await certificatesOfRecord('SN4'), 1);
  });

  it('inside the renewal window it renews (simplereenroll) with a new key', async () => {
    const before = await operational('sn4');
    const run = await ok(enrolArgs('SN4', 'sn4', ['--renew-before', '31d', '--algorithm', 'ed25519']), tmp.path);
    const outcome = JSON.parse(run.stdout) as { action: string; serial: string };
    assert.equal(outcome.action, 'renewed');
    const after = await operational('sn4');
    assert.notEqual(after.serialNumber, before.serialNumber);
    assert.equal(after.publicKey.asymmetricKeyType, 'ed25519');
    assert.equal(await certificatesOfRecord('SN4'), 2);
  });

  it('--watch renews when the window opens, by itself, and stops on SIGTERM', async () => {
    await ok(enrolArgs('SN4', 'sn4-watch'), tmp.path);
    const first = await operational('sn4-watch');
    // The window opens 12 s from now: long enough for the client to start and find its
    // certificate current first even on a loaded machine (3 s was not, at load average 4).
    const renewBefore = Math.floor((Date.parse(first.validTo) - Date.now()) / 1000) - 12;
    const child = spawn(process.execPath, [ICS, ...enrolArgs('SN4', 'sn4-watch', ['--watch', '--renew-before', String(renewBefore)])], {
      cwd: tmp.path,
      env: { ...process.env, ICS_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    try {
      const actions = () => out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { action: string }).action);
      for (const started = Date.now(); !actions().includes('renewed'); ) {
        assert.ok(Date.now() - started < 60_000, `no renewal within 60 s: ${out} ${err}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(actions()[0], 'current');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, err);
    assert.notEqual((await operational('sn4-watch')).serialNumber, first.serialNumber);
  });

  it('a stolen device is refused with the verdict’s reason; nothing is written', async () => {
    const run = await ics(enrolArgs('SN2', 'sn2'), tmp.path);
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stderr, /^ics: POLICY_REJECTED: EST simpleenroll refused \(403\): .*stolen/);
    await assert.rejects(stat(at('sn2/operational.pem')), { code: 'ENOENT' });
    await assert.rejects(stat(at('sn2/operational.key.pem')), { code: 'ENOENT' });
    assert.equal(await certificatesOfRecord('SN2'), 0);
  });

  it('a server the trust anchors do not vouch for is refused before anything is sent', async () => {
    const before = await certificatesOfRecord('SN4');
    // A CA of someone else (the factory's chain would do: it shares the program's root).
    const other = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other-ca.key', '-subj', '/CN=Other CA', '-days', '30', '-out', 'other-ca.pem'], tmp.path);
    assert.equal(other.code, 0, other.stderr);
    const run = await ics([...enrolArgs('SN4', 'sn4').map((a) => (a === 'system-ca.pem' ? 'other-ca.pem' : a)), '--renew-before', '31d'], tmp.path);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /UNAVAILABLE|certificate/);
    assert.equal(await certificatesOfRecord('SN4'), before);
  });

  it('manual approval: pending (exit 1) until `ics cert approve` while the node runs; then enrolled, the approval used up', async () => {
    const file = at('system/policy.yaml');
    const policy = await readFile(file, 'utf8');
    await writeFile(file, policy.replace('enrol:\n', 'enrol:\n  approval: manual\n'));
    await node.reloadPolicy();
    try {
      const waiting = await ics(enrolArgs('SN1', 'sn1'), tmp.path);
      assert.equal(waiting.code, 1, waiting.stderr);
      const pending = JSON.parse(waiting.stdout) as { action: string; retryAfterSeconds: number };
      assert.equal(pending.action, 'pending');
      assert.equal(pending.retryAfterSeconds, 60);
      await assert.rejects(stat(at('sn1/operational.pem')), { code: 'ENOENT' });
      assert.equal(await certificatesOfRecord('SN1'), 0);

      const listed = JSON.parse((await ok(['cert', 'pending', '--data', 'system', '--json'], tmp.path)).stdout) as Array<{ recordId: string; urn: string; requests: number }>;
      assert.deepEqual(listed.map((p) => [p.recordId, p.urn, p.requests]), [[ids.SN1, deviceUrn('SN1'), 1]]);
      // Nothing waits for SN4: an approval is for a request seen, never in advance.
      const early = await ics(['cert', 'approve', deviceUrn('SN4'), '--data', 'system'], tmp.path);
      assert.equal(early.code, 2);
      assert.match(early.stderr, /NOT_FOUND: no enrolment waits for approval/);

      await ok(['cert', 'approve', deviceUrn('SN1'), '--data', 'system'], tmp.path);
      const enrolled = JSON.parse((await ok(enrolArgs('SN1', 'sn1'), tmp.path)).stdout) as { action: string };
      assert.equal(enrolled.action, 'enrolled');
      assert.equal(await certificatesOfRecord('SN1'), 1);
      assert.deepEqual(JSON.parse((await ok(['cert', 'pending', '--data', 'system', '--json'], tmp.path)).stdout), []);
      // Used up: another enrolment with the birth certificate waits again.
      const again = await ics(enrolArgs('SN1', 'sn1-again'), tmp.path);
      assert.equal(again.code, 1, again.stderr);
    } finally {
      await writeFile(file, policy);
      await node.reloadPolicy();
    }
  });

  it('bootstrap: record-key lets a device without a birth certificate enrol with a request made with its record key (curl, openssl)', async () => {
    // SN3's record key, as the device holds it; SN3 is countersigned by nobody, so SN4's own key is used for the refusal of a wrong key.
    const csr = async (name: string, key: string, subject: string) => {
      const made = await openssl(['req', '-new', '-key', key, '-subj', subject, '-outform', 'DER', '-out', `${name}.der`], tmp.path);
      assert.equal(made.code, 0, made.stderr);
      assert.equal((await openssl(['base64', '-in', `${name}.der`, '-out', `${name}.b64`], tmp.path)).code, 0);
      return `@${name}.b64`;
    };
    const post = (body: string) =>
      curl(['--cacert', 'system-ca.pem', '-H', 'Content-Type: application/pkcs10', '--data-binary', body], `${est}/.well-known/est/simpleenroll`, tmp.path);
    const own = await csr('boot4', 'SN4.key.pem', `/CN=${deviceUrn('SN4')}`);
    const before = await certificatesOfRecord('SN4');
    // Off by default: no TLS client certificate is 401.
    assert.equal((await post(own)).status, 401);

    const file = at('system/policy.yaml');
    const policy = await readFile(file, 'utf8');
    await writeFile(file, policy.replace('enrol:\n', 'enrol:\n  bootstrap: record-key\n'));
    await node.reloadPolicy();
    try {
      const answer = await post(own);
      assert.equal(answer.status, 200, answer.body);
      await writeFile(at('boot4.p7.b64'), answer.body);
      assert.equal((await openssl(['base64', '-d', '-in', 'boot4.p7.b64', '-out', 'boot4.p7'], tmp.path)).code, 0);
      assert.equal((await openssl(['pkcs7', '-inform', 'DER', '-in', 'boot4.p7', '-print_certs', '-out', 'boot4.pem'], tmp.path)).code, 0);
      const issued = new X509Certificate(await readFile(at('boot4.pem')));
      // The certificate is for the record key itself.
      assert.ok(issued.checkPrivateKey(createPrivateKey(await readFile(at('SN4.key.pem')))));
      assert.equal(await certificatesOfRecord('SN4'), before + 1);
      // Another device's URN with this key: no record has that key under that name.
      const wrong = await post(await csr('boot-wrong', 'SN4.key.pem', `/CN=${deviceUrn('SN1')}`));
      assert.equal(wrong.status, 403, wrong.body);
      assert.match(wrong.body, /^POLICY_REJECTED: this node holds no device record .*SN1 whose key is the request's key/);
    } finally {
      await writeFile(file, policy);
      await node.reloadPolicy();
    }
  });

  it('keys at rest with a passphrase: an encrypted birth key, and each operational key written encrypted', async () => {
    await writeFile(at('device.passphrase'), 'a long device passphrase\n', { mode: 0o600 });
    const encrypted = await openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', 'SN4.key.pem', '-out', 'SN4.enc.pem', '-passout', 'file:device.passphrase'], tmp.path);
    assert.equal(encrypted.code, 0, encrypted.stderr);
    const args = (extra: string[]) => enrolArgs('SN4', 'sn4-enc', extra).map((a) => (a === 'SN4.key.pem' ? 'SN4.enc.pem' : a));
    const without = await ics(args([]), tmp.path);
    assert.equal(without.code, 2);
    assert.match(without.stderr, /KEY_UNUSABLE: SN4\.enc\.pem is encrypted: give its passphrase/);

    const enrolled = JSON.parse((await ok(args(['--passphrase-file', 'device.passphrase']), tmp.path)).stdout) as { action: string };
    assert.equal(enrolled.action, 'enrolled');
    const keyFile = await readFile(at('sn4-enc/operational.key.pem'), 'utf8');
    assert.match(keyFile, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.equal((await stat(at('sn4-enc/operational.key.pem'))).mode & 0o777, 0o600);
    // The encrypted operational key authenticates the renewal.
    const renewed = JSON.parse((await ok(args(['--passphrase-file', 'device.passphrase', '--renew-before', '31d']), tmp.path)).stdout) as { action: string };
    assert.equal(renewed.action, 'renewed');
  });
});
