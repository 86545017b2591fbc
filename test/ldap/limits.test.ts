// Abuse limits of the LDAP listener: idle anonymous sessions are closed, one address holding
// its cap of sockets does not lock out another address, and operations beyond the rate are
// answered busy (51) and counted. 127.0.0.2 is a second client: Linux routes all of 127/8 to
// loopback.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { BASE, startLdap, type LdapTestNode } from './helpers.ts';
import { compareOp, WireClient } from './wire.ts';

const OTHER_CLIENT = '127.0.0.2';

function rawSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.once('error', reject);
    socket.resume(); // read (and drop) what arrives, so that the server's close is seen
  });
}

const closed = (socket: Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const sample = metric?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  return sample?.value ?? 0;
}

describe('ldap abuse limits', () => {
  let node: LdapTestNode | undefined;
  afterEach(async () => {
    await node?.stop();
    node = undefined;
  });

  it('one address holding its cap of idle sockets does not lock out another; the idle ones are closed', async () => {
    const registry = new Registry();
    node = await startLdap({ init: { maxConnectionsPerAddress: 3, idleTimeoutSeconds: 1 }, registry });
    const held = await Promise.all([1, 2, 3].map(() => rawSocket((node as LdapTestNode).port)));
    // The server counts a connection when it accepts it: the next one from this address is refused.
    const over = await rawSocket(node.port);
    await closed(over);
    assert.equal(await counter(registry, 'ics_connections_refused_total', { listener: 'ldap', reason: 'per-address' }), 1);

    const other = await WireClient.connect(node.port, { localAddress: OTHER_CLIENT });
    const { done } = await other.search({ base: '', scope: 'base' });
    assert.equal(done.code, 0, 'another address is served');
    other.close();

    // The held sockets sent nothing: the idle timeout closes them (how soon is not asserted).
    await Promise.all(held.map(closed));
  });

  it('an anonymous session idle after a request is closed too', async () => {
    node = await startLdap({ init: { idleTimeoutSeconds: 1 } });
    const client = await WireClient.connect(node.port);
    assert.equal((await client.search({ base: '', scope: 'base' })).done.code, 0);
    await client.closed;
    assert.equal(client.notices[0]?.code, 52, 'Notice of Disconnection: unavailable');
  });

  it('operations beyond the per-address rate are answered busy (51) and counted; others are unaffected', async () => {
    const registry = new Registry();
    node = await startLdap({ init: { requestsPerSecond: 1 }, registry });
    const client = await WireClient.connect(node.port);
    // Twenty at once: the burst (5) is served, most of the rest find no token.
    client.cork();
    const answers = Array.from({ length: 20 }, () => client.result(compareOp(`cn=pgpServerInfo,${BASE}`, 'objectClass', 'pgpServerInfo')));
    client.uncork();
    const codes = (await Promise.all(answers)).map((r) => r.code);
    assert.notEqual(codes[0], 51, 'the first is served');
    const busy = codes.filter((c) => c === 51).length;
    assert.ok(busy >= 1, `some were refused: ${codes.join(',')}`);
    assert.equal(await counter(registry, 'ics_requests_rate_limited_total', { listener: 'ldap' }), busy);

    const other = await WireClient.connect(node.port, { localAddress: OTHER_CLIENT });
    assert.equal((await other.search({ base: '', scope: 'base' })).done.code, 0, 'another address keeps its own rate');
    other.close();
    client.close();
  });

  it('normal traffic under the default limits is unaffected', async () => {
    const registry = new Registry();
    node = await startLdap({ registry });
    const clients = await Promise.all(Array.from({ length: 8 }, () => WireClient.connect((node as LdapTestNode).port)));
    for (const c of clients) for (let i = 0; i < 5; i++) assert.equal((await c.search({ base: '', scope: 'base' })).done.code, 0);
    for (const c of clients) c.close();
    assert.equal(await counter(registry, 'ics_requests_rate_limited_total', { listener: 'ldap' }), 0);
    assert.equal(await counter(registry, 'ics_connections_refused_total', { listener: 'ldap', reason: 'per-address' }), 0);
  });
});
