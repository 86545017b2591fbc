// Revocation that follows the verdict, end to end on the system node of world.ts: devices
// enrol over EST with curl; then a status or a countersignature changes in the store, the
// node revokes their certificates with the reason the cause maps to, and its CRL, fetched
// from /pki/crl, says so to openssl (`openssl crl`, `openssl verify -crl_check`). A revoked
// certificate stays revoked when the device is trusted again; the device enrols anew.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseDocument } from 'yaml';
import { hashPassword } from '../../ics/auth/index.ts';
import { type IcsNode, openNode, type RunningServices, startServices } from '../../ics/node/index.ts';
import { certify, type KeyRecord, reviveRecord, revokeCertification } from '../../ics/record/index.ts';
import type { CertificateEntry } from '../../ics/store/index.ts';
import { ics, ok } from '../helpers/cli.ts';
import { tempDirs } from '../enrol/helpers.ts';
import { curl, enrolWithCurl, openssl } from './helpers.ts';
import { buildWorld, deviceUrn } from './world.ts';

const OPERATOR_PASSWORD = 'a long operator passphrase for the test';

describe('est: revocation follows the verdict (CRL at /pki/crl, OCSP at /pki/ocsp)', function () {
  this.timeout(240_000);
  const tmp = tempDirs('ics-revocation-');
  let node: IcsNode;
  let services: RunningServices;
  let est = '';
  let hkp = '';
  const ids: Record<string, string> = {};
  const at = (path: string) => join(tmp.path, path);

  /** Enrols `serial` with its birth certificate (curl, openssl); returns the new certificate's serial (lower-case hex). */
  const enrol = (serial: string, name: string) =>
    enrolWithCurl({ est, dir: tmp.path, caFile: 'system-ca.pem', urn: deviceUrn(serial), birthCert: `${serial}.pem`, birthKey: `${serial}.key.pem`, name });

  /** Waits until the index says the certificate is revoked. */
  async function revoked(serial: string): Promise<CertificateEntry> {
    for (const started = Date.now(); ; ) {
      const entry = await node.store.getCertificate(serial);
      if (entry?.revoked) return entry;
      assert.ok(Date.now() - started < 20_000, `certificate ${serial} not revoked within 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The CRL served now, saved as crl.der and crl.pem; its text as openssl prints it. */
  async function crlText(): Promise<string> {
    const response = await fetch(`${hkp}/pki/crl`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/pkix-crl');
    await writeFile(at('crl.der'), new Uint8Array(await response.arrayBuffer()));
    const converted = await openssl(['crl', '-inform', 'DER', '-in', 'crl.der', '-out', 'crl.pem'], tmp.path);
    assert.equal(converted.code, 0, converted.stderr);
    const checked = await openssl(['crl', '-in', 'crl.pem', '-CAfile', 'system-ca.pem', '-noout', '-text'], tmp.path);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stderr + checked.stdout, /verify OK/, 'the CRL is signed by the issuing CA');
    return checked.stdout;
  }

  /** Waits until the served CRL lists `serial`; returns its text. */
  async function listed(serial: string): Promise<string> {
    for (const started = Date.now(); ; ) {
      const text = await crlText();
      if (text.toLowerCase().includes(`serial number: ${serial}`)) return text;
      assert.ok(Date.now() - started < 20_000, `the CRL does not list ${serial} within 20 s:\n${text}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const verifyWithCrl = (name: string) => openssl(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'system-ca.pem', `${name}.pem`], tmp.path);

  async function record(serial: string): Promise<KeyRecord> {
    const stored = await node.store.get(ids[serial] as string);
    assert.ok(stored);
    return (await reviveRecord(stored.bytes)) as KeyRecord;
  }

  const submit = async (signed: KeyRecord) => {
    const outcome = await node.ingest.submit(signed.bytes, { source: 'cli' });
    assert.notEqual(outcome.action, 'rejected');
  };

  before(async () => {
    await tmp.make();
    Object.assign(ids, (await buildWorld(tmp.path)).ids);
    await ok(['key', 'pkcs8', '--key', 'SN1.secret.asc', '--out', 'SN1.key.pem'], tmp.path);
    // An operator, to read the records' history (a new node's domains are read by authenticated users only).
    const passwordHash = await hashPassword(OPERATOR_PASSWORD);
    const users = [
      { name: 'operator', passwordHash, write: false },
      { name: 'ops', passwordHash, write: true, role: 'operator' },
      { name: 'elsewhere', passwordHash, write: true, role: 'operator', domains: ['another-tenant'] },
    ];
    await writeFile(at('system/config.yaml'), `${await readFile(at('system/config.yaml'), 'utf8')}hkp:\n  metrics: public\n  allowInsecureAuth: true\nauth:\n  users: ${JSON.stringify(users)}\n`);
    node = await openNode(at('system'), { testKeys: 'refuse', logger: pino({ level: 'silent' }) });
    services = await startServices(node, { hkp: '127.0.0.1:0', ldap: 'off', p2p: 'off', est: '127.0.0.1:0' });
    est = services.addresses.est ?? '';
    hkp = services.addresses.hkp ?? '';
  });

  after(async () => {
    await services?.stop();
    await node?.close();
    await tmp.clean();
  });

  it('serves a CRL from the start: signed by the issuing CA, nothing revoked, nextUpdate ahead; also written to ca/crl.pem', async () => {
    const text = await crlText();
    assert.match(text, /No Revoked Certificates/);
    assert.match(text, /X509v3 CRL Number/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    const next = /Next Update: (.+)/.exec(text)?.[1];
    assert.ok(next && Date.parse(next) > Date.now() + 6 * 86_400_000, `nextUpdate a week ahead (the default): ${next}`);
    assert.ok((await stat(at('system/ca/crl.pem'))).size > 0);
  });

  it('a device marked stolen: its certificate is revoked (keyCompromise) and openssl verify -crl_check refuses it', async () => {
    const serial = await enrol('SN4', 'sn4-a');
    await crlText();
    assert.equal((await verifyWithCrl('sn4-a')).code, 0, 'good before');
    const key = await node.issuerKey();
    await submit(await certify(await record('SN4'), key, { role: 'maintainer', status: 'stolen' }, { userId: deviceUrn('SN4') }));
    const entry = await revoked(serial);
    assert.equal(entry.revoked?.reason, 'keyCompromise');
    const text = await listed(serial);
    assert.match(text, /Key Compromise/);
    const refused = await verifyWithCrl('sn4-a');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /certificate revoked/);
    // The revoked certificate no longer renews, and the stolen device cannot enrol again.
    const again = await curl(['--cacert', 'system-ca.pem', '--cert', 'sn4-a.pem', '--key', 'sn4-a.key', '-H', 'Content-Type: application/pkcs10', '--data-binary', '@sn4-a.b64'], `${est}/.well-known/est/simplereenroll`, tmp.path);
    assert.equal(again.status, 401, again.body);
    assert.match(again.body, /revoked \(keyCompromise\)/);
    // The record's history says what the CA did: issued, then revoked with the reason.
    const operator = { authorization: `Basic ${Buffer.from(`operator:${OPERATOR_PASSWORD}`).toString('base64')}` };
    const historyAnswer = await fetch(`${hkp}/ics/v1/records/${ids.SN4}/history`, { headers: operator });
    const history = (await historyAnswer.json()) as { certificates: Array<{ event: string; serial: string; reason: string | null }> };
    assert.equal(historyAnswer.status, 200, JSON.stringify(history));
    assert.deepEqual(
      history.certificates.filter((e) => e.serial === serial).map((e) => [e.event, e.reason]),
      [
        ['issued', null],
        ['revoked', 'keyCompromise'],
      ],
    );
    const metrics = await (await fetch(`${hkp}/metrics`)).text();
    assert.match(metrics, /ics_certificates_revoked_total\{reason="keyCompromise"\} 1/);
  });

  it('trusted again (in-use): the revoked certificate stays revoked; the device enrols for a new one', async () => {
    const before = (await node.store.certificatesOf(ids.SN4 as string)).filter((e) => e.revoked);
    const key = await node.issuerKey();
    await submit(await certify(await record('SN4'), key, { role: 'maintainer', status: 'in-use' }, { userId: deviceUrn('SN4'), created: new Date(Date.now() + 1000) }));
    const serial = await enrol('SN4', 'sn4-b');
    const after = await node.store.certificatesOf(ids.SN4 as string);
    for (const old of before) assert.deepEqual(after.find((e) => e.serial === old.serial)?.revoked, old.revoked, 'no resurrection');
    assert.equal(after.find((e) => e.serial === serial)?.revoked, undefined);
  });

  /** openssl ocsp as a gateway asks (with a nonce unless told otherwise); its output. */
  async function ocsp(name: string, extra: string[] = []): Promise<string> {
    const asked = await openssl(['ocsp', '-issuer', 'system-ca.pem', '-cert', `${name}.pem`, '-url', `${hkp}/pki/ocsp`, '-CAfile', 'system-ca.pem', ...extra], tmp.path);
    return asked.stdout + asked.stderr;
  }

  it('issued certificates name where their status is: the CRL distribution point and the OCSP responder (AIA)', async () => {
    const uri = await openssl(['x509', '-in', 'sn4-b.pem', '-noout', '-ocsp_uri'], tmp.path);
    assert.equal(uri.stdout.trim(), `${hkp}/pki/ocsp`);
    const text = (await openssl(['x509', '-in', 'sn4-b.pem', '-noout', '-text'], tmp.path)).stdout;
    assert.match(text, /X509v3 CRL Distribution Points:\s+Full Name:\s+URI:(\S+)/);
    assert.equal(/X509v3 CRL Distribution Points:\s+Full Name:\s+URI:(\S+)/.exec(text)?.[1], `${hkp}/pki/crl`);
  });

  it('OCSP (openssl ocsp): good for a current certificate, revoked with time and reason for a stolen one; responses verify', async () => {
    const good = await ocsp('sn4-b');
    assert.match(good, /Response verify OK/);
    assert.match(good, /sn4-b\.pem: good/);
    const bad = await ocsp('sn4-a', ['-resp_text']);
    assert.match(bad, /Response verify OK/);
    assert.match(bad, /sn4-a\.pem: revoked/);
    assert.match(bad, /Reason: keyCompromise/);
    assert.match(bad, /OCSP Nonce/, 'the nonce is echoed');
    assert.match(bad, /OCSP No Check/, 'the delegated responder certificate says not to check it');
    const metrics = await (await fetch(`${hkp}/metrics`)).text();
    assert.match(metrics, /ics_ocsp_responses_total\{outcome="revoked"\} [1-9]/);
  });

  it('OCSP without a nonce: one signed answer per certificate and status, the same over POST and GET (RFC 5019), cacheable', async () => {
    const made = await openssl(['ocsp', '-issuer', 'system-ca.pem', '-cert', 'sn4-b.pem', '-no_nonce', '-reqout', 'req.der'], tmp.path);
    assert.equal(made.code, 0, made.stderr);
    const request = await readFile(at('req.der'));
    const post = () => fetch(`${hkp}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: request });
    const first = await post();
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'application/ocsp-response');
    assert.match(first.headers.get('cache-control') ?? '', /max-age=\d+/);
    const bytes = Buffer.from(await first.arrayBuffer());
    assert.deepEqual(Buffer.from(await (await post()).arrayBuffer()), bytes, 'signed once, answered again');
    const get = await fetch(`${hkp}/pki/ocsp/${encodeURIComponent(request.toString('base64'))}`);
    assert.equal(get.status, 200);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), bytes);
    await writeFile(at('resp.der'), bytes);
    const read = await openssl(['ocsp', '-respin', 'resp.der', '-issuer', 'system-ca.pem', '-cert', 'sn4-b.pem', '-CAfile', 'system-ca.pem', '-no_nonce'], tmp.path);
    assert.match(read.stdout + read.stderr, /sn4-b\.pem: good/);
  });

  it('OCSP refusals: malformed and oversized requests are malformedRequest (400), another CA is unauthorized; the responder keeps answering', async () => {
    const malformed = Uint8Array.from([0x30, 0x03, 0x0a, 0x01, 0x01]);
    for (const body of [Buffer.from('not an OCSP request'), Buffer.alloc(8192, 0x30), Buffer.alloc(0)]) {
      const answer = await fetch(`${hkp}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
      assert.equal(answer.status, 400);
      assert.deepEqual(new Uint8Array(await answer.arrayBuffer()), malformed);
    }
    const garbageGet = await fetch(`${hkp}/pki/ocsp/${encodeURIComponent('!!not base64!!')}`);
    assert.equal(garbageGet.status, 400);
    // The device's birth certificate: issued by the manufacturer's CA, not this node's.
    await writeFile(at('factory-issuer.pem'), (await readFile(at('factory-ca.pem'), 'utf8')).split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----\n');
    const other = await openssl(['ocsp', '-issuer', 'factory-issuer.pem', '-cert', 'SN4.pem', '-url', `${hkp}/pki/ocsp`, '-CAfile', 'system-ca.pem'], tmp.path);
    assert.match(other.stdout + other.stderr, /Responder Error: unauthorized \(6\)/);
    assert.match(await ocsp('sn4-b'), /sn4-b\.pem: good/);
  });

  it('ics cert revoke while the node runs: applied within seconds, listed by the CRL; a second revocation keeps the first', async () => {
    const serial = await enrol('SN4', 'sn4-c');
    const first = await ok(['cert', 'revoke', serial.toUpperCase(), '--reason', 'cessationOfOperation', '--data', 'system', '--json'], tmp.path);
    const answer = JSON.parse(first.stdout) as { outcome: string; serial: string; revoked: { reason: string } };
    assert.equal(answer.outcome, 'revoked');
    assert.equal(answer.serial, serial);
    assert.equal(answer.revoked.reason, 'cessationOfOperation');
    assert.equal((await node.store.getCertificate(serial))?.revoked?.reason, 'cessationOfOperation');
    assert.match(await listed(serial), /Cessation Of Operation/);
    const second = JSON.parse((await ok(['cert', 'revoke', serial, '--reason', 'keyCompromise', '--data', 'system', '--json'], tmp.path)).stdout) as typeof answer;
    assert.equal(second.outcome, 'already-revoked');
    assert.equal(second.revoked.reason, 'cessationOfOperation');
  });

  it('the admin API lists the certificates, shows one as PEM and revokes it (the CRL lists it); another tenant sees none', async () => {
    const serial = await enrol('SN4', 'sn4-f');
    const as = (user: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${OPERATOR_PASSWORD}`).toString('base64')}` });
    const get = async (path: string, user: string) => {
      const response = await fetch(`${hkp}${path}`, { headers: as(user) });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    };
    const ofRecord = await get(`/ics/v1/admin/certificates?record=${deviceUrn('SN4')}&filter=valid`, 'operator');
    const mine = ofRecord.json.certificates as Array<{ serial: string; state: string; record: string }>;
    assert.ok(mine?.some((c) => c.serial === serial && c.state === 'valid' && c.record === ids.SN4), JSON.stringify(ofRecord));
    const all = await get('/ics/v1/admin/certificates?limit=1000', 'operator');
    assert.ok((all.json.certificates as Array<{ serial: string }> | undefined)?.some((c) => c.serial === serial), JSON.stringify(all));
    const one = await get(`/ics/v1/admin/certificates/${serial}`, 'operator');
    assert.equal(one.status, 200);
    await writeFile(at('admin-shown.pem'), String(one.json.pem));
    const parsed = await openssl(['x509', '-in', 'admin-shown.pem', '-noout', '-serial'], tmp.path);
    assert.equal(parsed.stdout.trim().toLowerCase(), `serial=${serial}`);

    // Another tenant: no certificates, and this one is 404 as if it did not exist.
    assert.deepEqual((await get('/ics/v1/admin/certificates', 'elsewhere')).json.certificates, []);
    assert.equal((await get(`/ics/v1/admin/certificates/${serial}`, 'elsewhere')).status, 404);
    const post = (path: string, user: string, body: unknown) => fetch(`${hkp}${path}`, { method: 'POST', headers: { ...as(user), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post(`/ics/v1/admin/certificates/${serial}/revocation`, 'elsewhere', { reason: 'superseded' })).status, 404);
    assert.equal((await post(`/ics/v1/admin/certificates/${serial}/revocation`, 'operator', { reason: 'superseded' })).status, 403, 'a viewer does not revoke');
    const badReason = await post(`/ics/v1/admin/certificates/${serial}/revocation`, 'ops', { reason: 'certificateHold' });
    assert.equal(badReason.status, 400);
    assert.equal((await node.store.getCertificate(serial))?.revoked, undefined, 'refusals change nothing');

    const done = await post(`/ics/v1/admin/certificates/${serial}/revocation`, 'ops', { reason: 'superseded' });
    const answer = (await done.json()) as { outcome: string; certificate: { state: string; revoked: { reason: string } } };
    assert.equal(done.status, 200, JSON.stringify(answer));
    assert.equal(answer.outcome, 'revoked');
    assert.equal(answer.certificate.state, 'revoked');
    assert.match(await listed(serial), /Superseded/);
    const again = (await (await post(`/ics/v1/admin/certificates/${serial}/revocation`, 'ops', { reason: 'keyCompromise' })).json()) as typeof answer;
    assert.equal(again.outcome, 'already-revoked');
    assert.equal(again.certificate.revoked.reason, 'superseded', 'the first revocation stands');
    const revokedList = (await get('/ics/v1/admin/certificates?filter=revoked&limit=1000', 'operator')).json.certificates as Array<{ serial: string }>;
    assert.ok(revokedList.some((c) => c.serial === serial));
  });

  it('ics cert revoke refuses an unknown reason and an unknown serial, changing nothing', async () => {
    const badReason = await ics(['cert', 'revoke', 'abcd', '--reason', 'certificateHold', '--data', 'system'], tmp.path);
    assert.notEqual(badReason.code, 0);
    assert.match(badReason.stderr, /unknown revocation reason "certificateHold"/);
    const unknown = await ics(['cert', 'revoke', '0123abcd', '--data', 'system'], tmp.path);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no certificate with serial 0123abcd/);
  });

  it('a countersignature withdrawn: revoked as affiliationChanged', async () => {
    const serial = await enrol('SN1', 'sn1-a');
    await submit(await revokeCertification(await record('SN1'), await node.issuerKey(), { userId: deviceUrn('SN1'), reason: 'no longer in this system' }));
    const entry = await revoked(serial);
    assert.equal(entry.revoked?.reason, 'affiliationChanged');
    assert.match(await listed(serial), /Affiliation Changed/);
  });

  /** Edits the system node's policy file and reloads it, as SIGHUP does. */
  async function editPolicy(edit: (policy: ReturnType<typeof parseDocument>) => void): Promise<void> {
    const policy = parseDocument(await readFile(at('system/policy.yaml'), 'utf8'));
    edit(policy);
    await writeFile(at('system/policy.yaml'), policy.toString());
    await node.reloadPolicy();
  }

  it('revokeOnRenewal: a renewal revokes the previous certificate as superseded (off by default: it stays valid)', async () => {
    const first = await enrol('SN4', 'sn4-d');
    const renew = (name: string) =>
      curl(['--cacert', 'system-ca.pem', '--cert', `${name}.pem`, '--key', `${name}.key`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${name}.b64`], `${est}/.well-known/est/simplereenroll`, tmp.path);
    assert.equal((await renew('sn4-d')).status, 200);
    assert.equal((await node.store.getCertificate(first))?.revoked, undefined, 'by default the previous one stays valid');
    await editPolicy((policy) => policy.setIn(['enrol', 'revocation'], policy.createNode({ revokeOnRenewal: true })));
    assert.equal((await renew('sn4-d')).status, 200);
    assert.equal((await node.store.getCertificate(first))?.revoked?.reason, 'superseded');
    await listed(first);
  });

  it('a policy reload that ends trust (a new required role) revokes every certificate it no longer allows', async () => {
    const serial = await enrol('SN4', 'sn4-e');
    await editPolicy((policy) => policy.setIn(['enrol', 'requireRoles'], policy.createNode(['manufacturer', 'integrator', 'certifier'])));
    const entry = await revoked(serial);
    assert.equal(entry.revoked?.reason, 'affiliationChanged');
  });

});
