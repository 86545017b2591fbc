// The console's certificate pages in a real browser (chromium), on the system node of
// test/est/world.ts with devices enrolled over EST by curl: the lists (valid, revoked,
// pending approval), a certificate with its PEM, its revocation behind a confirmation (the
// index and the CRL follow), a waiting enrolment approved (the device's next request is
// issued), and what a viewer and another tenant do not get.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { pino } from 'pino';
import { hashPassword } from '../../ics/auth/index.ts';
import { type IcsNode, openNode, type RunningServices, startServices } from '../../ics/node/index.ts';
import { tempDirs } from '../enrol/helpers.ts';
import { curl, enrolWithCurl, openssl } from '../est/helpers.ts';
import { buildWorld, deviceUrn } from '../est/world.ts';
import { ok } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

const CHROMIUM = process.env.ICS_TEST_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'a long console passphrase for the test';

describe('console: certificates in a real browser (chromium)', function () {
  this.timeout(240_000);
  const tmp = tempDirs('ics-console-certs-');
  let node: IcsNode;
  let services: RunningServices;
  let browser: Browser;
  let url = '';
  let est = '';
  const ids: Record<string, string> = {};
  const at = (path: string) => join(tmp.path, path);

  async function logIn(page: Page, user: string): Promise<void> {
    await page.goto(`${url}/console/login`);
    await page.fill('input[name=user]', user);
    await page.fill('input[name=password]', PASSWORD);
    await Promise.all([page.waitForURL(`${url}/console`), page.click('button[type=submit]')]);
  }

  const asUser = async (user: string, task: (page: Page) => Promise<void>) => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await logIn(page, user);
      await task(page);
    } finally {
      await context.close();
    }
  };

  before(async function () {
    requireTool(CHROMIUM, 'chromium');
    await tmp.make();
    Object.assign(ids, (await buildWorld(tmp.path)).ids);
    await ok(['key', 'pkcs8', '--key', 'SN1.secret.asc', '--out', 'SN1.key.pem'], tmp.path);
    const passwordHash = await hashPassword(PASSWORD);
    const users = [
      { name: 'otto', passwordHash, write: true, role: 'operator' },
      { name: 'vera', passwordHash, write: false, role: 'viewer' },
      { name: 'tina', passwordHash, write: true, role: 'operator', domains: ['another-tenant'] },
    ];
    await writeFile(at('system/config.yaml'), `${await readFile(at('system/config.yaml'), 'utf8')}hkp:\n  allowInsecureAuth: true\nauth:\n  users: ${JSON.stringify(users)}\n`);
    node = await openNode(at('system'), { testKeys: 'refuse', logger: pino({ level: 'silent' }) });
    services = await startServices(node, { hkp: '127.0.0.1:0', ldap: 'off', p2p: 'off', est: '127.0.0.1:0' });
    url = services.addresses.hkp ?? '';
    est = services.addresses.est ?? '';
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await services?.stop();
    await node?.close();
    await tmp.clean();
  });

  const enrol = (serial: string, name: string) =>
    enrolWithCurl({ est, dir: tmp.path, caFile: 'system-ca.pem', urn: deviceUrn(serial), birthCert: `${serial}.pem`, birthKey: `${serial}.key.pem`, name });

  it('lists a valid certificate, shows it with its PEM, and revokes it behind a confirmation; the CRL lists it', async () => {
    const serial = await enrol('SN4', 'sn4-console');
    await asUser('otto', async (page) => {
      await Promise.all([page.waitForURL(/\/console\/certificates$/), page.click('a[href="/console/certificates"]')]);
      assert.match((await page.textContent('main')) ?? '', new RegExp(serial));
      await Promise.all([page.waitForURL(`${url}/console/certificates/${serial}`), page.click(`a[href="/console/certificates/${serial}"]`)]);
      assert.equal(await page.textContent('#state'), 'valid');
      await writeFile(at('console-shown.pem'), (await page.textContent('pre')) ?? '');
      assert.equal((await openssl(['x509', '-in', 'console-shown.pem', '-noout', '-serial'], tmp.path)).stdout.trim().toLowerCase(), `serial=${serial}`);

      await page.selectOption('select[name=reason]', 'keyCompromise');
      await Promise.all([page.waitForURL(/\/revoke\?reason=keyCompromise$/), page.click('button.danger')]);
      assert.match((await page.textContent('h1')) ?? '', new RegExp(`Revoke certificate ${serial}\\?`));
      assert.equal((await node.store.getCertificate(serial))?.revoked, undefined, 'nothing happens before the confirmation');
      await Promise.all([page.waitForURL(`${url}/console/certificates/${serial}`), page.click('button.danger')]);
      assert.equal(await page.textContent('#state'), 'revoked');
      assert.equal((await node.store.getCertificate(serial))?.revoked?.reason, 'keyCompromise');

      await page.goto(`${url}/console/certificates?filter=revoked`);
      assert.match((await page.textContent('main table')) ?? '', new RegExp(`${serial}[\\s\\S]*keyCompromise`));
      await page.goto(`${url}/console/records/${ids.SN4}`);
      assert.match((await page.textContent('main')) ?? '', new RegExp(`Certificates[\\s\\S]*${serial}[\\s\\S]*revoked`), 'the record page lists its certificates');
    });
    for (const started = Date.now(); ; ) {
      const response = await fetch(`${url}/pki/crl`);
      await writeFile(at('console-crl.der'), new Uint8Array(await response.arrayBuffer()));
      const text = (await openssl(['crl', '-inform', 'DER', '-in', 'console-crl.der', '-noout', '-text'], tmp.path)).stdout.toLowerCase();
      if (text.includes(`serial number: ${serial}`)) break;
      assert.ok(Date.now() - started < 20_000, 'the CRL lists the certificate revoked in the console');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  it('a waiting enrolment is approved in the console; the device’s next request is issued', async () => {
    const file = at('system/policy.yaml');
    const policy = await readFile(file, 'utf8');
    await writeFile(file, policy.replace('enrol:\n', 'enrol:\n  approval: manual\n'));
    await node.reloadPolicy();
    try {
      const request = ['--cacert', 'system-ca.pem', '--cert', 'SN1.pem', '--key', 'SN1.key.pem', '-H', 'Content-Type: application/pkcs10', '--data-binary', '@sn1-wait.b64'];
      await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'sn1-wait.key', '-subj', `/CN=${deviceUrn('SN1')}`, '-outform', 'DER', '-out', 'sn1-wait.der'], tmp.path);
      await openssl(['base64', '-in', 'sn1-wait.der', '-out', 'sn1-wait.b64'], tmp.path);
      const held = await curl(request, `${est}/.well-known/est/simpleenroll`, tmp.path);
      assert.equal(held.status, 202, held.body);

      await asUser('vera', async (page) => {
        await page.goto(`${url}/console/certificates?filter=pending`);
        assert.match((await page.textContent('main table')) ?? '', new RegExp(deviceUrn('SN1')));
        assert.equal(await page.locator('text=Approve').count(), 0, 'a viewer gets no approve action');
      });
      await asUser('otto', async (page) => {
        await page.goto(`${url}/console/certificates?filter=pending`);
        await Promise.all([page.waitForURL(`${url}/console/enrolments/${ids.SN1}/approve`), page.click('text=Approve')]);
        assert.match((await page.textContent('h1')) ?? '', /Approve the enrolment of/);
        await Promise.all([page.waitForURL(/\/console\/certificates\?filter=pending$/), page.click('button.danger')]);
        assert.match((await page.textContent('main')) ?? '', /No enrolment waits for approval/);
      });
      const issued = await curl(request, `${est}/.well-known/est/simpleenroll`, tmp.path);
      assert.equal(issued.status, 200, issued.body);
    } finally {
      await writeFile(file, policy);
      await node.reloadPolicy();
    }
  });

  it('a viewer gets no revoke form; another tenant sees no certificate and a 404 for one', async () => {
    const serial = await enrol('SN4', 'sn4-viewer');
    await asUser('vera', async (page) => {
      await page.goto(`${url}/console/certificates/${serial}`);
      assert.equal(await page.textContent('#state'), 'valid');
      assert.equal(await page.locator('select[name=reason]').count(), 0);
      const direct = await page.goto(`${url}/console/certificates/${serial}/revoke?reason=keyCompromise`);
      assert.equal(direct?.status(), 403);
    });
    await asUser('tina', async (page) => {
      await page.goto(`${url}/console/certificates?filter=all`);
      assert.match((await page.textContent('main')) ?? '', /No certificates/);
      const other = await page.goto(`${url}/console/certificates/${serial}`);
      assert.equal(other?.status(), 404);
    });
    assert.equal((await node.store.getCertificate(serial))?.revoked, undefined);
  });
});
