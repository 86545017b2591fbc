// LDAP searches give no existence oracle: for an anonymous reader, an index term or a kind
// that matches only records of private domains answers exactly like one that matches
// nothing — no size-limit answer (4), no entries, no paging cookie — even when those records
// are more than the size limit and more than the candidate cap, and whether the readable
// domains hold fewer or more records than the cap. In an `&` filter, which term drives the
// search depends on what the reader may see only. Small limits stand for the defaults:
// ldap.sizeLimit 5, a candidate cap of 6, 10 private gateways.
import assert from 'node:assert/strict';
import { armor } from '../../ics/record/index.ts';
import { device } from '../policy/helpers.ts';
import { type LdapTestNode, PASSWORDS, RECORDS, startLdap, userDn } from '../ldap/helpers.ts';
import { type FilterSpec, pagedControl, type Response, WireClient } from '../ldap/wire.ts';

const PRIVATE = 10;
/** Records of a word shared by public and private records: more than a probe of the index reads (PROBE_IDS). */
const SHARED_PRIVATE = 70;
/** Public records of that word: more than the size limit and the candidate cap. */
const SHARED_PUBLIC = 8;
const ABSENT = 'nothinghere';
/** The private gateways' word. */
const VAULT: FilterSpec = { sub: ['icsUserID', { any: ['vault'] }] };

/** What a client can tell from a search: result code, entries, whether a cookie came back. */
function outcome(r: { entries: Response[]; done: Response }) {
  return { code: r.done.code, entries: r.entries.map((e) => e.dn).sort(), cookie: (r.done.cookie?.length ?? 0) > 0 };
}

const pairs: Array<[string, FilterSpec, FilterSpec, string]> = [
  ['a user-ID word', VAULT, { sub: ['icsUserID', { any: [ABSENT] }] }, RECORDS],
  ['a word prefix', { sub: ['icsUserID', { initial: 'urn:cm4it:gateway:acme.example:site-a:vau' }] }, { sub: ['icsUserID', { initial: `urn:${ABSENT}` }] }, RECORDS],
  ['a pgpUserID word (GnuPG)', { sub: ['pgpUserID', { any: ['vault'] }] }, { sub: ['pgpUserID', { any: [ABSENT] }] }, `ou=PGP Keys,dc=ics,dc=example`],
  ['a kind', { eq: ['icsKind', 'gateway'] }, { eq: ['icsKind', 'service'] }, RECORDS],
  ['a kind and a word', { and: [{ eq: ['icsKind', 'gateway'] }, VAULT] }, { and: [{ eq: ['icsKind', 'service'] }, { sub: ['icsUserID', { any: [ABSENT] }] }] }, RECORDS],
  ['a union of words', { or: [VAULT, { sub: ['icsUserID', { any: ['gateway'] }] }] }, { or: [{ sub: ['icsUserID', { any: [ABSENT] }] }, { eq: ['icsUserID', ABSENT] }] }, RECORDS],
];

/** Private gateways of site A, certified by the integrator only: domain `system`, not public. */
async function addPrivate(node: LdapTestNode, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const r = await device(`urn:cm4it:gateway:acme.example:site-a:${name}`, [{ issuer: node.f.integrator, role: 'integrator' }]);
    const result = await node.ingest.submit(armor('publicKey', r.bytes), { source: 'cli' });
    assert.deepEqual(result.domains, ['system']);
  }
}

