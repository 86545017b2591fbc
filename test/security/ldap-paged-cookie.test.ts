// Paged-results cookies (RFC 2696) carry no record ids and cannot be forged, altered, or
// replayed on another connection, bind, filter or attribute list: each such cookie is
// refused with unwillingToPerform (53) and returns nothing.
import assert from 'node:assert/strict';
import { KEYS, type LdapTestNode, PASSWORDS, startLdap, userDn } from '../ldap/helpers.ts';
import { pagedControl, WireClient } from '../ldap/wire.ts';

const UNWILLING = 53;

describe('security: LDAP paged-results cookies', () => {
  let node: LdapTestNode;
  let client: WireClient;

  before(async () => {
    node = await startLdap();
  });
  after(() => node.stop());
  beforeEach(async () => {
    client = await WireClient.connect(node.port);
  });
  afterEach(() => client.close());

  async function firstCookie(c: WireClient, attributes = ['1.1']): Promise<Buffer> {
    const first = await c.search({ base: KEYS, attributes }, [pagedControl(1, Buffer.alloc(0))]);
    assert.equal(first.done.code, 0);
    assert.ok(first.done.cookie && first.done.cookie.length > 0, 'a second page exists');
    return first.done.cookie;
  }

  it('is opaque: no record id, no JSON', async () => {
    const cookie = await firstCookie(client);
    const text = cookie.toString('latin1');
    assert.doesNotMatch(text, /[0-9a-f]{16}/i);
    assert.doesNotMatch(text, /"after"|"s"/);
    // Still works on its own connection and search.
    const next = await client.search({ base: KEYS, attributes: ['1.1'] }, [pagedControl(1, cookie)]);
    assert.equal(next.done.code, 0);
    assert.equal(next.entries.length, 1);
  });

  it('refuses an altered cookie', async () => {
    const cookie = await firstCookie(client);
    for (const at of [0, 5, cookie.length - 1, Math.floor(cookie.length / 2)]) {
      const altered = Buffer.from(cookie);
      altered[at] = (altered[at] ?? 0) ^ 1;
      const res = await client.search({ base: KEYS, attributes: ['1.1'] }, [pagedControl(1, altered)]);
      assert.equal(res.done.code, UNWILLING, `byte ${at}`);
      assert.equal(res.entries.length, 0);
    }
  });

  it('refuses a forged cookie in the old plain format', async () => {
    const forged = Buffer.concat([Buffer.of(1), Buffer.alloc(8), Buffer.from(JSON.stringify({ s: 1, c: { after: '' } }))]);
    const res = await client.search({ base: KEYS, attributes: ['1.1'] }, [pagedControl(1, forged)]);
    assert.equal(res.done.code, UNWILLING);
    assert.equal(res.entries.length, 0);
  });

  it('refuses a cookie replayed on another connection', async () => {
    const cookie = await firstCookie(client);
    const other = await WireClient.connect(node.port);
    try {
      const res = await other.search({ base: KEYS, attributes: ['1.1'] }, [pagedControl(1, cookie)]);
      assert.equal(res.done.code, UNWILLING);
      assert.equal(res.entries.length, 0);
    } finally {
      other.close();
    }
  });

  it('refuses a cookie after a bind as someone else, or for other attributes or another filter', async () => {
    const cookie = await firstCookie(client);
    const attrs = await client.search({ base: KEYS, attributes: ['pgpCertID'] }, [pagedControl(1, cookie)]);
    assert.equal(attrs.done.code, UNWILLING);
    const filtered = await client.search({ base: KEYS, filter: { present: 'pgpCertID' }, attributes: ['1.1'] }, [pagedControl(1, cookie)]);
    assert.equal(filtered.done.code, UNWILLING);
    assert.equal((await client.bind(userDn('bob'), PASSWORDS.bob)).code, 0);
    const rebound = await client.search({ base: KEYS, attributes: ['1.1'] }, [pagedControl(1, cookie)]);
    assert.equal(rebound.done.code, UNWILLING);
    assert.equal(rebound.entries.length, 0);
  });
});
