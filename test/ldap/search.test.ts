// Searches: root DSE, GnuPG's server info and key entries, the ICS object class, scopes,
// filters, attribute selection, limits, paging, and who sees what — checked against what the
// store and the policy hold for the same records.
import assert from 'node:assert/strict';
import { type KeyRecord, parseRecord } from '../../ics/record/index.ts';
import type { RecordStore } from '../../ics/store/types.ts';
import { BASE, KEYS, type LdapTestNode, PASSWORDS, RECORDS, startLdap, userDn } from './helpers.ts';
import { pagedControl, type Response, values, WireClient } from './wire.ts';

const R = { success: 0, timeLimitExceeded: 3, sizeLimitExceeded: 4, noSuchObject: 32, invalidDNSyntax: 34, unwillingToPerform: 53 };
const dns = (entries: Response[]) => entries.map((e) => e.dn).sort();
const keyDn = (id: string) => `pgpCertID=${id.slice(-16).toUpperCase()},${KEYS}`;
const recordDn = (id: string) => `icsId=${id},${RECORDS}`;

describe('ldap/search', () => {
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

  describe('fixed entries', () => {
    it('serves the root DSE with namingContexts and the paged-results control', async () => {
      const { entries, done } = await client.search({ base: '', scope: 'base', attributes: ['namingContexts', 'supportedControl', 'supportedLDAPVersion'] });
      assert.equal(done.code, R.success);
      assert.equal(entries.length, 1);
      assert.deepEqual(values(entries[0] as Response, 'namingContexts'), [BASE]);
      assert.ok(values(entries[0] as Response, 'supportedControl').includes('1.2.840.113556.1.4.319'));
      assert.deepEqual(values(entries[0] as Response, 'supportedLDAPVersion'), ['3']);
    });

    it('returns the root DSE operational attributes only when asked (RFC 4512 §5.1)', async () => {
      const { entries } = await client.search({ base: '', scope: 'base' });
      assert.deepEqual([...(entries[0]?.attributes?.keys() ?? [])], ['objectClass']);
      const plus = await client.search({ base: '', scope: 'base', attributes: ['+'] });
      assert.ok(values(plus.entries[0] as Response, 'vendorName').length === 1);
    });

    it("announces GnuPG's schema v2 at cn=pgpServerInfo", async () => {
      const { entries } = await client.search({ base: `cn=pgpServerInfo,${BASE}`, scope: 'base', attributes: ['pgpBaseKeySpaceDN', 'pgpSoftware', 'pgpVersion'] });
      const e = entries[0] as Response;
      assert.deepEqual(values(e, 'pgpBaseKeySpaceDN'), [KEYS]);
      assert.deepEqual(values(e, 'pgpSoftware'), ['GnuPG']);
      assert.deepEqual(values(e, 'pgpVersion'), ['2']);
    });

    it('lists the naming context children with scope one', async () => {
      const { entries } = await client.search({ base: BASE, scope: 'one', attributes: ['1.1'] });
      assert.deepEqual(dns(entries), [`cn=pgpServerInfo,${BASE}`, KEYS, RECORDS].sort());
    });
  });

  describe('pgpKeyInfo entries', () => {
    it("hold GnuPG's attributes, derived from the stored key", async () => {
      const record = node.records.acme[0];
      assert.ok(record);
      const { entries, done } = await client.search({ base: keyDn(record.id), scope: 'base' });
      assert.equal(done.code, R.success);
      const e = entries[0] as Response;
      const keyId = record.id.slice(-16).toUpperCase();
      assert.equal(e.dn, keyDn(record.id));
      assert.deepEqual(values(e, 'objectClass'), ['top', 'pgpKeyInfo']);
      assert.deepEqual(values(e, 'pgpCertID'), [keyId]);
      assert.deepEqual(values(e, 'pgpKeyID'), [keyId.slice(-8)]);
      assert.deepEqual(values(e, 'gpgFingerprint'), [record.id.toUpperCase()]);
      assert.deepEqual(values(e, 'pgpUserID'), record.userIds.map((u) => u.userId));
      assert.deepEqual(values(e, 'pgpRevoked'), ['0']);
      assert.deepEqual(values(e, 'pgpDisabled'), ['0']);
      assert.deepEqual(values(e, 'pgpKeySize'), ['00256']);
      const created = record.primaryKey.created.toISOString().replace(/[-T:]/g, '').slice(0, 14);
      assert.deepEqual(values(e, 'pgpKeyCreateTime'), [`${created}Z`]);
      // The key block is the stored record, armored: it parses to the same bytes.
      const [armored] = values(e, 'pgpKey');
      assert.match(armored ?? '', /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
      const stored = await node.store.get(record.id);
      const { record: parsed } = await parseRecord(armored as string, { issuers: node.engine.issuerRing() });
      assert.equal(parsed.digest, stored?.digest);
      // modifyTimestamp is operational: only when named.
      assert.deepEqual(values(e, 'modifyTimestamp'), []);
    });

    it('answers the filter GnuPG sends for a fingerprint (schema v2)', async () => {
      const record = node.records.acme[1] as { id: string };
      const fpr = record.id.toUpperCase();
      const { entries, done } = await client.search({
        base: KEYS,
        filter: { or: [{ eq: ['gpgFingerprint', fpr] }, { eq: ['gpgSubFingerprint', fpr] }] },
        attributes: ['pgpKey', 'pgpcertid', 'pgpuserid', 'pgpkeyid', 'pgprevoked', 'pgpdisabled', 'pgpkeycreatetime', 'modifytimestamp', 'pgpkeysize', 'pgpkeytype', 'gpgfingerprint'],
      });
      assert.equal(done.code, R.success);
      assert.deepEqual(dns(entries), [keyDn(record.id)]);
      // Requested names with capitals are honoured (ldapjs's server dropped them: #900, #974).
      assert.equal(values(entries[0] as Response, 'pgpKey').length, 1);
      assert.equal(values(entries[0] as Response, 'modifyTimestamp').length, 1);
    });

    it('answers by long key id and by user-ID words, as gpg --search-keys asks', async () => {
      const record = node.records.acme[2] as KeyRecord;
      const byKeyId = await client.search({ base: KEYS, filter: { eq: ['pgpCertID', record.id.slice(-16).toUpperCase()] }, attributes: ['1.1'] });
      assert.deepEqual(dns(byKeyId.entries), [keyDn(record.id)]);
      const userId = record.userIds[0]?.userId as string;
      const serial = userId.split(':').at(-1) as string;
      const bySerial = await client.search({ base: KEYS, filter: { sub: ['pgpUserID', { any: [serial] }] }, attributes: ['1.1'] });
      assert.deepEqual(dns(bySerial.entries), [keyDn(record.id)]);
      const whole = await client.search({ base: KEYS, filter: { sub: ['pgpUserID', { any: [userId] }] }, attributes: ['1.1'] });
      assert.deepEqual(dns(whole.entries), [keyDn(record.id)]);
      const exact = await client.search({ base: KEYS, filter: { eq: ['pgpUserID', userId.toUpperCase()] }, attributes: ['1.1'] });
      assert.deepEqual(dns(exact.entries), [keyDn(record.id)], 'pgpUserID matches case-insensitively');
    });

    it('has no pgpKeyInfo entry for code records', async () => {
      await client.bind(userDn('bob'), PASSWORDS.bob);
      const { entries } = await client.search({ base: KEYS, scope: 'one', attributes: ['gpgFingerprint'] });
      const expected = [...node.records.acme, node.records.site, node.records.systemOnly].map((r) => r.id.toUpperCase()).sort();
      assert.deepEqual(entries.flatMap((e) => values(e, 'gpgFingerprint')).sort(), expected);
    });
  });

  describe('icsRecord entries', () => {
    it("hold the record's kind, domains, status, roles, issuers, verdict and history size", async () => {
      const record = node.records.acme[2] as { id: string };
      const { entries } = await client.search({ base: recordDn(record.id), scope: 'base', attributes: ['*', '+'] });
      const e = entries[0] as Response;
      const stored = await node.store.get(record.id);
      const verdict = node.engine.verdict((await parseRecord((stored as { bytes: Uint8Array }).bytes, { issuers: node.engine.issuerRing() })).record);
      assert.deepEqual(values(e, 'objectClass'), ['top', 'icsRecord']);
      assert.deepEqual(values(e, 'icsId'), [record.id]);
      assert.deepEqual(values(e, 'icsKind'), ['device']);
      assert.deepEqual(values(e, 'icsDomain'), ['devices']);
      assert.deepEqual(values(e, 'icsStatus'), [verdict.status]);
      assert.deepEqual(values(e, 'icsTrusted'), [verdict.trusted ? 'TRUE' : 'FALSE']);
      assert.deepEqual(values(e, 'icsRole'), ['manufacturer', 'certifier']);
      assert.deepEqual(values(e, 'icsIssuer').sort(), [node.f.manufacturer.record.id, node.f.certifier.record.id].sort());
      assert.deepEqual(values(e, 'icsIssuerName').sort(), ['acme', 'notified-body']);
      assert.deepEqual(values(e, 'icsEndorsedBy'), [node.f.certifier.record.id]);
      assert.deepEqual(values(e, 'icsMetadata'), ['scheme=etsi-en-303-645']);
      assert.deepEqual(values(e, 'icsHistorySize'), [String((await node.store.history(record.id)).length)]);
      assert.deepEqual(values(e, 'icsDigest'), [stored?.digest]);
      assert.equal(values(e, 'createTimestamp').length, 1);
    });

    it('finds the devices of a domain whose status is stolen', async () => {
      const { entries, done } = await client.search({
        base: RECORDS,
        filter: { and: [{ eq: ['objectClass', 'icsRecord'] }, { eq: ['icsKind', 'device'] }, { eq: ['icsDomain', 'devices'] }, { eq: ['icsStatus', 'stolen'] }] },
        attributes: ['icsId'],
      });
      assert.equal(done.code, R.success);
      assert.deepEqual(dns(entries), [recordDn((node.records.acme[1] as { id: string }).id)]);
    });

    it('evaluates or, not, presence, substrings and time ranges', async () => {
      const acme = node.records.acme.map((r) => r.id);
      const notStolen = await client.search({
        base: RECORDS,
        filter: { and: [{ eq: ['icsDomain', 'devices'] }, { not: { eq: ['icsStatus', 'stolen'] } }, { present: 'icsEndorsedBy' }] },
        attributes: ['1.1'],
      });
      assert.deepEqual(dns(notStolen.entries), [recordDn(acme[2] as string)]);
      const either = await client.search({
        base: RECORDS,
        filter: { or: [{ eq: ['icsId', acme[0] as string] }, { eq: ['icsFingerprint', acme[1] as string] }] },
        attributes: ['1.1'],
      });
      assert.deepEqual(dns(either.entries), [recordDn(acme[0] as string), recordDn(acme[1] as string)].sort());
      const future = await client.search({ base: RECORDS, filter: { ge: ['icsContentTime', '29990101000000Z'] }, attributes: ['1.1'] });
      assert.deepEqual(future.entries, []);
      const past = await client.search({ base: RECORDS, filter: { and: [{ le: ['icsUpdated', '29990101000000Z'] }, { ge: ['icsContentTime', '20000101000000Z'] }] }, attributes: ['1.1'] });
      assert.equal(past.entries.length, 4, 'the four public devices');
      const sub = await client.search({ base: RECORDS, filter: { sub: ['icsUserID', { initial: 'urn:cm4it:device:acme.example:site-a:' }] }, attributes: ['1.1'] });
      assert.deepEqual(dns(sub.entries), [recordDn(node.records.site.id)]);
    });

    it('evaluates items on unknown attributes as Undefined: no match, no error', async () => {
      const { entries, done } = await client.search({ base: BASE, filter: { eq: ['noSuchAttribute', 'x'] } });
      assert.equal(done.code, R.success);
      assert.deepEqual(entries, []);
      const negated = await client.search({ base: BASE, filter: { not: { eq: ['noSuchAttribute', 'x'] } } });
      assert.deepEqual(negated.entries, [], 'not(Undefined) is Undefined');
    });
  });

  describe('scopes', () => {
    it('base, one and sub under the key space', async () => {
      const base = await client.search({ base: KEYS, scope: 'base', attributes: ['1.1'] });
      assert.deepEqual(dns(base.entries), [KEYS]);
      const one = await client.search({ base: KEYS, scope: 'one', attributes: ['1.1'] });
      const sub = await client.search({ base: KEYS, scope: 'sub', attributes: ['1.1'] });
      const visible = [...node.records.acme, node.records.site].map((r) => keyDn(r.id));
      assert.deepEqual(dns(one.entries), visible.sort());
      assert.deepEqual(dns(sub.entries), [KEYS, ...visible].sort());
      const leaf = await client.search({ base: keyDn(node.records.site.id), scope: 'one' });
      assert.deepEqual(leaf.entries, []);
    });

    it('a whole-tree search returns every visible entry once', async () => {
      const { entries } = await client.search({ base: BASE, scope: 'sub', attributes: ['1.1'] });
      const visible = [...node.records.acme, node.records.site];
      assert.equal(entries.length, 4 + visible.length * 2);
      assert.equal(new Set(dns(entries)).size, entries.length);
    });

    it('answers noSuchObject with the matched DN for missing entries', async () => {
      const missing = await client.search({ base: `pgpCertID=0000000000000000,${KEYS}`, scope: 'base' });
      assert.equal(missing.done.code, R.noSuchObject);
      assert.equal(missing.done.matchedDn, KEYS);
      const other = await client.search({ base: 'dc=other,dc=example', scope: 'sub' });
      assert.equal(other.done.code, R.noSuchObject);
      const bad = await client.search({ base: `cn=x,ou=nowhere,${BASE}`, scope: 'sub' });
      assert.equal(bad.done.code, R.noSuchObject);
      assert.equal(bad.done.matchedDn, BASE);
    });

    it('answers invalidDNSyntax for a base that is not a DN', async () => {
      const { done } = await client.search({ base: 'this is not a DN', scope: 'base' });
      assert.equal(done.code, R.invalidDNSyntax);
    });
  });

  describe('who sees what', () => {
    it('anonymous readers see public domains only', async () => {
      const hidden = [node.records.systemOnly.id, node.records.code.id];
      for (const id of hidden) {
        const { done } = await client.search({ base: recordDn(id), scope: 'base' });
        assert.equal(done.code, R.noSuchObject, 'a record of a private domain does not exist for anonymous readers');
      }
      const { entries } = await client.search({ base: RECORDS, scope: 'one', attributes: ['icsDomain'] });
      assert.ok(entries.every((e) => values(e, 'icsDomain').every((d) => d === 'devices')), 'private domains are not named');
    });

    it('bound users also see the domains the policy opens to authenticated readers', async () => {
      assert.equal((await client.bind(userDn('bob'), PASSWORDS.bob)).code, R.success);
      const { entries } = await client.search({ base: RECORDS, scope: 'one', attributes: ['icsId', 'icsDomain'] });
      assert.equal(entries.length, 6);
      const site = entries.find((e) => values(e, 'icsId')[0] === node.records.site.id) as Response;
      assert.deepEqual(values(site, 'icsDomain'), ['devices', 'system']);
      const code = entries.find((e) => values(e, 'icsId')[0] === node.records.code.id) as Response;
      assert.ok(code);
    });
  });

  it('answers every one of 300 searches pipelined in one write (backpressure, not errors)', async () => {
    const id = node.records.acme[0]?.id as string;
    client.cork();
    const requests = Array.from({ length: 300 }, () => client.search({ base: KEYS, filter: { eq: ['gpgFingerprint', id] }, attributes: ['1.1'] }));
    client.uncork();
    const results = await Promise.all(requests);
    assert.ok(results.every((r) => r.done.code === R.success && r.entries.length === 1));
  });

  describe('limits and paging', () => {
    it('stops at the size limit with sizeLimitExceeded', async () => {
      const { entries, done } = await client.search({ base: RECORDS, scope: 'one', sizeLimit: 2, attributes: ['1.1'] });
      assert.equal(done.code, R.sizeLimitExceeded);
      assert.equal(entries.length, 2);
    });

    it('pages through results with RFC 2696 cookies', async () => {
      await client.bind(userDn('bob'), PASSWORDS.bob);
      const seen: string[] = [];
      let cookie: Buffer = Buffer.alloc(0);
      let pages = 0;
      do {
        const { entries, done } = await client.search({ base: BASE, attributes: ['1.1'] }, [pagedControl(3, cookie)]);
        assert.equal(done.code, R.success);
        assert.ok(entries.length <= 3);
        seen.push(...dns(entries).map(String));
        cookie = done.cookie ?? Buffer.alloc(0);
        pages++;
      } while (cookie.length > 0 && pages < 20);
      const all = await client.search({ base: BASE, attributes: ['1.1'] });
      assert.deepEqual(seen.sort(), dns(all.entries));
      assert.equal(new Set(seen).size, seen.length, 'no entry twice');
      assert.ok(pages >= 5);
    });

    it('refuses a cookie of another search', async () => {
      const first = await client.search({ base: KEYS, attributes: ['1.1'] }, [pagedControl(1, Buffer.alloc(0))]);
      assert.ok(first.done.cookie && first.done.cookie.length > 0);
      const other = await client.search({ base: RECORDS, attributes: ['1.1'] }, [pagedControl(1, first.done.cookie)]);
      assert.equal(other.done.code, R.unwillingToPerform);
      const forged = await client.search({ base: KEYS, attributes: ['1.1'] }, [pagedControl(1, Buffer.from('not a cookie'))]);
      assert.equal(forged.done.code, R.unwillingToPerform);
    });
  });
});

/** A store that counts the calls the server makes, to show which indexes a search uses. */
function counting(store: RecordStore, calls: Map<string, number>): RecordStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('ldap/search through the indexes', () => {
  const calls = new Map<string, number>();
  let node: LdapTestNode;
  let client: WireClient;

  before(async () => {
    node = await startLdap({ wrap: (s) => counting(s, calls), init: { sizeLimit: 3 } });
    client = await WireClient.connect(node.port);
  });
  after(async () => {
    client.close();
    await node.stop();
  });
  beforeEach(() => calls.clear());

  it('a search by fingerprint reads only that record', async () => {
    const id = node.records.acme[0]?.id as string;
    const { entries } = await client.search({ base: KEYS, filter: { or: [{ eq: ['gpgFingerprint', id] }, { eq: ['gpgSubFingerprint', id] }] } });
    assert.equal(entries.length, 1);
    assert.equal(calls.get('listDomain'), undefined);
    assert.equal(calls.get('listKind'), undefined);
  });

  it('a filter no index narrows examines at most sizeLimit records and says so', async () => {
    const { entries, done } = await client.search({ base: RECORDS, filter: { eq: ['icsStatus', 'in-use'] }, attributes: ['1.1'] });
    assert.equal(done.code, R.sizeLimitExceeded);
    assert.match(done.message ?? '', /examined 3 records/);
    assert.ok(entries.length <= 3);
  });

  it('paged results take such a search to its end', async () => {
    const seen: string[] = [];
    let cookie: Buffer = Buffer.alloc(0);
    for (let page = 0; page < 10; page++) {
      const { entries, done } = await client.search({ base: RECORDS, filter: { eq: ['icsStatus', 'in-use'] }, attributes: ['1.1'] }, [pagedControl(2, cookie)]);
      assert.equal(done.code, R.success);
      seen.push(...dns(entries).map(String));
      cookie = done.cookie ?? Buffer.alloc(0);
      if (cookie.length === 0) break;
    }
    const inUse = [node.records.acme[0], node.records.acme[2], node.records.site].map((r) => recordDn((r as { id: string }).id));
    assert.deepEqual(seen.sort(), inUse.sort());
  });
});

describe('ldap/search time limit', () => {
  it('ends a slow search with timeLimitExceeded', async () => {
    const slow = (store: RecordStore): RecordStore =>
      new Proxy(store, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (property !== 'listDomain') return typeof value === 'function' ? value.bind(target) : value;
          return async (...args: unknown[]) => {
            await new Promise((resolve) => setTimeout(resolve, 1200));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    const node = await startLdap({ wrap: slow, init: { timeLimitSeconds: 1 } });
    const client = await WireClient.connect(node.port);
    try {
      const { done } = await client.search({ base: RECORDS, filter: { eq: ['icsStatus', 'in-use'] }, attributes: ['1.1'] });
      assert.equal(done.code, R.timeLimitExceeded);
    } finally {
      client.close();
      await node.stop();
    }
  });
});
