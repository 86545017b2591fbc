// EST (RFC 7030) end to end: a manufacturer's birth CA, a system node with its own issuing
// CA and an enrol section serving EST on mutual TLS (world.ts), and real curl and openssl as
// the device, with the commands of README's EST walkthrough. A registered, countersigned
// device enrols and re-enrols; every refusal answers its status with a reason and issues
// nothing.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { CertificateAuthority } from '../../ics/enrol/index.ts';
import { isIcsError } from '../../ics/errors.ts';
import { type IcsNode, initDataDir, openNode, type RunningServices, startServices } from '../../ics/node/index.ts';
import { reviveRecord } from '../../ics/record/index.ts';
import { ics, ok } from '../helpers/cli.ts';
import { tempDirs } from '../enrol/helpers.ts';
import { curl, openssl } from './helpers.ts';
import { buildWorld, deviceUrn } from './world.ts';

const urn = deviceUrn;
const CSR_TYPE = ['-H', 'Content-Type: application/pkcs10'];

describe('est: enrolment over EST with curl and openssl', function () {
  this.timeout(240_000);
  const tmp = tempDirs('ics-est-');
  let node: IcsNode;
  let services: RunningServices;
  let est = '';
  let hkp = '';
  let stopped = false;
  const ids: Record<string, string> = {};
  const logLines: Array<Record<string, unknown>> = [];
  const at = (path: string) => join(tmp.path, path);

  /** Everything the CA has issued: the certificate index, whole. */
  const issued = async () => (await node.store.expiringBefore(new Date(Date.UTC(9999, 0)), 10_000)).length;

  /** A P-256 (or other) key and its request, as base64 DER: one line (`-A`) or broken into lines. */
  async function request(name: string, subject: string, options: { newkey?: string[]; addext?: string[]; oneLine?: boolean } = {}): Promise<string> {
    const newkey = options.newkey ?? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    const made = await openssl(
      ['req', '-new', ...newkey, '-nodes', '-keyout', `${name}.key`, '-subj', subject, ...(options.addext ?? []).flatMap((e) => ['-addext', e]), '-outform', 'DER', '-out', `${name}.der`],
      tmp.path,
    );
    assert.equal(made.code, 0, made.stderr);
    const encoded = await openssl(['base64', ...(options.oneLine ? ['-A'] : []), '-in', `${name}.der`, '-out', `${name}.b64`], tmp.path);
    assert.equal(encoded.code, 0, encoded.stderr);
    return `@${name}.b64`;
  }

  const enrol = (operation: string, auth: string[], body: string) =>
    curl(['--cacert', 'system-ca.pem', ...auth, ...CSR_TYPE, '--data-binary', body], `${est}/.well-known/est/${operation}`, tmp.path);
  const birth = (serial: string) => ['--cert', `${serial}.pem`, '--key', `${serial}.key.pem`];

  /** The answer's certificates as PEM (openssl base64 -d | openssl pkcs7 -print_certs). */
  async function certificatesOf(body: string, out: string): Promise<string> {
    await writeFile(at(`${out}.b64`), body);
    assert.equal((await openssl(['base64', '-d', '-in', `${out}.b64`, '-out', `${out}.p7`], tmp.path)).code, 0);
    const printed = await openssl(['pkcs7', '-inform', 'DER', '-in', `${out}.p7`, '-print_certs', '-out', `${out}.pem`], tmp.path);
    assert.equal(printed.code, 0, printed.stderr);
    return readFile(at(`${out}.pem`), 'utf8');
  }

  /** A refusal: its status, a plain-text reason naming its code, and nothing issued. */
  async function refused(answer: Promise<Awaited<ReturnType<typeof curl>>>, status: number, code: string, reason: RegExp): Promise<void> {
    const before = await issued();
    const got = await answer;
    assert.equal(got.status, status, got.body);
    assert.match(got.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(got.body, new RegExp(`^${code}: `));
    assert.match(got.body, reason);
    assert.equal(got.headers['www-authenticate'], undefined);
    assert.equal(await issued(), before, 'nothing issued');
  }

  before(async () => {
    await tmp.make();
    Object.assign(ids, (await buildWorld(tmp.path)).ids);
    // The device's TLS key is its record key: as PKCS#8 PEM for curl.
    await ok(['key', 'pkcs8', '--key', 'SN1.secret.asc', '--out', 'SN1.key.pem'], tmp.path);
    await appendFile(at('system/config.yaml'), 'hkp:\n  metrics: public\nest:\n  requestsPerMinute: 60\n');

    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    node = await openNode(at('system'), { testKeys: 'refuse', logger: pino({ level: 'info' }, sink) });
    services = await startServices(node, { hkp: '127.0.0.1:0', ldap: 'off', p2p: 'off', est: '127.0.0.1:0' });
    est = services.addresses.est ?? '';
    hkp = services.addresses.hkp ?? '';
    assert.match(est, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  after(async () => {
    if (!stopped) {
      await services?.stop();
      await node?.close();
    }
    await tmp.clean();
  });

  it('lists the EST address in addresses.json', async () => {
    const addresses = JSON.parse(await readFile(at('system/addresses.json'), 'utf8')) as { est: string };
    assert.equal(addresses.est, est);
  });

  it('cacerts: the CA chain as certs-only, verified TLS with the chain the device was given', async () => {
    const answer = await curl(['--cacert', 'system-ca.pem'], `${est}/.well-known/est/cacerts`, tmp.path);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.headers['content-type'], 'application/pkcs7-mime; smime-type=certs-only');
    assert.equal(answer.headers['content-transfer-encoding'], undefined, 'RFC 8951: no Content-Transfer-Encoding');
    const pem = await certificatesOf(answer.body, 'cacerts');
    assert.equal((pem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
    assert.match(pem, /subject=CN ?= ?acme-system issuing CA/);
    assert.match(pem, /subject=CN ?= ?Acme root CA, O ?= ?Acme/);
  });

  it('csrattrs: 204, the CA sets subject and extensions itself', async () => {
    const answer = await curl(['--cacert', 'cacerts.pem'], `${est}/.well-known/est/csrattrs`, tmp.path);
    assert.equal(answer.status, 204);
  });

  it('simpleenroll: a countersigned device gets a certificate openssl verifies against cacerts', async () => {
    const body = await request('op1', `/CN=${urn('SN1')}`);
    const before = await issued();
    const answer = await enrol('simpleenroll', birth('SN1'), body);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.headers['content-type'], 'application/pkcs7-mime; smime-type=certs-only');
    assert.equal(answer.headers['ics-not-granted'], undefined);
    const pem = await certificatesOf(answer.body, 'op1');
    assert.equal((pem.match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
    const verified = await openssl(['verify', '-CAfile', 'cacerts.pem', 'op1.pem'], tmp.path);
    assert.equal(verified.stdout.trim(), 'op1.pem: OK', verified.stderr);
    const text = (await openssl(['x509', '-in', 'op1.pem', '-noout', '-text'], tmp.path)).stdout;
    assert.match(text, new RegExp(`Subject: serialNumber ?= ?SN1, CN ?= ?${urn('SN1')}`));
    assert.match(text, new RegExp(`URI:${urn('SN1')}`));
    assert.match(text, /TLS Web Client Authentication/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
    // 30 days by default: valid a little short of 30 days from now, not a little past.
    assert.equal((await openssl(['x509', '-in', 'op1.pem', '-noout', '-checkend', String(30 * 86_400 - 600)], tmp.path)).code, 0);
    assert.equal((await openssl(['x509', '-in', 'op1.pem', '-noout', '-checkend', String(30 * 86_400 + 600)], tmp.path)).code, 1);
    // The key is the request's, not the birth certificate's.
    const fromCert = createPublicKey(await readFile(at('op1.pem'))).export({ type: 'spki', format: 'der' });
    const fromKey = createPublicKey(await readFile(at('op1.key'))).export({ type: 'spki', format: 'der' });
    assert.deepEqual(fromCert, fromKey);
    assert.equal(await issued(), before + 1);

    // In the certificate index and, as a statement by the node's issuer key, in the device's record.
    const [entry] = await node.store.certificatesOf(ids.SN1 as string);
    const serial = (await openssl(['x509', '-in', 'op1.pem', '-noout', '-serial'], tmp.path)).stdout.trim().replace(/^serial=/, '').toLowerCase();
    const sha256 = (await openssl(['x509', '-in', 'op1.pem', '-noout', '-fingerprint', '-sha256'], tmp.path)).stdout.trim().replace(/^.*=/, '').replaceAll(':', '').toLowerCase();
    assert.equal(entry?.serial, serial);
    assert.equal(entry?.purpose, 'operational');
    assert.equal(entry?.sha256, sha256);
    const stored = await node.store.get(ids.SN1 as string);
    const record = await reviveRecord(stored?.bytes as Uint8Array);
    assert.equal(record.type, 'key');
    const notations = record.type === 'key' ? record.userIds.flatMap((u) => u.signatures.flatMap((s) => s.notations)) : [];
    assert.ok(notations.some((n) => n.name === 'x509-sha256@cm4it.org' && n.value === sha256));
    assert.ok(notations.some((n) => n.name === 'x509-serial@cm4it.org' && n.value === serial));
    // The issuance statement counts toward no role: the verdict is as before.
    const verdict = node.policy.verdict(record);
    assert.ok(verdict.trusted);
    assert.ok(verdict.reasons.some((r) => r.code === 'CERTIFICATE_ISSUANCE'));
    assert.ok(logLines.some((l) => l.msg === 'operational certificate issued' && l.serial === serial));
    // The record's history says where the statement came from.
    const last = (await node.store.history(ids.SN1 as string)).at(-1);
    assert.equal(last?.source, 'est');
    assert.match(last?.origin ?? '', /^est:(::ffff:)?127\.0\.0\.1$/);
  });

  it('simplereenroll: the operational certificate renews itself, with a new key, a one-line body', async () => {
    const body = await request('op1b', `/CN=${urn('SN1')}`, { newkey: ['-newkey', 'ed25519'], oneLine: true });
    const before = await issued();
    const answer = await enrol('simplereenroll', ['--cert', 'op1.pem', '--key', 'op1.key'], body);
    assert.equal(answer.status, 200, answer.body);
    await certificatesOf(answer.body, 'op1b');
    assert.equal((await openssl(['verify', '-CAfile', 'cacerts.pem', 'op1b.pem'], tmp.path)).stdout.trim(), 'op1b.pem: OK');
    assert.match((await openssl(['x509', '-in', 'op1b.pem', '-noout', '-text'], tmp.path)).stdout, /ED25519/);
    assert.equal(await issued(), before + 1);
    assert.equal((await node.store.certificatesOf(ids.SN1 as string)).length, 2);
  });

  it('a P-256 device key authenticates too; extensions the CA does not grant are ignored and reported', async () => {
    const body = await request('op4', `/CN=${urn('SN4')}/O=Acme`, { addext: ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign'] });
    const answer = await enrol('simpleenroll', birth('SN4'), body);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.headers['ics-not-granted'], 'subject O, basicConstraints cA, keyUsage (only digitalSignature is granted)');
    await certificatesOf(answer.body, 'op4');
    const text = (await openssl(['x509', '-in', 'op4.pem', '-noout', '-text'], tmp.path)).stdout;
    assert.doesNotMatch(text, /CA:TRUE|Certificate Sign/);
    assert.doesNotMatch(text, /O ?= ?Acme/);
    assert.ok(logLines.some((l) => l.msg === 'operational certificate issued' && Array.isArray(l.ignored)));
  });

  it('an EST label names a policy domain: the device must be in it; an unknown label is 404', async () => {
    const body = await request('op4l', `/CN=${urn('SN4')}`);
    const answer = await enrol('system/simpleenroll', birth('SN4'), body);
    assert.equal(answer.status, 200, answer.body);
    await refused(enrol('firmware/simpleenroll', birth('SN4'), body), 403, 'POLICY_REJECTED', /not in domain firmware/);
    await refused(enrol('nowhere/simpleenroll', birth('SN4'), body), 404, 'NOT_FOUND', /no EST label "nowhere"/);
  });

  describe('refusals', () => {
    let good = '';
    before(async () => {
      good = await request('good', `/CN=${urn('SN1')}`);
    });

    it('no client certificate: 401', async () => {
      await refused(enrol('simpleenroll', [], good), 401, 'UNAUTHENTICATED', /no TLS client certificate/);
    });

    it('a birth certificate from a CA the policy does not trust: 401', async () => {
      assert.equal((await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'evil.key', '-subj', '/CN=Evil CA', '-days', '30', '-out', 'evil-ca.pem'], tmp.path)).code, 0);
      const csr = await openssl(['req', '-new', '-key', 'SN1.key.pem', '-subj', `/CN=${urn('SN1')}`, '-out', 'evil.csr'], tmp.path);
      assert.equal(csr.code, 0, csr.stderr);
      const signed = await openssl(['x509', '-req', '-in', 'evil.csr', '-CA', 'evil-ca.pem', '-CAkey', 'evil.key', '-set_serial', '4242', '-days', '30', '-out', 'evil.pem'], tmp.path);
      assert.equal(signed.code, 0, signed.stderr);
      await refused(enrol('simpleenroll', ['--cert', 'evil.pem', '--key', 'SN1.key.pem'], good), 401, 'UNAUTHENTICATED', /not a birth CA this node trusts/);
    });

    it('an expired birth certificate: 401', async () => {
      const factory = new CertificateAuthority(at('factory/ca'));
      const authority = await factory.unlock((await readFile(at('factory/keys/issuer.passphrase'), 'utf8')).trim());
      const spki = createPublicKey(await readFile(at('SN1.key.pem'))).export({ type: 'spki', format: 'der' });
      const hourAgo = new Date(Date.now() - 3_600_000);
      const old = await authority.issue({
        subject: [['serialNumber', 'SN1'], ['CN', urn('SN1')]],
        publicKey: new Uint8Array(spki),
        sanUris: [urn('SN1')],
        notBefore: new Date(hourAgo.getTime() - 86_400_000),
        notAfter: hourAgo,
      });
      await writeFile(at('SN1-expired.pem'), old.pem);
      await refused(enrol('simpleenroll', ['--cert', 'SN1-expired.pem', '--key', 'SN1.key.pem'], good), 401, 'UNAUTHENTICATED', /expired on/);
    });

    it('a birth certificate whose key is no record here: 403', async () => {
      const body = await request('sn5', `/CN=${urn('SN5')}`);
      await refused(enrol('simpleenroll', birth('SN5'), body), 403, 'POLICY_REJECTED', /holds no device record .*SN5/);
    });

    it('a stolen device: 403, with the verdict’s reason', async () => {
      const body = await request('sn2', `/CN=${urn('SN2')}`);
      await refused(enrol('simpleenroll', birth('SN2'), body), 403, 'POLICY_REJECTED', /status "stolen"/);
    });

    it('a device nobody countersigned as the enrol section requires: 403', async () => {
      const body = await request('sn3', `/CN=${urn('SN3')}`);
      await refused(enrol('simpleenroll', birth('SN3'), body), 403, 'POLICY_REJECTED', /no valid integrator signature/);
    });

    it('a request whose signature does not verify: 400', async () => {
      const der = await readFile(at('good.der'));
      der[der.length - 3] = (der[der.length - 3] as number) ^ 0x01;
      await writeFile(at('bad-sig.b64'), der.toString('base64'));
      await refused(enrol('simpleenroll', birth('SN1'), '@bad-sig.b64'), 400, 'BAD_REQUEST', /proof of possession/);
    });

    it('a request naming another device: 403', async () => {
      const body = await request('other', `/CN=${urn('SN4')}`);
      await refused(enrol('simpleenroll', birth('SN1'), body), 403, 'POLICY_REJECTED', /names "urn:cm4it:device:acme\.example:cam-3:SN4", not this device/);
      const san = await request('other-san', `/CN=${urn('SN1')}`, { addext: [`subjectAltName=URI:${urn('SN4')}`] });
      await refused(enrol('simpleenroll', birth('SN1'), san), 403, 'POLICY_REJECTED', /subjectAltName names/);
    });

    it('a key type the profile does not allow: 403', async () => {
      const body = await request('rsa', `/CN=${urn('SN1')}`, { newkey: ['-newkey', 'rsa:2048'] });
      await refused(enrol('simpleenroll', birth('SN1'), body), 403, 'POLICY_REJECTED', /key is of a type this node does not certify/);
    });

    it('malformed bodies: not base64 (400), not a request (400), the wrong media type (415)', async () => {
      await writeFile(at('junk.b64'), 'this is not base64!\n');
      await refused(enrol('simpleenroll', birth('SN1'), '@junk.b64'), 400, 'BAD_REQUEST', /not base64/);
      await writeFile(at('hello.b64'), Buffer.from('hello').toString('base64'));
      await refused(enrol('simpleenroll', birth('SN1'), '@hello.b64'), 400, 'BAD_REQUEST', /not a PKCS#10 request/);
      const wrongType = curl(['--cacert', 'system-ca.pem', ...birth('SN1'), '--data-binary', good], `${est}/.well-known/est/simpleenroll`, tmp.path);
      await refused(wrongType, 415, 'UNSUPPORTED_MEDIA_TYPE', /Content-Type/);
    });

    it('an oversized body: 413', async () => {
      await writeFile(at('big.b64'), 'A'.repeat(100_000));
      await refused(enrol('simpleenroll', birth('SN1'), '@big.b64'), 413, 'LIMIT_EXCEEDED', /larger than this server accepts/);
      // Under the body limit but over the request's: the CA's own cap.
      await writeFile(at('large.b64'), 'A'.repeat(24_000));
      await refused(enrol('simpleenroll', birth('SN1'), '@large.b64'), 413, 'LIMIT_EXCEEDED', /larger than 16384 bytes/);
    });

    it('simplereenroll with a birth certificate: 401, and says to use simpleenroll', async () => {
      await refused(enrol('simplereenroll', birth('SN1'), good), 401, 'UNAUTHENTICATED', /use simpleenroll/);
    });

    it('a policy reloaded to approval: manual holds the request: 202 with Retry-After, nothing issued', async () => {
      const file = at('system/policy.yaml');
      const policy = await readFile(file, 'utf8');
      await writeFile(file, policy.replace('enrol:\n', 'enrol:\n  approval: manual\n'));
      await node.reloadPolicy();
      try {
        const before = await issued();
        const answer = await enrol('simpleenroll', birth('SN1'), good);
        assert.equal(answer.status, 202, answer.body);
        assert.equal(answer.headers['retry-after'], '60');
        assert.match(answer.body, new RegExp(`^PENDING: the enrolment of ${urn('SN1')} waits for an operator's approval \\(ics cert approve ${ids.SN1}\\)`));
        assert.equal(await issued(), before, 'nothing issued');
        // The operator sees it in the admin API and approves it there: the next request is issued.
        const bearer = { authorization: `Bearer ${(await readFile(at('system/admin.token'), 'utf8')).trim()}` };
        const pending = (await (await fetch(`${hkp}/ics/v1/admin/enrolments`, { headers: bearer })).json()) as { pending: Array<{ recordId: string; urn: string; requests: number }> };
        assert.deepEqual(
          pending.pending.map((p) => [p.recordId, p.urn]),
          [[ids.SN1, urn('SN1')]],
        );
        const approved = await fetch(`${hkp}/ics/v1/admin/enrolments/${encodeURIComponent(urn('SN1'))}/approval`, { method: 'POST', headers: bearer });
        assert.equal(approved.status, 200, await approved.clone().text());
        assert.equal(((await approved.json()) as { approvedBy: string }).approvedBy, 'local-operator');
        const issuedNow = await enrol('simpleenroll', birth('SN1'), good);
        assert.equal(issuedNow.status, 200, issuedNow.body);
        assert.equal(await issued(), before + 1);
      } finally {
        await writeFile(file, policy);
        await node.reloadPolicy();
      }
    });

    it('refusals are logged and counted in /metrics by outcome code', async () => {
      assert.ok(logLines.some((l) => l.msg === 'EST request refused' && l.code === 'POLICY_REJECTED' && typeof l.reason === 'string'));
      const metrics = await (await fetch(`${hkp}/metrics`)).text();
      assert.match(metrics, /ics_est_requests_total\{operation="simpleenroll",outcome="issued"\} [3-9]/);
      assert.match(metrics, /ics_est_requests_total\{operation="simplereenroll",outcome="issued"\} 1/);
      assert.match(metrics, /ics_est_requests_total\{operation="simpleenroll",outcome="UNAUTHENTICATED"\} [2-9]/);
      assert.match(metrics, /ics_est_requests_total\{operation="simpleenroll",outcome="LIMIT_EXCEEDED"\} 2/);
      // What the caches hold: the store's records (the devices read), the verdicts evaluated; each listener's own.
      const figure = (name: string, cache: string) => Number(new RegExp(`^${name}\\{cache="${cache}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? NaN);
      assert.ok(figure('ics_cache_entries', 'store-records') >= 1, `devices read are in the store cache: ${metrics.split('\n').filter((l) => l.startsWith('ics_cache')).join('; ')}`);
      assert.ok(figure('ics_cache_bytes', 'store-records') > 1000);
      assert.ok(figure('ics_cache_entries', 'verdicts') >= 2);
      for (const cache of ['hkp-records', 'hkp-armored', 'est-records', 'est-armored']) assert.ok(Number.isFinite(figure('ics_cache_entries', cache)), cache);
    });

    it('too many requests from one address: 429 with Retry-After', async () => {
      let answer = await curl(['--cacert', 'system-ca.pem'], `${est}/.well-known/est/cacerts`, tmp.path);
      for (let i = 0; i < 70 && answer.status !== 429; i++) answer = await curl(['--cacert', 'system-ca.pem'], `${est}/.well-known/est/cacerts`, tmp.path);
      assert.equal(answer.status, 429);
      assert.match(answer.body, /^RATE_LIMITED: /);
      assert.ok(Number(answer.headers['retry-after']) > 0);
    });
  });

  // Mocha runs a suite's own tests before its nested suites: these come after the refusals.
  describe('configuration, and the index read offline', () => {
    it('a node with listen.est but no CA or no enrol section refuses to start, saying which; with both it starts', async () => {
      const noEnrol = await openNode(at('factory'), { logger: pino({ level: 'silent' }) });
      try {
        await assert.rejects(startServices(noEnrol, { hkp: 'off', ldap: 'off', p2p: 'off', est: '127.0.0.1:0' }), (error: unknown) => {
          assert.ok(isIcsError(error, 'CONFIG_INVALID'));
          assert.match(error.message, /has no enrol section/);
          assert.doesNotMatch(error.message, /no certificate authority/);
          return true;
        });
      } finally {
        await noEnrol.close();
      }
      // With an enrol section (manual approval included) it starts.
      await appendFile(at('factory/policy.yaml'), '\nenrol:\n  approval: manual\n');
      const manual = await openNode(at('factory'), { logger: pino({ level: 'silent' }) });
      try {
        const started = await startServices(manual, { hkp: 'off', ldap: 'off', p2p: 'off', est: '127.0.0.1:0' });
        assert.match(started.addresses.est ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
        await started.stop();
      } finally {
        await manual.close();
      }
      await initDataDir(at('bare'), { role: 'maintenance' });
      await appendFile(at('bare/config.yaml'), 'listen:\n  est: 127.0.0.1:0\n');
      const bare = await openNode(at('bare'), { logger: pino({ level: 'silent' }) });
      try {
        await assert.rejects(startServices(bare, { hkp: 'off', ldap: 'off', p2p: 'off' }), (error: unknown) => {
          assert.ok(isIcsError(error, 'CONFIG_INVALID'));
          assert.match(error.message, /no certificate authority \(ics ca init\).*no enrol section/);
          return true;
        });
      } finally {
        await bare.close();
      }
    });

    it('ics cert list and show read the certificate index once the node is stopped', async () => {
      stopped = true;
      await services.stop();
      await node.close();
      const ofSn1 = JSON.parse((await ok(['cert', 'list', '--data', 'system', '--record', urn('SN1'), '--json'], tmp.path)).stdout) as Array<{ serial: string; state: string; purpose: string }>;
      // SN1's: its first enrolment, its renewal, and the one issued after its approval (manual approval above).
      assert.equal(ofSn1.length, 3);
      assert.ok(ofSn1.every((c) => c.state === 'valid' && c.purpose === 'operational'));
      const month = JSON.parse((await ok(['cert', 'list', '--data', 'system', '--expiring', '31d', '--json'], tmp.path)).stdout) as unknown[];
      assert.equal(month.length, 5);
      assert.equal((await ok(['cert', 'list', '--data', 'system', '--expiring', '1d'], tmp.path)).stdout, 'no certificates\n');
      const serial = ofSn1[0]?.serial as string;
      const shown = (await ok(['cert', 'show', serial, '--data', 'system'], tmp.path)).stdout;
      assert.match(shown, new RegExp(`^certificate ${serial} \\(operational, valid\\)\n  record: ${ids.SN1}`));
      await writeFile(at('shown.pem'), shown.slice(shown.indexOf('-----BEGIN')));
      assert.equal((await openssl(['verify', '-CAfile', 'cacerts.pem', 'shown.pem'], tmp.path)).code, 0);
      const unknown = await ics(['cert', 'show', '4242', '--data', 'system'], tmp.path);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /NOT_FOUND: no certificate with serial 4242/);
    });
  });
});
