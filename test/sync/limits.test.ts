// The sync listener's per-address connection cap: connections count from the moment they are
// accepted, so that sockets that never finish the Noise handshake count as much as peers that
// did; the one over the cap is refused and counted, and a peer from another address is still
// served. 127.0.0.2 is a second client: Linux routes all of 127/8 to loopback; the dialers
// bind their TCP sockets to it through @libp2p/tcp's dialOpts, which go to net.connect.
import '../../ics/sync/polyfill.ts';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p } from '@libp2p/interface';
import { tcp, type TCPSocketOptions } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { Registry } from 'prom-client';
import { MAX_PENDING_PER_ADDRESS } from '../../ics/sync/consts.ts';
import type { PeerKey } from '../../ics/sync/index.ts';
import { peerKey, removeTempDirs, startMesh, stopAll, type TestNode } from './helpers/nodes.ts';

const OTHER_CLIENT = '127.0.0.2';
const CAP = 3;

/** A libp2p node that only dials, from `localAddress`. */
function dialer(key: PeerKey, localAddress: string): Promise<Libp2p> {
  return createLibp2p({
    privateKey: key.privateKey,
    transports: [tcp({ dialOpts: { localAddress } as TCPSocketOptions })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
  });
}

/** A TCP connection from 127.0.0.1 that sends nothing: it never starts the Noise handshake. */
function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
    socket.resume();
  });
}

const closed = (socket: Socket) => new Promise<Socket>((resolve) => (socket.destroyed ? resolve(socket) : socket.once('close', () => resolve(socket))));

async function refusedPerAddress(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('ics_connections_refused_total')?.get();
  return metric?.values.find((v) => v.labels.listener === 'sync' && v.labels.reason === 'per-address')?.value ?? 0;
}

describe('sync: per-address connection cap', function () {
  this.timeout(60_000);
  let nodes: Map<string, TestNode> | undefined;
  const dialers: Libp2p[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const d of dialers.splice(0)) await d.stop();
    if (nodes) await stopAll(nodes.values());
    nodes = undefined;
  });
  after(removeTempDirs);

  /** Node `a`, capped at `cap` connections per address, naming `names` as peers. */
  async function start(names: readonly string[], cap = CAP): Promise<{ a: TestNode; keys: Map<string, PeerKey>; registry: Registry }> {
    const keys = new Map<string, PeerKey>();
    for (const n of ['a', ...names]) keys.set(n, await peerKey());
    const registry = new Registry();
    nodes = await startMesh(
      [{ name: 'a', domains: [{ name: 'devices', read: 'public' }], peers: names.map((node) => ({ node })), init: { maxConnectionsPerAddress: cap }, metrics: { registry } }],
      keys,
    );
    return { a: nodes.get('a') as TestNode, keys, registry };
  }

  async function dialFrom(key: PeerKey, localAddress: string, address: string): Promise<void> {
    const d = await dialer(key, localAddress);
    dialers.push(d);
    await d.dial(multiaddr(address));
  }

  it('counts sockets that never finish the handshake: the one over the cap is refused, another address is served', async () => {
    const { a, keys, registry } = await start(['far']);
    await holdHandshakes(a, CAP);
    assert.equal(await refusedPerAddress(registry), 1);
    await dialFrom(keys.get('far') as PeerKey, OTHER_CLIENT, a.address);
    assert.equal(await refusedPerAddress(registry), 1);
  });

  it('under a larger cap, one address may hold only a share of the handshake slots', async () => {
    const { a, keys, registry } = await start(['far'], 16);
    await holdHandshakes(a, MAX_PENDING_PER_ADDRESS);
    assert.equal(await refusedPerAddress(registry), 1);
    await dialFrom(keys.get('far') as PeerKey, OTHER_CLIENT, a.address);
  });

  /** Opens `n` + 1 silent sockets from 127.0.0.1: the one the node took last is closed at once, the others stay open. */
  async function holdHandshakes(a: TestNode, n: number): Promise<void> {
    const port = Number(multiaddr(a.address).getComponents().find((c) => c.name === 'tcp')?.value);
    sockets.push(...(await Promise.all(Array.from({ length: n + 1 }, () => rawSocket(port)))));
    const refused = await Promise.race(sockets.map(closed));
    assert.equal(sockets.filter((s) => s !== refused && !s.destroyed).length, n, 'the others are still open, mid-handshake');
  }

  it('counts upgraded connections: a peer over the cap is refused, one from another address connects', async () => {
    const names = Array.from({ length: CAP + 1 }, (_, i) => `p${i}`);
    const { a, keys, registry } = await start([...names, 'far']);
    for (const n of names.slice(0, CAP)) await dialFrom(keys.get(n) as PeerKey, '127.0.0.1', a.address);
    await assert.rejects(dialFrom(keys.get(names[CAP] as string) as PeerKey, '127.0.0.1', a.address));
    assert.equal(await refusedPerAddress(registry), 1);
    await dialFrom(keys.get('far') as PeerKey, OTHER_CLIENT, a.address);
    assert.equal(await refusedPerAddress(registry), 1);
  });
});
