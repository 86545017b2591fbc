// The web console in a real browser: Debian's chromium driven by playwright-core (no browser
// download), against `ics serve` on loopback. Log in, search, open a record, mark it stolen and
// see the verdict turn, log out; a record of another tenant is a 404; a form without the
// session's CSRF token is refused; a user ID holding <script> is shown as text.
// ICS_CONSOLE_SCREENSHOTS=DIR also saves the main pages as PNG (docs/ holds them).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { armor, generateIdentity } from '../../ics/record/index.ts';
import { ok, serve, type ServingNode } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

const CHROMIUM = process.env.ICS_TEST_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple';
const SCREENSHOTS = process.env.ICS_CONSOLE_SCREENSHOTS;
const DEVICE = 'urn:cm4it:device:acme.example:cam-1:SN7';
const HOSTILE = 'urn:cm4it:device:acme.example:<script>alert(1)</script>';

describe('console: the web console in a real browser (chromium)', function () {
  this.timeout(180_000);
  let work: string;
  let node: ServingNode;
  let url: string;
  let browser: Browser;
  let deviceId: string;
  const dialogs: string[] = [];

  async function logIn(page: Page, user: string): Promise<void> {
    await page.goto(`${url}/console`);
    assert.match(page.url(), /\/console\/login$/, 'a visitor is sent to the login page');
    await page.fill('input[name=user]', user);
    await page.fill('input[name=password]', PASSWORD);
    await Promise.all([page.waitForURL(`${url}/console`), page.click('button[type=submit]')]);
  }

  /** A fresh browser context and page; any dialog (alert) a page opens is recorded, never left open. */
  async function watchedPage() {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    return { context, page };
  }

  const shot = async (page: Page, name: string) => {
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `console-${name}.png`), fullPage: true });
  };

  before(async function () {
    requireTool(CHROMIUM, 'chromium');
    work = await mkdtemp(join(tmpdir(), 'ics-console-'));
    await ok(['init', '--data', 'node', '--role', 'manufacturer', '--name', 'acme-maker'], work);
    await writeFile(join(work, 'password'), PASSWORD);
    await ok(['user', 'add', '--data', 'node', '--name', 'otto', '--password-file', 'password', '--write'], work);
    await ok(['user', 'add', '--data', 'node', '--name', 'tina', '--password-file', 'password', '--write', '--domain', 'other-tenant'], work);
    await ok(['user', 'add', '--data', 'node', '--name', 'ada', '--password-file', 'password', '--role', 'admin'], work);
    const registered = JSON.parse((await ok(['device', 'register', '--data', 'node', '--urn', DEVICE, '--key-out', 'dev.secret.asc', '--meta', 'model=cam-1', '--json'], work)).stdout) as { id: string };
    deviceId = registered.id;
    const hostile = await generateIdentity({ userId: HOSTILE });
    await writeFile(join(work, 'hostile.asc'), armor('publicKey', hostile.record.bytes));
    await ok(['device', 'register', '--data', 'node', '--urn', HOSTILE, '--public-key', 'hostile.asc'], work);
    const config = await readFile(join(work, 'node/config.yaml'), 'utf8');
    await writeFile(join(work, 'node/config.yaml'), `${config}hkp:\n  allowInsecureAuth: true\n`);
    node = await serve('node', work);
    url = node.addresses.hkp as string;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await node?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('log in, search, open a record, mark it stolen, see the verdict turn, log out', async () => {
    const { context, page } = await watchedPage();
    try {
      await logIn(page, 'otto');
      assert.match(await page.textContent('h1') ?? '', /Overview/);
      assert.match(await page.textContent('main') ?? '', /devices\s*2/);
      await shot(page, 'overview');
      const cookies = await context.cookies();
      const session = cookies.find((c) => c.name === 'ics_console');
      assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
      assert.equal(session?.sameSite, 'Strict');

      await page.click('a[href="/console/search"]');
      await page.fill('input[name=q]', 'cam-1');
      await Promise.all([page.waitForURL(/\/console\/search\?q=cam-1/), page.click('form.search button')]);
      assert.match(await page.textContent('table.results') ?? '', new RegExp(DEVICE.replace(/[.:]/g, '\\$&')));
      await shot(page, 'search');

      await Promise.all([page.waitForURL(`${url}/console/records/${deviceId}`), page.click(`a[href="/console/records/${deviceId}"]`)]);
      assert.equal(await page.textContent('#verdict'), 'trusted');
      assert.equal(await page.textContent('#status'), 'in-use');
      await shot(page, 'record');

      await Promise.all([page.waitForURL(/\/status\?value=stolen$/), page.click('text=Mark stolen')]);
      assert.match(await page.textContent('h1') ?? '', /Mark stolen\?/);
      await Promise.all([page.waitForURL(`${url}/console/records/${deviceId}`), page.click('button.danger')]);
      assert.equal(await page.textContent('#verdict'), 'not trusted');
      assert.equal(await page.textContent('#status'), 'stolen');
      assert.match(await page.textContent('ol.timeline') ?? '', /via admin by otto@/);
      // The gateway's question agrees.
      const verdict = (await (await fetch(`${url}/ics/v1/verify/${deviceId}`)).json()) as { trusted: boolean };
      assert.equal(verdict.trusted, false);

      await Promise.all([page.waitForURL(`${url}/console/login`), page.click('form.logout button')]);
      await page.goto(`${url}/console/records/${deviceId}`);
      assert.match(page.url(), /\/console\/login$/, 'after logout the session is gone');
    } finally {
      await context.close();
    }
  });

  it('a form without the session’s CSRF token is refused, and changes nothing', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await logIn(page, 'otto');
      const cookie = (await context.cookies()).find((c) => c.name === 'ics_console');
      const before = (await (await fetch(`${url}/ics/v1/verify/${deviceId}`)).json()) as { status: string };
      for (const csrf of ['', 'forged-token-forged-token-forged-token-forged']) {
        const response = await fetch(`${url}/console/records/${deviceId}/status`, {
          method: 'POST',
          headers: { cookie: `ics_console=${cookie?.value}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ value: 'in-use', ...(csrf && { csrf }) }).toString(),
          redirect: 'manual',
        });
        assert.equal(response.status, 403);
        assert.match(await response.text(), /CSRF/);
      }
      const after = (await (await fetch(`${url}/ics/v1/verify/${deviceId}`)).json()) as { status: string };
      assert.equal(after.status, before.status);
    } finally {
      await context.close();
    }
  });

  it("a record of another tenant answers 404, as if absent; a wrong password is refused", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${url}/console/login`);
      await page.fill('input[name=user]', 'tina');
      await page.fill('input[name=password]', 'wrong password, wrong');
      await page.click('button[type=submit]');
      assert.match(await page.textContent('.error') ?? '', /Wrong user name or password/);
      await logIn(page, 'tina');
      const response = await page.goto(`${url}/console/records/${deviceId}`);
      assert.equal(response?.status(), 404);
      assert.match(await page.textContent('h1') ?? '', /Not found/);
      const direct = await page.goto(`${url}/console/records/${deviceId}/status?value=stolen`);
      assert.equal(direct?.status(), 404);
    } finally {
      await context.close();
    }
  });

  it('a user ID holding <script> is shown as text, never run; the page allows no script', async () => {
    const { context, page } = await watchedPage();
    try {
      await logIn(page, 'otto');
      const response = await page.goto(`${url}/console/search?q=script`);
      assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'none'/);
      const html = await page.content();
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'escaped in the page source');
      assert.match(await page.textContent('table.results') ?? '', /<script>alert\(1\)<\/script>/, 'shown as text');
      assert.deepEqual(dialogs, [], 'no script ran');
    } finally {
      await context.close();
    }
  });

  it('the policy page: rendered with its file; an admin reloads it and sees every error of a file that does not load', async () => {
    const file = join(work, 'node/policy.yaml');
    const good = await readFile(file, 'utf8');
    const { context, page } = await watchedPage();
    try {
      await logIn(page, 'otto');
      await page.click('a[href="/console/policy"]');
      assert.match((await page.textContent('main table')) ?? '', /devices/);
      assert.equal(await page.locator('form[action="/console/policy/reload"]').count(), 0, 'an operator does not reload');
      const refused = await fetch(`${url}/console/policy/reload`, { method: 'POST', redirect: 'manual' });
      assert.equal(refused.status, 303, 'no session: to the login page');
      await context.clearCookies();
      await logIn(page, 'ada');
      await page.goto(`${url}/console/policy`);
      assert.equal(await page.textContent('#policy-text'), good);

      await writeFile(file, good.replace(/^domains:/m, 'domains:\n  - name: Not A Name\n    colour: red'));
      await Promise.all([page.waitForURL(`${url}/console/policy/reload`), page.click('form[action="/console/policy/reload"] button')]);
      const errors = (await page.textContent('#errors')) ?? '';
      assert.match(errors, /not loaded: the policy in force stays/);
      assert.match(errors, /policy\.yaml:\d+/, 'errors name the line');
      assert.ok((await page.locator('#errors li').count()) >= 2, `every error is listed: ${errors}`);
      const verdict = (await (await fetch(`${url}/ics/v1/verify/${deviceId}`)).json()) as { status: string };
      assert.ok(verdict.status, 'the node keeps answering with the policy in force');

      await writeFile(file, good);
      await page.goto(`${url}/console/policy`);
      await Promise.all([page.waitForURL(/\/console\/policy\?reloaded=1$/), page.click('form[action="/console/policy/reload"] button')]);
      assert.match((await page.textContent('#reloaded')) ?? '', /Reloaded/);
    } finally {
      await writeFile(file, good);
      await context.close();
    }
  });

  it('the overview charts this hour per minute (SVG, no script); the live feed reloads itself and lists the changes', async () => {
    const { context, page } = await watchedPage();
    try {
      await logIn(page, 'otto');
      assert.equal(await page.locator('figure.chart svg').count(), 2);
      const titles = await page.locator('figure.chart svg rect title').allTextContents();
      const requests = titles.map((t) => Number(/: (\d+)$/.exec(t)?.[1] ?? 'NaN'));
      assert.ok(requests.length >= 2 && requests.every(Number.isFinite), titles.join(' | '));
      assert.ok(requests.some((n) => n > 0), `this test's own requests are counted: ${titles.join(' | ')}`);
      await page.click('a[href="/console/changes"]');
      assert.equal(await page.locator('meta[http-equiv="refresh"]').getAttribute('content'), '10');
      assert.match((await page.textContent('#changes')) ?? '', /insert via cli/);
    } finally {
      await context.close();
    }
  });

  it('withdraws the node’s certifications behind a confirmation: the verdict turns', async () => {
    const { context, page } = await watchedPage();
    try {
      await logIn(page, 'otto');
      await page.goto(`${url}/console/records/${encodeURIComponent(HOSTILE)}`);
      assert.equal(await page.textContent('#verdict'), 'trusted');
      await page.click('text=Withdraw this node');
      assert.match((await page.textContent('h1')) ?? '', /Withdraw this node's certifications/);
      await Promise.all([page.waitForURL(/\/console\/records\/[0-9a-f]{40}$/), page.click('button.danger')]);
      assert.equal(await page.textContent('#verdict'), 'not trusted');
      assert.match((await page.textContent('ol.timeline')) ?? '', /via admin by otto@[^—]*— updated: withdrawal by acme-maker/);
    } finally {
      await context.close();
    }
  });

  it('serves its stylesheet locally (no CDN) and answers a visitor without a session with the login page', async () => {
    const css = await fetch(`${url}/console/assets/console.css`);
    assert.equal(css.status, 200);
    const login = await fetch(`${url}/console`, { redirect: 'manual' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/console/login');
    const page = await (await fetch(`${url}/console/login`)).text();
    assert.doesNotMatch(page, /https?:\/\//, 'no external reference in the page');
    assert.ok(existsSync(CHROMIUM));
  });
});