/** Public devices certified by the manufacturer: domain `devices`. */
async function addPublic(node: LdapTestNode, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const r = await device(`urn:cm4it:device:acme.example:${name}`, [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const result = await node.ingest.submit(armor('publicKey', r.bytes), { source: 'cli' });
    assert.deepEqual(result.domains, ['devices']);
  }
}

const range = (n: number, name: (i: number) => string) => Array.from({ length: n }, (_, i) => name(i));

describe('security: LDAP searches do not reveal private records', () => {
  let node: LdapTestNode;
  let client: WireClient;

  before(async () => {
    node = await startLdap({ init: { sizeLimit: 5, maxCandidates: 6 } });
    await addPrivate(node, range(PRIVATE, (i) => `vault-${i}`));
  });
  after(() => node.stop());
  beforeEach(async () => {
    client = await WireClient.connect(node.port);
  });
  afterEach(() => client.close());


  for (const [what, hidden, absent, base] of pairs) {
    it(`${what} matching only private records answers like one matching nothing`, async () => {
      const h = outcome(await client.search({ base, filter: hidden, attributes: ['1.1'] }));
      const a = outcome(await client.search({ base, filter: absent, attributes: ['1.1'] }));
      assert.deepEqual(h, a);
      assert.deepEqual(h, { code: 0, entries: [], cookie: false });
    });

    it(`${what}: paged, the same`, async () => {
      const h = outcome(await client.search({ base, filter: hidden, attributes: ['1.1'] }, [pagedControl(2, Buffer.alloc(0))]));
      const a = outcome(await client.search({ base, filter: absent, attributes: ['1.1'] }, [pagedControl(2, Buffer.alloc(0))]));
      assert.deepEqual(h, a);
      assert.deepEqual(h, { code: 0, entries: [], cookie: false });
    });
  }

  it('the private records are there: an authenticated reader pages through all of them', async () => {
    assert.equal((await client.bind(userDn('bob'), PASSWORDS.bob)).code, 0);
    const seen: string[] = [];
    let cookie: Buffer = Buffer.alloc(0);
    for (let page = 0; page < 20; page++) {
      const { entries, done } = await client.search({ base: RECORDS, filter: VAULT, attributes: ['1.1'] }, [pagedControl(3, cookie)]);
      assert.equal(done.code, 0);
      seen.push(...entries.map((e) => String(e.dn)));
      cookie = done.cookie ?? Buffer.alloc(0);
      if (cookie.length === 0) break;
    }
    assert.equal(new Set(seen).size, PRIVATE);
    // Unpaged, more than the size limit match: the size-limit answer comes from records bob may read.
    const { done } = await client.search({ base: RECORDS, filter: { eq: ['icsKind', 'gateway'] }, attributes: ['1.1'] });
    assert.equal(done.code, 4);
  });
});

describe('security: LDAP searches do not reveal private records when the readable domains hold more than the candidate cap', () => {
  let node: LdapTestNode;
  let client: WireClient;

  before(async () => {
    node = await startLdap({ init: { sizeLimit: 5, maxCandidates: 6 } });
    await addPrivate(node, range(PRIVATE, (i) => `vault-${i}`));
    // `lantern`: a word of public and of many more private records; `harbor`: of the same
    // public records only; `kite`: of one of them.
    await addPublic(node, range(SHARED_PUBLIC, (i) => `lantern-harbor-${i}${i === 0 ? '-kite' : ''}`));
    await addPrivate(node, range(SHARED_PRIVATE, (i) => `lantern-${i}`));
  });
  after(() => node.stop());
  beforeEach(async () => {
    client = await WireClient.connect(node.port);
  });
  afterEach(() => client.close());

  const compound: Array<[string, FilterSpec, FilterSpec, string]> = [
    [
      'an `&` of a word private records share and a rare word',
      { and: [{ sub: ['icsUserID', { any: ['lantern'] }] }, { sub: ['icsUserID', { any: ['kite'] }] }] },
      { and: [{ sub: ['icsUserID', { any: ['harbor'] }] }, { sub: ['icsUserID', { any: ['kite'] }] }] },
      RECORDS,
    ],
    [
      'an `&` of equalities on such words',
      { and: [{ eq: ['pgpUserID', 'lantern'] }, { sub: ['pgpUserID', { any: ['kite'] }] }] },
      { and: [{ eq: ['pgpUserID', 'harbor'] }, { sub: ['pgpUserID', { any: ['kite'] }] }] },
      `ou=PGP Keys,dc=ics,dc=example`,
    ],
  ];

  // The word-prefix pair above differs in words of public records too (`cm4it`, `acme`): here
  // readable matches decide, so a prefix of a private word alone stands in for it.
  const single = pairs.filter(([what]) => what !== 'a word prefix');
  const prefix: [string, FilterSpec, FilterSpec, string] = ['a word prefix', { sub: ['icsUserID', { any: ['vaul'] }] }, { sub: ['icsUserID', { any: ['noth'] }] }, RECORDS];

  for (const [what, hidden, absent, base] of [...single, prefix, ...compound]) {
    it(`${what}: the same answer whatever private records match`, async () => {
      const h = outcome(await client.search({ base, filter: hidden, attributes: ['1.1'] }));
      const a = outcome(await client.search({ base, filter: absent, attributes: ['1.1'] }));
      assert.deepEqual(h, a);
    });

    it(`${what}: paged, the same`, async () => {
      const h = outcome(await client.search({ base, filter: hidden, attributes: ['1.1'] }, [pagedControl(2, Buffer.alloc(0))]));
      const a = outcome(await client.search({ base, filter: absent, attributes: ['1.1'] }, [pagedControl(2, Buffer.alloc(0))]));
      assert.deepEqual(h, a);
    });
  }

  it('a term matching only private records beyond the cap answers like one matching nothing', async () => {
    assert.deepEqual(outcome(await client.search({ base: RECORDS, filter: VAULT, attributes: ['1.1'] })), { code: 0, entries: [], cookie: false });
  });
});
