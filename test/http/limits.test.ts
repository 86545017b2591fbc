// Abuse limits of the HTTP listener: one address holding its cap of idle sockets does not lock
// out another, the idle sockets are closed by the request timeout, and requests beyond the
// per-address rate are answered 429 with Retry-After and counted. 127.0.0.2 is a second
// client: Linux routes all of 127/8 to loopback.
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Registry } from 'prom-client';
import type { Authenticator } from '../../ics/auth/index.ts';
import { AUTH_FAILURES_PER_MINUTE } from '../../ics/http/limits.ts';
import { basic, capturingLogger, startNode, tableAuthenticator, type TestNode } from '../hkp/helpers.ts';

const OTHER_CLIENT = '127.0.0.2';

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
    socket.resume(); // read (and drop) what arrives, so that the server's close is seen
  });
}

const closed = (socket: Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

/** GET from another source address; resolves with the status. */
function getFrom(localAddress: string, port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, localAddress, agent: false, headers }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
  });
}

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value ?? 0;
}

/** The test users' authenticator, counting the checks it makes (each a scrypt in production). */
function countingAuthenticator(): Authenticator & { calls: number } {
  const inner = tableAuthenticator({ alice: { password: 'right', write: false } });
  const counting = {
    calls: 0,
    authenticate(name: string, password: string) {
      counting.calls++;
      return inner.authenticate(name, password);
    },
  };
  return counting;
}

describe('hkp abuse limits', () => {
  let node: TestNode | undefined;
  afterEach(async () => {
    await node?.close();
    node = undefined;
  });

  it('one address holding its cap of idle sockets does not lock out another; the idle ones are closed', async () => {
    node = await startNode({ init: { maxConnectionsPerAddress: 3, requestTimeoutSeconds: 1 } });
    const held = await Promise.all([1, 2, 3].map(() => rawSocket((node as TestNode).port)));
    const over = await rawSocket(node.port);
    await closed(over);
    assert.equal(await counter(node.registry, 'ics_connections_refused_total', { listener: 'hkp', reason: 'per-address' }), 1);
    assert.equal(await getFrom(OTHER_CLIENT, node.port, '/pks/lookup?op=stats'), 200, 'another address is served');
    await Promise.all(held.map(closed));
  });

  it('requests beyond the per-address rate get 429 with Retry-After and are counted; another address is unaffected', async () => {
    node = await startNode({ init: { requestsPerMinute: 3 } });
    for (let i = 0; i < 3; i++) assert.equal((await node.fetch('/pks/lookup?op=stats')).status, 200);
    const refused = await node.fetch('/pks/lookup?op=stats');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After in seconds');
    assert.match(await refused.text(), /^RATE_LIMITED: /);
    assert.equal(await counter(node.registry, 'ics_requests_rate_limited_total', { listener: 'hkp' }), 1);
    assert.equal(await getFrom(OTHER_CLIENT, node.port, '/pks/lookup?op=stats'), 200);
  });

  it('the request rate limit refuses before credentials are checked', async () => {
    const authenticator = countingAuthenticator();
    node = await startNode({ init: { requestsPerMinute: 2 }, authenticator });
    for (let i = 0; i < 2; i++) assert.equal((await node.fetch('/pks/lookup?op=stats')).status, 200);
    const refused = await node.fetch('/pks/lookup?op=stats', { headers: { authorization: basic('alice', 'guess') } });
    assert.equal(refused.status, 429);
    assert.equal(authenticator.calls, 0, 'no password check for a request over the rate');
    assert.equal((await node.fetch('/no/such/path', { headers: { authorization: basic('alice', 'guess') } })).status, 429, 'unknown URLs too');
    assert.equal(authenticator.calls, 0);
  });

  it('failed authentications per address are limited before the check; other addresses and known-good credentials still pass', async () => {
    const authenticator = countingAuthenticator();
    const { logger, lines } = capturingLogger('warn');
    node = await startNode({ authenticator, logger });
    const n = AUTH_FAILURES_PER_MINUTE + 5;
    // Concurrent guesses: the limit holds however many checks are under way at once.
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) => (node as TestNode).fetch('/pks/lookup?op=stats', { headers: { authorization: basic('alice', `guess-${i}`) } })),
    );
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array<number>(AUTH_FAILURES_PER_MINUTE).fill(401), ...Array<number>(5).fill(429)]);
    assert.equal(authenticator.calls, AUTH_FAILURES_PER_MINUTE, 'no password check past the limit');
    const refused = answers.find((r) => r.status === 429) as Response;
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After in seconds');
    assert.match(await refused.text(), /^RATE_LIMITED: .*failed authentications/);
    // The right password from the throttled address waits too: it is not checked.
    assert.equal((await node.fetch('/pks/lookup?op=stats', { headers: { authorization: basic('alice', 'right') } })).status, 429);
    assert.equal(authenticator.calls, AUTH_FAILURES_PER_MINUTE);
    // Another address is checked as usual.
    assert.equal(await getFrom(OTHER_CLIENT, node.port, '/pks/lookup?op=stats', { authorization: basic('alice', 'wrong') }), 401);
    assert.equal(await getFrom(OTHER_CLIENT, node.port, '/pks/lookup?op=stats', { authorization: basic('alice', 'right') }), 200);
    assert.equal(authenticator.calls, AUTH_FAILURES_PER_MINUTE + 2);
    // Credentials known good (checked within the cache's lifetime) need no check, and pass.
    assert.equal((await node.fetch('/pks/lookup?op=stats', { headers: { authorization: basic('alice', 'right') } })).status, 200);
    assert.equal(authenticator.calls, AUTH_FAILURES_PER_MINUTE + 2);
    assert.equal(await counter(node.registry, 'ics_authentication_failures_total', { listener: 'hkp' }), AUTH_FAILURES_PER_MINUTE + 1);
    assert.equal(await counter(node.registry, 'ics_authentication_throttled_total', { listener: 'hkp' }), 6);
    assert.equal(lines.filter((l) => l.msg === 'request refused: too many failed authentications').length, 1, 'logged once, throttled');
  });

  it('addresses in the exempt list are not limited', async () => {
    node = await startNode({ init: { requestsPerMinute: 1, exempt: ['127.0.0.0/31'] } });
    for (let i = 0; i < 5; i++) assert.equal((await node.fetch('/pks/lookup?op=stats')).status, 200);
    assert.equal(await getFrom('127.0.0.2', node.port, '/pks/lookup?op=stats'), 200);
    assert.equal(await getFrom('127.0.0.2', node.port, '/pks/lookup?op=stats'), 429, '127.0.0.2 is outside 127.0.0.0/31');
  });

  it('normal traffic under the default limits is unaffected', async () => {
    node = await startNode();
    const statuses = await Promise.all(Array.from({ length: 40 }, () => (node as TestNode).fetch('/pks/lookup?op=stats').then((r) => r.status)));
    assert.ok(statuses.every((s) => s === 200));
    assert.equal(await counter(node.registry, 'ics_requests_rate_limited_total', { listener: 'hkp' }), 0);
  });

  it('refuses a bad exempt entry at start', async () => {
    await assert.rejects(startNode({ init: { exempt: ['10.0.0.0/33'] } }), /not an IP address or CIDR block/);
  });
});
