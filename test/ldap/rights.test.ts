// Per-user and per-group read rights over LDAP: a domain whose `read` names a user or a group
// is read by that user (or a member) once bound, and by no other authenticated user — not by
// id, not by word, not page by page.
import assert from 'node:assert/strict';
import { hashPassword } from '../../ics/auth/index.ts';
import { PEER_B, testEngine } from '../policy/helpers.ts';
import { KEYS, ldapFixture, type LdapTestNode, RECORDS, startLdap, userDn } from './helpers.ts';
import { type FilterSpec, pagedControl, WireClient } from './wire.ts';

const PASSWORD = 'rights-secret';

describe('ldap/per-user and per-group read rights', () => {
  let node: LdapTestNode;

  before(async () => {
    const { f } = await ldapFixture();
    const engine = await testEngine(f, (draft) => {
      draft.system.read = { users: ['carol'] };
      draft.firmware.read = { peers: [PEER_B], groups: ['fw-readers'] };
    });
    const passwordHash = await hashPassword(PASSWORD);
    node = await startLdap({
      engine,
      users: [
        { name: 'carol', passwordHash, write: false },
        { name: 'dave', passwordHash, write: false, groups: ['fw-readers'] },
        { name: 'erin', passwordHash, write: false, groups: ['others'] },
      ],
    });
  });
  after(() => node?.stop());

  async function as(name: string): Promise<WireClient> {
    const client = await WireClient.connect(node.port);
    assert.equal((await client.bind(userDn(name), PASSWORD)).code, 0);
    return client;
  }

  /** The DNs a search returns, through one unpaged search and through pages of one. */
  async function found(client: WireClient, base: string, filter: FilterSpec): Promise<string[]> {
    const { entries, done } = await client.search({ base, filter, attributes: ['1.1'] });
    assert.equal(done.code, 0);
    const paged: string[] = [];
    let cookie: Buffer = Buffer.alloc(0);
    for (let page = 0; page < 10; page++) {
      const r = await client.search({ base, filter, attributes: ['1.1'] }, [pagedControl(1, cookie)]);
      assert.equal(r.done.code, 0);
      paged.push(...r.entries.map((e) => String(e.dn)));
      cookie = r.done.cookie ?? Buffer.alloc(0);
      if (cookie.length === 0) break;
    }
    const dns = entries.map((e) => String(e.dn)).sort();
    assert.deepEqual(paged.sort(), dns, 'pages return what one search returns');
    return dns;
  }

  function systemSearches() {
    const r = node.records.systemOnly;
    const userId = r.userIds[0]?.userId as string;
    const last = userId.split(':').at(-1) as string;
    return [
      { base: RECORDS, filter: { eq: ['icsId', r.id] } as FilterSpec, dn: `icsId=${r.id},${RECORDS}` },
      { base: RECORDS, filter: { eq: ['icsUserID', userId] } as FilterSpec, dn: `icsId=${r.id},${RECORDS}` },
      { base: RECORDS, filter: { sub: ['icsUserID', { final: `site-a:${last}` }] } as FilterSpec, dn: `icsId=${r.id},${RECORDS}` },
      { base: KEYS, filter: { eq: ['pgpCertID', r.id.slice(-16).toUpperCase()] } as FilterSpec, dn: `pgpCertID=${r.id.slice(-16).toUpperCase()},${KEYS}` },
      { base: KEYS, filter: { sub: ['pgpUserID', { any: [last] }] } as FilterSpec, dn: `pgpCertID=${r.id.slice(-16).toUpperCase()},${KEYS}` },
    ];
  }

  function firmwareSearches() {
    const r = node.records.code;
    const dn = `icsId=${r.id},${RECORDS}`;
    return [
      { base: RECORDS, filter: { eq: ['icsId', r.id] } as FilterSpec, dn },
      { base: RECORDS, filter: { eq: ['icsCodeName', r.statement.subject.name] } as FilterSpec, dn },
      { base: RECORDS, filter: { and: [{ eq: ['icsKind', 'code'] }, { eq: ['icsDomain', 'firmware'] }] } as FilterSpec, dn },
    ];
  }

  it('a user named by a domain reads it by id and by word, paged too', async () => {
    const carol = await as('carol');
    try {
      for (const s of systemSearches()) assert.deepEqual(await found(carol, s.base, s.filter), [s.dn], JSON.stringify(s.filter));
    } finally {
      carol.close();
    }
  });

  it('another authenticated user finds nothing there', async () => {
    for (const name of ['dave', 'erin']) {
      const client = await as(name);
      try {
        for (const s of systemSearches()) assert.deepEqual(await found(client, s.base, s.filter), [], `${name}: ${JSON.stringify(s.filter)}`);
        const base = await client.search({ base: `icsId=${node.records.systemOnly.id},${RECORDS}`, scope: 'base' });
        assert.equal(base.done.code, 32, 'the entry does not exist for them');
      } finally {
        client.close();
      }
    }
  });

  it('a member of a group named by a domain reads it; others do not', async () => {
    for (const [name, sees] of [
      ['dave', true],
      ['carol', false],
      ['erin', false],
    ] as const) {
      const client = await as(name);
      try {
        for (const s of firmwareSearches()) assert.deepEqual(await found(client, s.base, s.filter), sees ? [s.dn] : [], `${name}: ${JSON.stringify(s.filter)}`);
      } finally {
        client.close();
      }
    }
  });

  it('the public domain stays readable to all of them', async () => {
    const r = node.records.acme[0];
    assert.ok(r);
    for (const name of ['carol', 'dave', 'erin']) {
      const client = await as(name);
      try {
        assert.deepEqual(await found(client, RECORDS, { eq: ['icsId', r.id] }), [`icsId=${r.id},${RECORDS}`]);
      } finally {
        client.close();
      }
    }
  });
});
