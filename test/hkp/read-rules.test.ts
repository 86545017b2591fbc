// The policy's read rules over HTTP: anonymous clients see public domains only; a record in
// no domain the caller may read is answered 404 everywhere (HKP and JSON API alike), so that
// private domains do not even reveal which ids they hold.
import assert from 'node:assert/strict';
import type { KeyRecord } from '../../ics/record/index.ts';
import { acmeDeviceId, device, firmware } from '../policy/helpers.ts';
import { basic, startNode, type TestNode, tableAuthenticator } from './helpers.ts';

describe('hkp: read rules', () => {
  let node: TestNode;
  let publicDevice: KeyRecord;
  let siteDevice: KeyRecord;
  let codeId: string;
  const alice = { authorization: basic('alice', 'correct horse') };

  before(async () => {
    node = await startNode({ authenticator: tableAuthenticator({ alice: { password: 'correct horse', write: false } }) });
    const { f } = node;
    publicDevice = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    // In `system` (read: peer A and authenticated clients); a service, so not in `devices`.
    siteDevice = await device(`urn:cm4it:service:acme.example:site-a:broker-${Date.now()}`, [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    // In `firmware` (read: peer B only): no HTTP client may read it.
    const code = await firmware(f, 'acme-cam-fw', { endorsed: true });
    codeId = code.id;
    for (const r of [publicDevice, siteDevice, code]) await node.ingest.submit(r.bytes, { source: 'cli' });
    assert.deepEqual((await node.store.get(siteDevice.id))?.domains, ['system']);
    assert.deepEqual((await node.store.get(codeId))?.domains, ['firmware']);
  });

  after(() => node.close());

  const paths = (id: string, search: string) => [
    `/pks/lookup?op=get&options=mr&search=0x${id}`,
    `/pks/lookup?op=get&options=mr&search=0x${id.slice(-16)}`,
    `/pks/lookup?op=index&options=mr&search=${encodeURIComponent(search)}`,
    `/ics/v1/records/${id}`,
    `/ics/v1/records/${id}/history`,
    `/ics/v1/verify/${id}`,
  ];

  it('anonymous clients read the public domain', async () => {
    for (const path of paths(publicDevice.id, publicDevice.userIds[0]?.userId ?? '')) {
      assert.equal((await node.fetch(path)).status, 200, path);
    }
  });

  it('a record in a private domain is 404 to anonymous clients, on every endpoint', async () => {
    for (const path of paths(siteDevice.id, siteDevice.userIds[0]?.userId ?? '')) {
      const res = await node.fetch(path);
      assert.equal(res.status, 404, path);
    }
    assert.equal((await node.fetch(`/ics/v1/records/${codeId}`)).status, 404);
  });

  it('an authenticated client reads a domain open to authenticated clients', async () => {
    for (const path of paths(siteDevice.id, siteDevice.userIds[0]?.userId ?? '')) {
      assert.equal((await node.fetch(path, { headers: alice })).status, 200, path);
    }
  });

  it('a domain open only to a named peer stays 404 to authenticated HTTP clients', async () => {
    for (const path of [`/ics/v1/records/${codeId}`, `/ics/v1/verify/${codeId}`, `/ics/v1/code/${codeId}`]) {
      assert.equal((await node.fetch(path, { headers: alice })).status, 404, path);
    }
  });

  it('a text search lists only what the caller may read', async () => {
    const anonymous = await (await node.fetch('/pks/lookup?op=index&options=mr&search=acme.example')).text();
    assert.ok(anonymous.includes(publicDevice.id.toUpperCase()));
    assert.ok(!anonymous.includes(siteDevice.id.toUpperCase()));
    const user = await (await node.fetch('/pks/lookup?op=index&options=mr&search=acme.example', { headers: alice })).text();
    assert.ok(user.includes(siteDevice.id.toUpperCase()));
  });

  it('wrong or malformed credentials are 401, not silently anonymous', async () => {
    for (const authorization of [basic('alice', 'wrong'), basic('mallory', 'x'), 'Basic !!!', 'Bearer abc']) {
      const res = await node.fetch(`/ics/v1/verify/${publicDevice.id}`, { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
    }
  });

  it('history shows where changes came from only to authenticated callers', async () => {
    const anonymous = (await (await node.fetch(`/ics/v1/records/${publicDevice.id}/history`)).json()) as { events: Array<{ origin: unknown }> };
    assert.equal(anonymous.events[0]?.origin, null);
    await node.ingest.submit(publicDevice.bytes, { source: 'cli', origin: 'operator' });
    const other = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    await node.ingest.submit(other.bytes, { source: 'cli', origin: 'operator' });
    const user = (await (await node.fetch(`/ics/v1/records/${other.id}/history`, { headers: alice })).json()) as { events: Array<{ origin: unknown }> };
    assert.equal(user.events[0]?.origin, 'operator');
  });
});
