// Binds (RFC 4513): anonymous, simple binds as configured users, only over TLS unless plain
// binds are allowed, LDAPS and StartTLS, the answers to every wrong kind of bind, and the
// limit on failed binds per client address. 127.0.0.2 is a second client: Linux routes all of
// 127/8 to loopback.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
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
  busy: 51,
  unwillingToPerform: 53,
};
/** Failed binds one address may make in a window (BIND_FAILURES_PER_WINDOW). */
const FAILURES = 10;
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

  describe('failed binds per client address', () => {
    let node: LdapTestNode | undefined;
    afterEach(async () => {
      await node?.stop();
      node = undefined;
    });

    async function counter(registry: Registry, name: string): Promise<number> {
      const metric = await registry.getSingleMetric(name)?.get();
      return metric?.values.find((v) => v.labels.listener === 'ldap')?.value ?? 0;
    }

    it('past the limit, a bind is answered busy (51) without checking the password, even the right one; counted', async () => {
      const registry = new Registry();
      let checks = 0;
      node = await startLdap({
        registry,
        wrapAuthenticator: (a) => ({
          authenticate: (name, password) => {
            checks++;
            return a.authenticate(name, password);
          },
        }),
      });
      const client = await WireClient.connect(node.port);
      const other = await WireClient.connect(node.port, { localAddress: '127.0.0.2' });
      try {
        for (let i = 0; i < FAILURES; i++) assert.equal((await client.bind(userDn('alice'), 'wrong')).code, R.invalidCredentials);
        assert.equal((await client.bind(userDn('alice'), PASSWORDS.alice)).code, R.busy);
        const again = await WireClient.connect(node.port);
        assert.equal((await again.bind(userDn('bob'), PASSWORDS.bob)).code, R.busy, 'another session from the address');
        again.close();
        assert.equal(checks, FAILURES, 'refused binds are not checked');
        assert.equal((await client.bind('', '')).code, R.success, 'an anonymous bind needs no check');
        assert.equal((await other.bind(userDn('alice'), PASSWORDS.alice)).code, R.success, 'another address keeps its own count');
        assert.equal(await counter(registry, 'ics_authentication_failures_total'), FAILURES);
        assert.equal(await counter(registry, 'ics_authentication_throttled_total'), 2);
      } finally {
        client.close();
        other.close();
      }
    });

    it('does not limit an exempt address', async () => {
      node = await startLdap({ init: { exempt: ['127.0.0.1'] } });
      const client = await WireClient.connect(node.port);
      try {
        for (let i = 0; i <= FAILURES; i++) assert.equal((await client.bind(userDn('alice'), 'wrong')).code, R.invalidCredentials);
        assert.equal((await client.bind(userDn('alice'), PASSWORDS.alice)).code, R.success);
      } finally {
        client.close();
      }
    });

    it('checks binds again once the window has ended', async () => {
      node = await startLdap({ init: { bindFailureWindowSeconds: 1 } });
      const port = node.port;
      // One more wrong bind than allowed, each on its own session and all at once: they are
      // counted as they arrive, well within the window, so that one is refused.
      const clients = await Promise.all(Array.from({ length: FAILURES + 1 }, () => WireClient.connect(port)));
      try {
        const codes = (await Promise.all(clients.map((c) => c.bind(userDn('alice'), 'wrong')))).map((r) => r.code);
        assert.deepEqual(codes.filter((c) => c === R.busy).length, 1, codes.join(','));
        await sleep(1100);
        assert.equal((await (clients[0] as WireClient).bind(userDn('alice'), PASSWORDS.alice)).code, R.success);
      } finally {
        for (const c of clients) c.close();
      }
    });
  });
});
