// The direct SearchRequest decoder must read every search as ldapjs's decoder does (same
// base, scope, limits, attributes, controls and, once compiled, the same filter), and refuse
// what ldapjs refuses or leave it to ldapjs.
import assert from 'node:assert/strict';
import { BerError } from '../../ics/ldap/ber.ts';
import { compileFilter } from '../../ics/ldap/filter.ts';
import { DecodeError, type DecodedRequest, decodeRequest } from '../../ics/ldap/ldapjs.ts';
import { decodeSearchRequest, rawFilter } from '../../ics/ldap/search-request.ts';
import { type FilterSpec, filter, ldapMessage, pagedControl, searchOp } from './wire.ts';

type Search = Extract<DecodedRequest, { op: 'search' }>;

function both(message: Buffer): [Search, Search] {
  return [decodeSearchRequest(message) as Search, decodeRequest(message) as Search];
}

const FILTERS: FilterSpec[] = [
  { present: 'objectClass' },
  { eq: ['pgpCertID', 'ABCDEF0123456789'] },
  { or: [{ eq: ['gpgFingerprint', 'AA'] }, { eq: ['gpgSubFingerprint', 'AA'] }] },
  { and: [{ eq: ['gpgMailbox', 'a@b.example'] }, { not: { or: [{ eq: ['pgpRevoked', '1'] }, { eq: ['pgpDisabled', '1'] }] } }] },
  { sub: ['pgpUserID', { any: ['alice'] }] },
  { sub: ['pgpUserID', { initial: 'urn:', any: ['acme', 'cam'], final: ':SN1' }] },
  { sub: ['icsUserID', { final: 'x' }] },
  { ge: ['icsContentTime', '20250101000000Z'] },
  { le: ['icsHistorySize', '3'] },
  { approx: ['cn', 'thing'] },
];

describe('ldap/search request decoder', () => {
  for (const f of FILTERS) {
    it(`reads ${JSON.stringify(f)} as ldapjs does`, () => {
      const message = ldapMessage(7, searchOp({ base: 'ou=PGP Keys,dc=ics,dc=example', scope: 'one', filter: f, attributes: ['pgpKey', 'cn'], sizeLimit: 5, timeLimit: 3, typesOnly: true }));
      const [ours, theirs] = both(message);
      assert.equal(ours.messageId, theirs.messageId);
      assert.equal(ours.base, theirs.base);
      assert.equal(ours.scope, theirs.scope);
      assert.equal(ours.sizeLimit, theirs.sizeLimit);
      assert.equal(ours.timeLimit, theirs.timeLimit);
      assert.equal(ours.typesOnly, theirs.typesOnly);
      assert.deepEqual(ours.attributes, theirs.attributes);
      assert.deepEqual(compileFilter(ours.filter), compileFilter(theirs.filter));
      assert.deepEqual(rawFilter(message), filter(f));
    });
  }

  it('keeps assertion values as sent (ldapjs escapes non-ASCII and ()*\\ in decoded equality values)', () => {
    for (const value of ['Ünïcödé <ü@example.org>', 'with (parens) and * star \\ backslash']) {
      const [ours, theirs] = both(ldapMessage(1, searchOp({ base: '', filter: { eq: ['pgpUserID', value] } })));
      assert.equal(ours.filter.value, value);
      assert.notEqual(theirs.filter.value, value, 'ldapjs escapes it: the reason searches do not use its decoder');
      const [sub] = both(ldapMessage(1, searchOp({ base: '', filter: { sub: ['pgpUserID', { initial: value, any: [value], final: value }] } })));
      assert.deepEqual([sub.filter.initial, sub.filter.any, sub.filter.final], [value, [value], value]);
    }
  });

  it('reads the paged-results control as ldapjs does', () => {
    const message = ldapMessage(3, searchOp({ base: '' }), [pagedControl(25, Buffer.from('cookie'), true)]);
    const [ours, theirs] = both(message);
    assert.equal(ours.controls[0]?.type, theirs.controls[0]?.type);
    assert.equal(ours.controls[0]?.criticality, true);
    assert.deepEqual(ours.controls[0]?.value, { size: 25, cookie: Buffer.from('cookie') });
    assert.deepEqual(ours.controls[0]?.value, theirs.controls[0]?.value);
  });

  it('refuses what is not a well-formed search', () => {
    const bad = [
      ldapMessage(1, searchOp({ base: 'x', filter: Buffer.from([0xb0, 0x00]) })),
      ldapMessage(1, Buffer.concat([Buffer.from([0x63, 0x03]), Buffer.from([0x04, 0x01, 0x78])])),
      ldapMessage(1, searchOp({ base: 'x', filter: Buffer.from([0xa4, 0x05, 0x04, 0x01, 0x61, 0x30, 0x00]) })),
    ];
    for (const message of bad) assert.throws(() => decodeSearchRequest(message), (e: unknown) => e instanceof DecodeError || e instanceof BerError);
  });
});
