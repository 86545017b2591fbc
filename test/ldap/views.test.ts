// What the pgpKeyInfo entries derive from a key's user IDs, as GnuPG's dirmngr does, and the
// GeneralizedTime form of their times.
import assert from 'node:assert/strict';
import { generalizedTime } from '../../ics/ldap/entry.ts';
import { mailboxOf } from '../../ics/ldap/views.ts';

describe('ldap/views', () => {
  it('finds mailboxes as GnuPG does', () => {
    assert.equal(mailboxOf('Alice Example <Alice@Example.org>'), 'alice@example.org');
    assert.equal(mailboxOf('bob@example.org'), 'bob@example.org');
    assert.equal(mailboxOf('urn:cm4it:device:acme.example:cam-3:SN1'), undefined);
  });

  it('writes times as GeneralizedTime in UTC to the second, as dirmngr parses them', () => {
    assert.equal(generalizedTime(new Date(Date.UTC(2025, 0, 1, 12, 0, 0))), '20250101120000Z');
    assert.equal(generalizedTime(new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 999))), '20261231235959Z');
    assert.equal(generalizedTime(new Date(Date.UTC(2009, 8, 7, 6, 5, 4))), '20090907060504Z');
    // Every instant of a span, against the ISO form it must agree with.
    for (let t = Date.UTC(1999, 11, 31, 23, 0, 0); t < Date.UTC(2000, 0, 1, 1, 0, 0); t += 7_001) {
      const d = new Date(t);
      assert.equal(generalizedTime(d), `${d.toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`);
    }
  });
});
