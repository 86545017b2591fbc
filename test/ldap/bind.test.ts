// Binds (RFC 4513): anonymous, simple binds as configured users, only over TLS unless plain
// binds are allowed, LDAPS and StartTLS, and the answers to every wrong kind of bind.
import assert from 'node:assert/strict';
import { BASE, type LdapTestNode, PASSWORDS, startLdap, testCertificate, userDn } from './helpers.ts';
import { bindOp, extendedOp, saslBindOp, WireClient } from './wire.ts';

const R = {
  success: 0,
  operationsError: 1,
  protocolError: 2,
  authMethodNotSupported: 7,
  confidentialityRequired: 13,
  invalidDNSyntax: 34,
  invalidCredentials: 49,
  unwillingToPerform: 53,
};
const WHO_AM_I = '1.3.6.1.4.1.4203.1.11.3';

describe('ldap/bind', () => {
  describe('on a plain listener that allows plain binds', () => {
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

    it('accepts a configured user and says who it is', async () => {
      assert.equal((await client.bind(userDn('alice'), PASSWORDS.alice)).code, R.success);
      const who = await client.result(extendedOp(WHO_AM_I));
      assert.equal(who.code, R.success);
      assert.equal(who.responseValue?.toString(), `dn:${userDn('alice')}`);
    });

    it('answers invalidCredentials for a wrong password, an unknown user or a DN outside ou=users', async () => {
      for (const [name, password] of [
        [userDn('alice'), 'wrong'],
        [userDn('mallory'), 'whatever'],
        [`cn=alice,${BASE}`, PASSWORDS.alice],
        [`cn=alice,ou=users,dc=other`, PASSWORDS.alice],
      ] as const) {
        assert.equal((await client.bind(name, password)).code, R.invalidCredentials, name);
      }
    });

    it('a failed bind leaves the session anonymous', async () => {
      await client.bind(userDn('alice'), PASSWORDS.alice);
      await client.bind(userDn('alice'), 'wrong');
      const who = await client.result(extendedOp(WHO_AM_I));
      assert.equal(who.responseValue?.toString() ?? '', '');
    });

    it('answers invalidDNSyntax, unwillingToPerform, authMethodNotSupported and protocolError where due', async () => {
      assert.equal((await client.bind('not a dn', 'x')).code, R.invalidDNSyntax);
      assert.equal((await client.bind(userDn('alice'), '')).code, R.unwillingToPerform, 'unauthenticated bind');
      assert.equal((await client.result(saslBindOp('', 'EXTERNAL'))).code, R.authMethodNotSupported);
      assert.equal((await client.result(bindOp(userDn('alice'), PASSWORDS.alice, 2))).code, R.protocolError);
      assert.equal((await client.bind('', '')).code, R.success, 'anonymous bind');
    });

    it('does not offer StartTLS without a certificate', async () => {
      assert.equal((await client.result(extendedOp('1.3.6.1.4.1.1466.20037'))).code, R.protocolError);
    });
  });

  describe('on a plain listener that requires TLS for binds', () => {
    it('refuses a password over plain LDAP with confidentialityRequired', async () => {
      const node = await startLdap({ init: { allowInsecureBind: false } });
      const client = await WireClient.connect(node.port);
      try {
        assert.equal((await client.bind(userDn('alice'), PASSWORDS.alice)).code, R.confidentialityRequired);
        assert.equal((await client.bind('', '')).code, R.success);
      } finally {
        client.close();
        await node.stop();
      }
    });
  });

  describe('with TLS', () => {
    let tls: { cert: string; key: string } | undefined;
    before(async () => {
      tls = await testCertificate();
    });

    it('LDAPS: binds and searches over TLS from the first byte', async () => {
      const t = tls as { cert: string; key: string };
      const node = await startLdap({ init: { allowInsecureBind: false, tls: t } });
      let client: WireClient | undefined;
      try {
        assert.match(node.url, /^ldaps:/);
        client = await WireClient.connect(node.port, { tls: true, ca: t.cert });
        assert.equal((await client.bind(userDn('bob'), PASSWORDS.bob)).code, R.success);
        const { entries } = await client.search({ base: '', scope: 'base', attributes: ['namingContexts'] });
        assert.equal(entries.length, 1);
      } finally {
        client?.close();
        await node.stop();
      }
    });

    it('StartTLS: upgrades a plain session, then accepts the bind', async () => {
      const t = tls as { cert: string; key: string };
      const node = await startLdap({ init: { allowInsecureBind: false, tls: { ...t, mode: 'starttls' } } });
      let plain: WireClient | undefined;
      try {
        plain = await WireClient.connect(node.port);
        const root = await plain.search({ base: '', scope: 'base', attributes: ['supportedExtension'] });
        assert.ok(root.entries[0]?.attributes?.get('supportedExtension')?.includes('1.3.6.1.4.1.1466.20037'));
        assert.equal((await plain.bind(userDn('bob'), PASSWORDS.bob)).code, R.confidentialityRequired);
        const secure = await plain.startTls(t.cert);
        try {
          assert.equal((await secure.bind(userDn('bob'), PASSWORDS.bob)).code, R.success);
          assert.equal((await secure.result(extendedOp('1.3.6.1.4.1.1466.20037'))).code, R.operationsError, 'TLS already established');
        } finally {
          secure.close();
        }
      } finally {
        plain?.close();
        await node.stop();
      }
    });
  });
});
