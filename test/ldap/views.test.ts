// What the pgpKeyInfo entries derive from a key's user IDs, as GnuPG's dirmngr does.
import assert from 'node:assert/strict';
import { mailboxOf } from '../../ics/ldap/views.ts';

describe('ldap/views', () => {
  it('finds mailboxes as GnuPG does', () => {
    assert.equal(mailboxOf('Alice Example <Alice@Example.org>'), 'alice@example.org');
    assert.equal(mailboxOf('bob@example.org'), 'bob@example.org');
    assert.equal(mailboxOf('urn:cm4it:device:acme.example:cam-3:SN1'), undefined);
  });
});
