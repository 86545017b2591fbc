// EST with the node's CA key in a PKCS#11 token (SoftHSM 2): the node is configured with the
// token's module and PIN source only, a device enrols with curl and openssl verifies what the
// token signed; the CA directory holds a reference, never a key; while the token is away an
// enrolment answers 503 (logged, counted), and the next one after it is back succeeds without
// a restart.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { CertificateAuthority, parsePkcs11Uri } from '../../ics/enrol/index.ts';
import { type IcsNode, openNode, type RunningServices, startServices } from '../../ics/node/index.ts';
import { softHsmToken, tempDirs } from '../enrol/helpers.ts';
import { curl, openssl } from './helpers.ts';
import { buildWorld, deviceUrn } from './world.ts';

const PIN_ENV = 'ICS_TEST_EST_PKCS11_PIN';
const PIN = '161803';

describe('est: the CA key in a PKCS#11 token', function () {
  this.timeout(240_000);
  const tmp = tempDirs('ics-est-pkcs11-');
  const at = (path: string) => join(tmp.path, path);
  let token: Awaited<ReturnType<typeof softHsmToken>> | undefined;
  let node: IcsNode | undefined;
  let services: RunningServices | undefined;
  let est = '';
  let hkp = '';

  before(async () => {
    await tmp.make();
    token = await softHsmToken('acme-system', PIN);
    process.env[PIN_ENV] = PIN;
    const settings = { module: token.module, pinEnv: PIN_ENV };
    await buildWorld(tmp.path, { systemToken: { reference: parsePkcs11Uri('pkcs11:token=acme-system;object=issuing-ca'), settings } });
    await appendFile(at('system/config.yaml'), `hkp:\n  metrics: public\npkcs11:\n  module: ${token.module}\n  pinEnv: ${PIN_ENV}\n`);
    node = await openNode(at('system'), { testKeys: 'refuse', logger: pino({ level: 'silent' }) });
    services = await startServices(node, { hkp: '127.0.0.1:0', ldap: 'off', p2p: 'off', est: '127.0.0.1:0' });
    est = services.addresses.est ?? '';
    hkp = services.addresses.hkp ?? '';
  });

  after(async () => {
    await services?.stop();
    await node?.close();
        delete process.env[PIN_ENV];
    await tmp.clean();
  });

  async function enrol(serial: string, name: string): Promise<{ status: number; body: string }> {
    const made = await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${deviceUrn(serial)}`, '-outform', 'DER', '-out', `${name}.der`], tmp.path);
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await openssl(['base64', '-in', `${name}.der`, '-out', `${name}.b64`], tmp.path)).code, 0);
    const answer = await curl(
      ['--cacert', 'system-ca.pem', '--cert', `${serial}.pem`, '--key', `${serial}.key.pem`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${name}.b64`],
      `${est}/.well-known/est/simpleenroll`,
      tmp.path,
    );
    return { status: answer.status, body: answer.body };
  }

  async function verified(body: string, name: string): Promise<void> {
    await writeFile(at(`${name}.p7.b64`), body);
    assert.equal((await openssl(['base64', '-d', '-in', `${name}.p7.b64`, '-out', `${name}.p7`], tmp.path)).code, 0);
    assert.equal((await openssl(['pkcs7', '-inform', 'DER', '-in', `${name}.p7`, '-print_certs', '-out', `${name}.pem`], tmp.path)).code, 0);
    const check = await openssl(['verify', '-CAfile', 'system-ca.pem', `${name}.pem`], tmp.path);
    assert.equal(check.stdout.trim(), `${name}.pem: OK`, check.stderr);
  }

  it('enrols a device with a certificate the token signed; the CA directory keeps only a reference', async () => {
    const answer = await enrol('SN4', 'op1');
    assert.equal(answer.status, 200, answer.body);
    await verified(answer.body, 'op1');
    assert.equal(existsSync(at('system/ca/ca.key.pem')), false);
    assert.match(readFileSync(at('system/ca/ca.key.uri'), 'utf8'), /^pkcs11:token=acme-system;object=issuing-ca;type=private\n$/);
    const info = await new CertificateAuthority(at('system/ca')).show();
    assert.equal(info.keyLocation, 'PKCS#11 token "acme-system", object "issuing-ca"');
  });

  it('while the token is away an enrolment answers 503 and is counted; the next one after it is back is signed, without a restart', async () => {
    const away = `${token?.tokens}-away`;
    await rename(token?.tokens as string, away);
    let refused;
    try {
      refused = await enrol('SN4', 'op2');
    } finally {
      await rename(away, token?.tokens as string);
    }
    assert.equal(refused.status, 503, refused.body);
    assert.match(refused.body, /^UNAVAILABLE: /);
    const metrics = await (await fetch(`${hkp}/metrics`)).text();
    assert.match(metrics, /ics_est_requests_total\{[^}]*(code|outcome)="UNAVAILABLE"[^}]*\} [1-9]/);
    const again = await enrol('SN4', 'op3');
    assert.equal(again.status, 200, again.body);
    await verified(again.body, 'op3');
    assert.equal((await readFile(at('op3.pem'), 'utf8')).includes('BEGIN CERTIFICATE'), true);
  });
});
