// Bad input: malformed BER, invalid DNs and filters, deep and huge filters, oversized
// messages, unknown controls and operations. Each gets its result code (or, when the stream
// cannot be read, the Notice of Disconnection of RFC 4511 §4.4.1), nothing is stored, and the
// server keeps serving other sessions — and, when the message could be framed, this one.
import assert from 'node:assert/strict';
import { constructed, integer, octets, Tag } from '../../ics/ldap/ber.ts';
import { BASE, KEYS, type LdapTestNode, startLdap } from './helpers.ts';
import { control, extendedOp, type FilterSpec, filter, ldapMessage, searchOp, WireClient } from './wire.ts';

const R = {
  success: 0,
  protocolError: 2,
  adminLimitExceeded: 11,
  unavailableCriticalExtension: 12,
  invalidDNSyntax: 34,
};
const NOTICE_OF_DISCONNECTION = '1.3.6.1.4.1.1466.20036';

describe('ldap/bad input', () => {
  let node: LdapTestNode;
  before(async () => {
    node = await startLdap();
  });
  after(() => node.stop());

  /** The server answers a fresh session normally. */
  async function stillServing(): Promise<void> {
    const client = await WireClient.connect(node.port);
    try {
      const { entries, done } = await client.search({ base: '', scope: 'base', attributes: ['namingContexts'] });
      assert.equal(done.code, R.success);
      assert.equal(entries.length, 1);
    } finally {
      client.close();
    }
  }

  /** Sends raw bytes and expects a Notice of Disconnection (protocolError) and a closed session. */
  async function disconnects(bytes: Buffer): Promise<void> {
    const client = await WireClient.connect(node.port);
    client.send(bytes);
    await client.closed;
    const notice = client.notices[0];
    assert.ok(notice, 'a Notice of Disconnection');
    assert.equal(notice.responseName, NOTICE_OF_DISCONNECTION);
    assert.equal(notice.code, R.protocolError);
    await stillServing();
  }

  describe('malformed BER: Notice of Disconnection, session closed, server serving', () => {
    it('a message that is not a SEQUENCE', () => disconnects(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
    it('an indefinite length', () => disconnects(Buffer.from([0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00])));
    it('a length longer than four bytes', () => disconnects(Buffer.from([0x30, 0x85, 1, 0, 0, 0, 0])));
    it('a message id that is not an INTEGER', () => disconnects(Buffer.from([0x30, 0x05, 0x04, 0x01, 0x01, 0x42, 0x00])));
    it('inner lengths that overrun the message', () => disconnects(Buffer.from([0x30, 0x07, 0x02, 0x01, 0x01, 0x63, 0x7f, 0x04, 0x00])));
    it('an unknown operation', () => disconnects(ldapMessage(1, constructed(0x7e, [octets('x')]))));
    it('a message beyond any size the server reads', () => disconnects(Buffer.from([0x30, 0x84, 0x40, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x63])));
  });

  describe('well-framed requests with bad content: a result code, the session goes on', () => {
    let client: WireClient;
    beforeEach(async () => {
      client = await WireClient.connect(node.port);
    });
    afterEach(async () => {
      // The same session still answers.
      const { done } = await client.search({ base: '', scope: 'base' });
      assert.equal(done.code, R.success);
      client.close();
    });

    it('invalid DNs: invalidDNSyntax', async () => {
      for (const dn of ['cn=\\zz', 'no equals sign', '=value,dc=x', `cn=a,,${BASE}`]) {
        assert.equal((await client.search({ base: dn })).done.code, R.invalidDNSyntax, dn);
      }
    });

    it('a filter of an unknown type: protocolError', async () => {
      const bad = constructed(0xa9 + 0x10, [octets('x')]);
      assert.equal((await client.result(searchOp({ base: BASE, filter: bad }))).code, R.protocolError);
    });

    it('a filter nested too deep: adminLimitExceeded', async () => {
      let deep: FilterSpec = { eq: ['cn', 'x'] };
      for (let i = 0; i < 40; i++) deep = { not: deep };
      assert.equal((await client.search({ base: BASE, filter: deep })).done.code, R.adminLimitExceeded);
      // Built bytes-first: a recursive encoder (like ldapjs's decoder) would overflow the stack.
      let deeper = filter({ present: 'cn' });
      for (let i = 0; i < 5000; i++) deeper = constructed(0xa0, [deeper]);
      assert.equal((await client.search({ base: BASE, filter: deeper })).done.code, R.adminLimitExceeded);
    });

    it('a filter with too many items: adminLimitExceeded', async () => {
      const wide: FilterSpec = { or: Array.from({ length: 600 }, (_, i) => ({ eq: ['pgpCertID', i.toString(16).padStart(16, '0')] as [string, string] })) };
      assert.equal((await client.search({ base: KEYS, filter: wide })).done.code, R.adminLimitExceeded);
    });

    it('a search larger than the server reads: adminLimitExceeded, unread', async () => {
      const huge: FilterSpec = { eq: ['pgpUserID', 'x'.repeat(100 * 1024)] };
      assert.equal((await client.search({ base: KEYS, filter: huge })).done.code, R.adminLimitExceeded);
    });

    it('too many requested attributes: adminLimitExceeded', async () => {
      const attributes = Array.from({ length: 100 }, (_, i) => `a${i}`);
      assert.equal((await client.search({ base: BASE, attributes })).done.code, R.adminLimitExceeded);
    });

    it('an unsupported critical control: unavailableCriticalExtension; a non-critical one is ignored', async () => {
      const sort = control('1.2.840.113556.1.4.473', true, constructed(Tag.sequence, [constructed(Tag.sequence, [octets('cn')])]));
      assert.equal((await client.search({ base: BASE }, [sort])).done.code, R.unavailableCriticalExtension);
      const lenient = control('1.2.840.113556.1.4.473', false, constructed(Tag.sequence, [constructed(Tag.sequence, [octets('cn')])]));
      assert.equal((await client.search({ base: BASE, scope: 'base' }, [lenient])).done.code, R.success);
    });

    it('an unknown extended operation: protocolError', async () => {
      assert.equal((await client.result(extendedOp('1.2.3.4.5'))).code, R.protocolError);
    });

    it('an invalid scope value: protocolError', async () => {
      const op = constructed(0x63, [
        octets(BASE),
        integer(7, Tag.enumerated),
        integer(0, Tag.enumerated),
        integer(0),
        integer(0),
        Buffer.from([Tag.boolean, 1, 0]),
        filter({ present: 'objectClass' }),
        constructed(Tag.sequence, []),
      ]);
      assert.equal((await client.result(op)).code, R.protocolError);
    });
  });

  it('many sessions sending garbage at once leave the server serving', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => disconnects(Buffer.from([0x30, 0x80 + (i % 3 === 0 ? 0 : 5), 0, 0, 0, 0, 0]))));
    await stillServing();
  });
});
