// The one reading of `HOST:PORT` listener addresses (config `listen.*`, `ics serve` flags).
import assert from 'node:assert/strict';
import { isIcsError } from '../../ics/errors.ts';
import { formatHostPort, parseHostPort } from '../../ics/net/address.ts';

describe('net: host:port addresses', () => {
  it('reads names, IPv4 and bracketed IPv6 hosts, ports 0..65535', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:11371'), { host: '127.0.0.1', port: 11371 });
    assert.deepEqual(parseHostPort('localhost:0'), { host: 'localhost', port: 0 });
    assert.deepEqual(parseHostPort('[::1]:1389'), { host: '::1', port: 1389 });
    assert.deepEqual(parseHostPort('[::ffff:127.0.0.1]:65535'), { host: '::ffff:127.0.0.1', port: 65535 });
    assert.deepEqual(parseHostPort('  keys.example.org:443\n'), { host: 'keys.example.org', port: 443 });
  });

  it('refuses a missing port, a port out of range and an IPv6 host without brackets (BAD_REQUEST)', () => {
    for (const bad of ['127.0.0.1', '127.0.0.1:', ':11371', '[::1]', 'host:65536', 'host:123456', 'host:-1', 'host:http', '::1:11371', 'a b:80', '']) {
      assert.throws(
        () => parseHostPort(bad),
        (e: unknown) => isIcsError(e, 'BAD_REQUEST') && e.message.includes('HOST:PORT'),
        JSON.stringify(bad),
      );
    }
  });

  it('writes what it reads: IPv6 hosts back in brackets', () => {
    for (const text of ['127.0.0.1:11371', '[::1]:0', 'localhost:65535']) {
      const { host, port } = parseHostPort(text);
      assert.equal(formatHostPort(host, port), text);
    }
  });
});
