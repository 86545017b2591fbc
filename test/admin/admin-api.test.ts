// The admin API on a running node (`ics serve`, real HTTP on loopback) and the CLI that uses
// it: write commands work while the node serves (they used to be refused: the node holds the
// store), statements are signed by the node, each change is recorded with who made it, and
// users get what their role and tenant allow — no more.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { armor, generateIdentity } from '../../ics/record/index.ts';
import { ics, ok, serve, type ServingNode } from '../helpers/cli.ts';

const PASSWORD = 'correct horse battery staple';

describe('admin API and the CLI against a running node', function () {
  this.timeout(120_000);
  let work: string;
  let node: ServingNode;
  let url: string;
  let deviceId: string;
  let apiToken: string;

  const basic = (name: string) => ({ authorization: `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}` });
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-admin-'));
    await ok(['init', '--data', 'node', '--role', 'manufacturer', '--name', 'acme-maker'], work);
    await writeFile(join(work, 'password'), PASSWORD);
    await ok(['user', 'add', '--data', 'node', '--name', 'vera', '--password-file', 'password'], work);
    await ok(['user', 'add', '--data', 'node', '--name', 'otto', '--password-file', 'password', '--write'], work);
    await ok(['user', 'add', '--data', 'node', '--name', 'tina', '--password-file', 'password', '--write', '--domain', 'other-tenant'], work);
    const made = JSON.parse((await ok(['user', 'token', '--data', 'node', '--name', 'otto', '--label', 'ci-deploy', '--json'], work)).stdout) as { token: string };
    apiToken = made.token;
    assert.match(apiToken, /^ics_[A-Za-z0-9_-]{43}$/);
    assert.doesNotMatch(await readFile(join(work, 'node/config.yaml'), 'utf8'), new RegExp(apiToken.slice(4)), 'only the digest is kept');
    const added = await ok(['user', 'add', '--data', 'node', '--name', 'ada', '--password-file', 'password', '--role', 'admin'], work);
    assert.match(added.stdout, /admin API role admin/);
    // Basic auth over plain HTTP on loopback, for the test only.
    const config = await readFile(join(work, 'node/config.yaml'), 'utf8');
    await writeFile(join(work, 'node/config.yaml'), `${config}hkp:\n  allowInsecureAuth: true\n`);
    node = await serve('node', work);
    url = node.addresses.hkp as string;
  });

  after(async () => {
    await node?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('the node writes the local operator token (0600) for the CLI', async () => {
    assert.equal((await stat(join(work, 'node/admin.token'))).mode & 0o777, 0o600);
  });

  it('ics device register and ics status set work while the node serves; the history names who did it', async () => {
    const registered = JSON.parse(
      (await ok(['device', 'register', '--data', 'node', '--urn', 'urn:cm4it:device:acme.example:cam-9:SN1', '--key-out', 'dev.secret.asc', '--json'], work)).stdout,
    ) as { id: string; action: string; domains: string[] };
    assert.equal(registered.action, 'inserted');
    assert.deepEqual(registered.domains, ['devices']);
    deviceId = registered.id;
    assert.equal((await stat(join(work, 'dev.secret.asc'))).mode & 0o777, 0o600);
    const trusted = await call('GET', `/ics/v1/verify/${deviceId}`);
    assert.equal(trusted.json.trusted, true, JSON.stringify(trusted.json));

    const stolen = JSON.parse((await ok(['status', 'set', '--data', 'node', deviceId, 'stolen', '--json'], work)).stdout) as { action: string; signaturesAdded: number };
    assert.equal(stolen.action, 'updated');
    assert.equal(stolen.signaturesAdded, 1);
    const verdict = await call('GET', `/ics/v1/verify/${deviceId}`);
    assert.equal(verdict.json.trusted, false);

    const history = await call('GET', `/ics/v1/admin/records/${deviceId}/history`, basic('vera'));
    const events = history.json.events as Array<{ source: string; origin?: string }>;
    assert.deepEqual(events.map((e) => e.source), ['admin', 'admin']);
    const last = events[events.length - 1];
    assert.equal(last?.source, 'admin');
    assert.match(last?.origin ?? '', new RegExp(`^local-operator:${userInfo().username}@`));
  });

  it('a countersignature by a key the operator holds (--key) goes through the running node, and is judged as any', async () => {
    await ok(['key', 'generate', '--urn', 'urn:cm4it:org:integrator.example', '--out', 'integrator.secret.asc'], work);
    const missingRole = await ics(['status', 'set', '--data', 'node', deviceId, 'in-use', '--key', 'integrator.secret.asc'], work);
    assert.equal(missingRole.code, 2);
    assert.match(missingRole.stderr, /give --role/);
    const untrusted = JSON.parse((await ok(['certify', '--data', 'node', deviceId, '--role', 'integrator', '--key', 'integrator.secret.asc', '--json'], work)).stdout) as {
      action: string;
      dropped: Array<{ reason: string }>;
    };
    assert.equal(untrusted.action, 'unchanged');
    assert.deepEqual(untrusted.dropped.map((d) => d.reason), ['UNKNOWN_ISSUER']);
  });

  it('users get what their role allows: anonymous 401, viewer reads, operator signs, admin reloads', async () => {
    assert.equal((await call('GET', '/ics/v1/admin/whoami')).status, 401);
    assert.equal((await call('GET', '/ics/v1/admin/whoami', { authorization: 'Bearer not-the-token' })).status, 401);
    const script = await call('GET', '/ics/v1/admin/whoami', { authorization: `Bearer ${apiToken}` });
    assert.deepEqual(script.json, { name: 'otto', role: 'operator', domains: null }, 'an API token acts as its user');
    const vera = await call('GET', '/ics/v1/admin/whoami', basic('vera'));
    assert.deepEqual(vera.json, { name: 'vera', role: 'viewer', domains: null });
    const record = await call('GET', `/ics/v1/admin/records/${deviceId}`, basic('vera'));
    assert.equal(record.status, 200);
    assert.match(String(record.json.armored), /BEGIN PGP PUBLIC KEY BLOCK/);

    const refused = await call('POST', `/ics/v1/admin/records/${deviceId}/statements`, basic('vera'), { status: 'in-use' });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error?.code, 'POLICY_REJECTED');
    assert.match(refused.json.error?.message ?? '', /operator role/);

    const done = await call('POST', `/ics/v1/admin/records/${deviceId}/statements`, basic('otto'), { status: 'in-use', metadata: { ticket: 'ops-17' } });
    assert.equal(done.status, 200, JSON.stringify(done.json));
    assert.equal(done.json.action, 'updated');
    assert.equal((await call('GET', `/ics/v1/verify/${deviceId}`)).json.trusted, true);
    const history = await call('GET', `/ics/v1/admin/records/${deviceId}/history`, basic('vera'));
    const events = history.json.events as Array<{ origin?: string }>;
    assert.match(events[events.length - 1]?.origin ?? '', /^otto@127\.0\.0\.1$/);

    const bad = await call('POST', `/ics/v1/admin/records/${deviceId}/statements`, basic('otto'), { status: 'in-use', colour: 'red' });
    assert.equal(bad.status, 400);

    assert.equal((await call('POST', '/ics/v1/admin/policy/reload', basic('otto'))).status, 403);
    const reloaded = await call('POST', '/ics/v1/admin/policy/reload', basic('ada'));
    assert.equal(reloaded.status, 200);
    assert.deepEqual(reloaded.json.domains, ['devices']);
  });

  it('a backup over the admin API is for an admin of every domain only, and is a gzip tar', async () => {
    assert.equal((await fetch(`${url}/ics/v1/admin/backup`)).status, 401);
    for (const user of ['vera', 'otto']) assert.equal((await call('GET', '/ics/v1/admin/backup', basic(user))).status, 403, user);
    const response = await fetch(`${url}/ics/v1/admin/backup`, { headers: basic('ada') });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/gzip');
    assert.match(response.headers.get('content-disposition') ?? '', /^attachment; filename="ics-backup-\d{8}T\d{6}Z\.tar\.gz"$/);
    const body = Buffer.from(await response.arrayBuffer());
    assert.deepEqual([...body.subarray(0, 2)], [0x1f, 0x8b], 'gzip');
    assert.equal((await call('GET', '/ics/v1/admin/backup?passphrase=sure', basic('ada'))).status, 400);
  });

  it('trust through the admin API: admins only; a key whose secret is published is refused by the reload and undone', async () => {
    const integrator = await generateIdentity({ userId: 'urn:cm4it:org:integrator.example' });
    const publicKey = armor('publicKey', integrator.record.bytes);
    assert.equal((await call('POST', '/ics/v1/admin/trust', basic('otto'), { publicKey, roles: ['integrator'] })).status, 403);
    const added = await call('POST', '/ics/v1/admin/trust', basic('ada'), { publicKey, roles: ['integrator'] });
    assert.equal(added.status, 200, JSON.stringify(added.json));
    assert.equal(added.json.fingerprint, integrator.record.id);
    const listed = (await call('GET', '/ics/v1/admin/trust', basic('vera'))).json.issuers as Array<{ fingerprint: string; roles: string[] }>;
    assert.deepEqual(listed.find((i) => i.fingerprint === integrator.record.id)?.roles, ['integrator'], 'the running node applied it');

    const policyBefore = await readFile(join(work, 'node/policy.yaml'), 'utf8');
    const published = await readFile(resolve('test/policy/fixtures/keys/acme-manufacturer.asc'), 'utf8');
    const refused = await call('POST', '/ics/v1/admin/trust', basic('ada'), { publicKey: published, roles: ['manufacturer'] });
    assert.notEqual(refused.status, 200);
    assert.match(refused.json.error?.message ?? '', /secret key is published|test key/i);
    assert.equal(await readFile(join(work, 'node/policy.yaml'), 'utf8'), policyBefore, 'the policy file is as it was');

    const removed = await call('POST', `/ics/v1/admin/trust/${integrator.record.id}/removal`, basic('ada'));
    assert.equal(removed.status, 200, JSON.stringify(removed.json));
    const after = (await call('GET', '/ics/v1/admin/trust', basic('vera'))).json.issuers as Array<{ fingerprint: string }>;
    assert.ok(!after.some((i) => i.fingerprint === integrator.record.id));
    const self = after[0]?.fingerprint as string;
    assert.equal((await call('POST', `/ics/v1/admin/trust/${self}/removal`, basic('ada'))).status, 400, "the node's own key stays");
  });

  it('describes the JSON and admin APIs in an OpenAPI document made from the route schemas', async () => {
    const response = await fetch(`${url}/ics/v1/openapi.json`);
    assert.equal(response.status, 200);
    const doc = (await response.json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>> };
    assert.match(doc.openapi, /^3\.1/);
    const paths = Object.keys(doc.paths);
    for (const path of ['/ics/v1/records/{id}', '/ics/v1/verify/{id}', '/ics/v1/admin/records/{ref}/statements', '/ics/v1/admin/devices', '/ics/v1/admin/policy/reload']) {
      assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`);
    }
    assert.ok(!paths.some((p) => p.startsWith('/console') || p.startsWith('/pks/') || p === '/metrics'), paths.join(', '));
    const statement = doc.paths['/ics/v1/admin/records/{ref}/statements']?.post?.requestBody?.content['application/json']?.schema.properties ?? {};
    assert.deepEqual(Object.keys(statement).sort(), ['allow', 'deny', 'expiresInSeconds', 'metadata', 'role', 'status', 'userId']);
  });

  it("a record outside the user's tenant is answered as absent (404), and nothing is signed", async () => {
    const before = await call('GET', `/ics/v1/records/${deviceId}/history`);
    const tina = await call('POST', `/ics/v1/admin/records/${deviceId}/statements`, basic('tina'), { status: 'stolen' });
    assert.equal(tina.status, 404);
    assert.equal((await call('GET', `/ics/v1/admin/records/${deviceId}`, basic('tina'))).status, 404);
    const after = await call('GET', `/ics/v1/records/${deviceId}/history`);
    assert.deepEqual(after.json, before.json);
  });

  it('ics peers and ics sync now ask the running node; a node that does not sync says so', async () => {
    const peers = await ics(['peers', '--data', 'node'], work);
    assert.equal(peers.code, 2);
    assert.match(peers.stderr, /NOT_FOUND: this node does not sync/);
    const viewer = await call('POST', '/ics/v1/admin/sync', basic('vera'), {});
    assert.equal(viewer.status, 403);
  });

  it('the token file goes away when the node stops; the CLI then works offline again', async () => {
    await node.stop();
    await assert.rejects(stat(join(work, 'node/admin.token')), { code: 'ENOENT' });
    const peers = await ics(['peers', '--data', 'node'], work);
    assert.equal(peers.code, 2);
    assert.match(peers.stderr, /UNAVAILABLE: no node serves node/);
    const offline = JSON.parse((await ok(['status', 'set', '--data', 'node', deviceId, 'stolen', '--json'], work)).stdout) as { action: string };
    assert.equal(offline.action, 'updated');
  });
});

describe('admin API: sync of a running node', function () {
  this.timeout(60_000);
  let work: string;
  let node: ServingNode;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-admin-sync-'));
    await ok(['init', '--data', 'node', '--role', 'maintenance', '--name', 'acme-maint'], work);
    node = await serve('node', work, ['--p2p', '/ip4/127.0.0.1/tcp/0']);
  });

  after(async () => {
    await node?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('ics peers lists the policy peers (none yet); ics sync now reconciles with every one (none)', async () => {
    const peers = JSON.parse((await ok(['peers', '--data', 'node', '--json'], work)).stdout) as { peers: unknown[] };
    assert.deepEqual(peers.peers, []);
    assert.match((await ok(['peers', '--data', 'node'], work)).stdout, /no sync peers/);
    const report = JSON.parse((await ok(['sync', 'now', '--data', 'node', '--json'], work)).stdout) as { peers: unknown[] };
    assert.deepEqual(report.peers, []);
    const unknown = await ics(['sync', 'now', '--data', 'node', '--peer', '12D3KooWNotAPeerOfThisNodexxxxxxxxxxxxxxxxxxxxxxxxx'], work);
    assert.notEqual(unknown.code, 0);
  });
});

describe('admin API: code on a running developer node', function () {
  this.timeout(60_000);
  let work: string;
  let node: ServingNode;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-admin-code-'));
    await ok(['init', '--data', 'node', '--role', 'developer', '--name', 'acme-firmware'], work);
    node = await serve('node', work);
  });

  after(async () => {
    await node?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('ics code publish and ics code status work while the node serves; the node signs both', async () => {
    const url = node.addresses.hkp as string;
    await writeFile(join(work, 'fw.bin'), 'firmware image 4.0.0');
    const published = JSON.parse((await ok(['code', 'publish', '--data', 'node', '--name', 'acme-cam-fw', '--version', '4.0.0', '--file', 'fw.bin', '--json'], work)).stdout) as { id: string; kind: string; action: string };
    assert.equal(published.kind, 'code');
    assert.equal(published.action, 'inserted');
    assert.equal(((await (await fetch(`${url}/ics/v1/verify/${published.id}`)).json()) as { trusted: boolean }).trusted, true);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // statements are dated to the second
    const deprecated = JSON.parse((await ok(['code', 'status', '--data', 'node', published.id, 'deprecated', '--json'], work)).stdout) as { action: string };
    assert.equal(deprecated.action, 'updated');
    const verdict = (await (await fetch(`${url}/ics/v1/verify/${published.id}`)).json()) as { trusted: boolean; status: string };
    assert.deepEqual([verdict.trusted, verdict.status], [false, 'deprecated']);
    const refused = await ics(['code', 'publish', '--data', 'node', '--name', 'acme-cam-fw', '--version', '4.0.1', '--sha256', 'ab'.repeat(32), '--key', 'x.secret.asc'], work);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /needs the node stopped/);
  });
});
