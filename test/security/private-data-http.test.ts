// Private means private over HTTP: anonymous callers learn neither the contents, nor the
// number, nor the existence of records in domains they may not read; credentials never
// travel in the clear; a domain may be opened to some users or groups only.
import assert from 'node:assert/strict';
import type { KeyRecord } from '../../ics/record/index.ts';
import { device, policyFixture, testEngine } from '../policy/helpers.ts';
import { basic, startNode, tableAuthenticator, type TestNode } from '../hkp/helpers.ts';


describe('security: private data over HTTP', () => {
  let node: TestNode;
  let site: KeyRecord[];
  const users = {
    alice: { password: 'correct horse', write: false },
    bob: { password: 'battery staple', write: false, groups: ['site-a'] },
    carol: { password: 'tr0ub4dor', write: false, groups: ['site-b'] },
  };
  const as = (name: keyof typeof users) => ({ authorization: basic(name, users[name].password) });

  before(async () => {
    const f = await policyFixture();
    // `system` readable by the group site-a and by alice only; `devices` public; `firmware` a
    // peer's and alice's: alice alone may read every domain.
    const engine = await testEngine(f, (d) => {
      d.system.read = { users: ['alice'], groups: ['site-a'] };
      d.firmware.read = { ...(d.firmware.read as object), users: ['alice'] };
    });
    node = await startNode({ engine, authenticator: tableAuthenticator(users) });
    site = [];
    for (let i = 0; i < 3; i++) {
      const r = await device(`urn:cm4it:service:acme.example:site-a:svc-${i}`, [
        { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
        { issuer: f.integrator, role: 'integrator' },
      ]);
      await node.ingest.submit(r.bytes, { source: 'cli' });
      site.push(r);
    }
    const open = await device('urn:cm4it:device:acme.example:cam:1', [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    await node.ingest.submit(open.bytes, { source: 'cli' });
  });

  after(() => node.close());

  it('op=stats counts only the domains the caller may read', async () => {
    const anonymous = (await (await node.fetch('/pks/lookup?op=stats&options=mr')).json()) as Record<string, unknown>;
    assert.deepEqual(anonymous.domainRecords, { devices: 1 });
    assert.equal(anonymous.records, undefined);
    assert.equal(anonymous.byKind, undefined);
    assert.equal(anonymous.lastSeq, undefined);
    const html = await (await node.fetch('/pks/lookup?op=stats')).text();
    assert.doesNotMatch(html, /service|Changes accepted/);
    const bob = (await (await node.fetch('/pks/lookup?op=stats&options=mr', { headers: as('bob') })).json()) as Record<string, unknown>;
    assert.deepEqual(bob.domainRecords, { devices: 1, system: 3 });
  });

  it('/ics/v1/status gives totals and sync state only to a caller who may read every domain', async () => {
    const body = (await (await node.fetch('/ics/v1/status')).json()) as { store: Record<string, unknown> };
    assert.deepEqual(body.store, { domains: { devices: 1 } });
  });

  it('/metrics needs credentials of a user who may read every domain', async () => {
    const anonymous = await node.fetch('/metrics');
    assert.equal(anonymous.status, 401);
    assert.doesNotMatch(await anonymous.text(), /ics_store_records/);
    // bob reads `system` but not `firmware`: the node-wide counts are not his to see.
    const partial = await node.fetch('/metrics', { headers: as('bob') });
    assert.equal(partial.status, 403);
    assert.doesNotMatch(await partial.text(), /ics_store_records/);
    const user = await node.fetch('/metrics', { headers: as('alice') });
    assert.equal(user.status, 200);
    assert.match(await user.text(), /^ics_store_records\{kind="service"\} 3$/m);
  });

  it('submitting a private record answers as for an unknown key, and changes nothing', async () => {
    const [target] = site as [KeyRecord];
    const seq = (await node.store.stats()).lastSeq;
    const known = await node.fetch('/ics/v1/records', { method: 'POST', headers: { 'content-type': 'application/pgp-keys' }, body: Buffer.from(target.bytes) });
    const f = node.f;
    const unknown = await device('urn:cm4it:service:acme.example:site-a:svc-new', [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    const fresh = await node.fetch('/ics/v1/records', { method: 'POST', headers: { 'content-type': 'application/pgp-keys' }, body: Buffer.from(unknown.bytes) });
    assert.equal(known.status, 403);
    assert.equal(fresh.status, 403);
    const strip = (text: string) => text.replaceAll(target.id, 'ID').replaceAll(unknown.id, 'ID');
    assert.equal(strip(await known.text()), strip(await fresh.text()));
    // The HKP form too.
    const hkp = await node.fetch('/pks/add', {
      method: 'POST',
      headers: { 'content-type': 'application/pgp-keys' },
      body: Buffer.from(target.bytes),
    });
    assert.equal(hkp.status, 403);
    assert.match(await hkp.text(), /^record 1: rejected: POLICY_REJECTED/m);
    assert.equal((await node.store.stats()).lastSeq, seq, 'nothing was written');
    assert.equal(await node.store.get(unknown.id), undefined);
    // A user who may read the domain gets the ordinary answer.
    const bob = await node.fetch('/ics/v1/records', {
      method: 'POST',
      headers: { 'content-type': 'application/pgp-keys', ...as('bob') },
      body: Buffer.from(target.bytes),
    });
    assert.equal(bob.status, 200);
    assert.match(await bob.text(), /unchanged/);
  });

  it('a domain opened to some users and groups is closed to the other users', async () => {
    const id = (site[0] as KeyRecord).id;
    for (const [name, status] of [['alice', 200], ['bob', 200], ['carol', 404]] as const) {
      assert.equal((await node.fetch(`/ics/v1/records/${id}`, { headers: as(name) })).status, status, name);
      assert.equal((await node.fetch(`/pks/lookup?op=get&options=mr&search=0x${id}`, { headers: as(name) })).status, status, name);
    }
  });

  describe('basic auth over plain HTTP', () => {
    let strict: TestNode;
    before(async () => {
      strict = await startNode({ init: { allowInsecureAuth: false }, authenticator: tableAuthenticator(users) });
    });
    after(() => strict.close());

    it('is refused (400) before the credentials are checked', async () => {
      for (const authorization of [basic('alice', 'correct horse'), basic('alice', 'wrong'), 'Basic !!!']) {
        const res = await strict.fetch('/ics/v1/status', { headers: { authorization } });
        assert.equal(res.status, 400, authorization);
        assert.equal(res.headers.get('www-authenticate'), null);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');
      }
      assert.equal((await strict.fetch('/ics/v1/status')).status, 200);
    });
  });
});
