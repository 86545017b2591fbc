// A peer the policy names, misbehaving: garbage, an oversized frame, reconciliation that never
// ends, records that do not verify or are not the ones asked for. Each time the node
// disconnects it, reports it (status and log), refuses it for a while, and stores nothing it
// sent. And a peer asking for what it may not read gets nothing.
import assert from 'node:assert/strict';
import { Mode, MessageType, type Message } from '../../ics/sync/codec.ts';
import type { PeerKey } from '../../ics/sync/index.ts';
import { digestPrefix } from '../../ics/sync/reconcile.ts';
import { eventually, peerKey, records, removeTempDirs, startMesh, stopAll, type TestNode } from './helpers/nodes.ts';
import { type RawChannel, type RawPeer, rawPeer } from './helpers/raw-peer.ts';
import { seededRandom } from '../helpers/random.ts';

// Seeded: the garbage and fake fingerprints are the same on every run.
const rng = seededRandom(0xbad);

const MAX_MESSAGE = 64 * 1024;

describe('sync: misbehaving peers', function () {
  this.timeout(60_000);
  let nodes: Map<string, TestNode> | undefined;
  let raw: RawPeer | undefined;
  let logs: Array<Record<string, unknown>>;

  beforeEach(() => {
    logs = [];
  });
  afterEach(async () => {
    if (nodes) await stopAll(nodes.values());
    await raw?.stop();
    nodes = undefined;
    raw = undefined;
  });
  after(removeTempDirs);

  /** Node `a` with the raw peer `m` in its policy (a pulls devices from m and pushes to it). */
  async function victim(serve?: (channel: RawChannel, a: () => TestNode) => Promise<void>, seed = 0, maxRounds = 4096): Promise<{ a: TestNode; m: RawPeer; key: PeerKey }> {
    const key = await peerKey();
    const holder: { a?: TestNode } = {};
    raw = await rawPeer(key, serve && ((channel) => serve(channel, () => holder.a as TestNode)));
    nodes = await startMesh(
      [
        {
          name: 'a',
          domains: [{ name: 'devices', read: 'public' }, { name: 'secret', read: [] }],
          peers: [{ node: 'm', pull: ['devices'], push: ['devices'], dial: serve !== undefined }],
          init: { maxMessageBytes: MAX_MESSAGE, limits: { maxRounds, banMs: 30_000 } },
          logs,
        },
      ],
      new Map([['m', key]]),
      new Map([['m', [raw.address]]]),
    );
    const a = nodes.get('a') as TestNode;
    holder.a = a;
    const r = await records();
    for (let i = 0; i < seed; i++) await a.ingest.submit(r.device().bytes, { source: 'cli' });
    for (let i = 0; i < 3; i++) await a.ingest.submit(r.device('secret.example').bytes, { source: 'cli' });
    return { a, m: raw, key };
  }

  async function reported(a: TestNode, peerId: string, reason: RegExp): Promise<void> {
    await eventually(() => {
      const status = a.service.peers().find((p) => p.peerId === peerId);
      assert.ok(status && status.misbehaviour.count >= 1, 'misbehaviour counted');
      assert.match(status.misbehaviour.lastReason ?? '', reason);
      assert.ok(status.misbehaviour.bannedUntil && status.misbehaviour.bannedUntil.getTime() > Date.now(), 'banned');
      assert.equal(status.connected, false, 'disconnected');
    });
    assert.ok(logs.some((l) => /misbehaved/.test(String(l.msg)) && l.peer === peerId), 'logged');
  }

  /** While banned, the peer's new connections are refused. */
  async function refusedNow(a: TestNode, m: RawPeer): Promise<void> {
    const before = a.service.peers().find((p) => p.peerId === m.libp2p.peerId.toString())?.refused ?? 0;
    await assert.rejects(async () => {
      const channel = await m.dial(a.address);
      await channel.send(hello(a));
      await channel.receive();
    });
    assert.ok((a.service.peers().find((p) => p.peerId === m.libp2p.peerId.toString())?.refused ?? 0) > before);
  }

  function hello(a: TestNode): Message {
    return {
      type: MessageType.hello,
      version: 1,
      limits: { maxMessageBytes: MAX_MESSAGE, batchSize: 256 },
      domains: [{ name: 'devices', digest: Buffer.from(a.policy.domainDigest('devices'), 'hex'), flags: 3 }],
    };
  }

  it('garbage after the handshake: disconnected, reported, refused for a while', async () => {
    const { a, m } = await victim();
    const channel = await m.dial(a.address);
    await channel.send(hello(a));
    assert.equal((await channel.receive()).type, MessageType.helloOk);
    await channel.sendFrame(rng.bytes(200));
    await reported(a, m.libp2p.peerId.toString(), /unknown message type|truncated|trailing|mode|varint|count|string|bound|id|limit/);
    await refusedNow(a, m);
  });

  it('garbage instead of a handshake', async () => {
    const { a, m } = await victim();
    const channel = await m.dial(a.address);
    await channel.sendFrame(Uint8Array.of(MessageType.fetch, 1, 2, 3));
    await reported(a, m.libp2p.peerId.toString(), /.+/);
  });

  it('a frame longer than maxMessageBytes is refused before it is read', async () => {
    const { a, m } = await victim();
    const channel = await m.dial(a.address);
    await channel.send(hello(a));
    await channel.receive();
    // A length prefix of 1 GiB, then a little data: the node must not wait for (or buffer) it.
    channel.sendRaw(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x04, 1, 2, 3));
    await reported(a, m.libp2p.peerId.toString(), /frame over/);
    const rss = process.memoryUsage().rss;
    assert.ok(rss < 2 ** 30, 'nothing near 1 GiB was allocated');
  });

  it('reconciliation that never ends: stopped after maxRounds', async () => {
    const { a, key } = await victim(async (channel, node) => {
      await channel.receive(); // HELLO
      await channel.send({
        type: MessageType.helloOk,
        version: 1,
        limits: { maxMessageBytes: MAX_MESSAGE, batchSize: 256 },
        domains: [{ name: 'devices', status: 0, flags: 7, digest: Buffer.from(node().policy.domainDigest('devices'), 'hex') }],
      });
      // Every answer: "the whole set differs", with a new fingerprint each time.
      for (;;) {
        const message = await channel.receive();
        if (message.type === MessageType.announce) await channel.send({ type: MessageType.ack, status: 0 });
        else await channel.send({ type: MessageType.reconcileReply, ranges: [{ upper: undefined, mode: Mode.fingerprint, fingerprint: rng.bytes(16) }] });
      }
    }, 40, 10);
    // The node reconciles at connect; syncNow waits for that run, then finds the peer banned.
    const report = await a.service.syncNow(key.peerId);
    assert.equal(report.peers[0]?.ok, false);
    await reported(a, key.peerId, /did not end within 10 rounds/);
    assert.ok(a.service.peers().find((p) => p.peerId === key.peerId)?.domains.some((d) => /did not end/.test(d.lastError ?? '')));
  });

  it('a record that does not verify: nothing stored, peer disconnected', async () => {
    const r = await records();
    const device = r.device();
    const tampered = Buffer.from(device.bytes);
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] as number) ^ 0xff; // inside the last signature's S
    const { a, key } = await victim(async (channel, node) => serveOne(channel, node(), device.id, device.bytes, tampered));
    // The run at connect or this one meets the bad record (whichever comes first: the other
    // then finds the peer banned), so what it did is read from the peer's status.
    await a.service.syncNow(key.peerId);
    await reported(a, key.peerId, /invalid record .*SIGNATURE_INVALID/);
    assert.equal(await a.store.get(device.id), undefined);
    const devices = a.service.peers().find((p) => p.peerId === key.peerId)?.domains.find((d) => d.name === 'devices');
    assert.equal(devices?.state, 'error', 'not reported in sync');
    assert.equal(devices?.recordsReceived, 0);
  });

  it('a record other than the one asked for: reported', async () => {
    const r = await records();
    const asked = r.device();
    const other = r.device();
    const { a, key } = await victim(async (channel, node) => serveOne(channel, node(), asked.id, asked.bytes, other.bytes));
    await a.service.syncNow(key.peerId);
    await reported(a, key.peerId, /sent record .* when asked for/);
    assert.equal(await a.store.get(asked.id), undefined);
  });

  it('a peer gets nothing of a domain it may not read, by reconciliation or by asking for ids', async () => {
    const { a, m } = await victim();
    const secret = (await a.store.syncRange('secret', { time: 0, id: '' }, undefined, 10)).map((i) => i.id);
    assert.equal(secret.length, 3);
    const channel = await m.dial(a.address);
    await channel.send({
      ...hello(a),
      domains: [
        { name: 'secret', digest: Buffer.from(a.policy.domainDigest('secret'), 'hex'), flags: 3 },
        { name: 'devices', digest: Buffer.from(a.policy.domainDigest('devices'), 'hex'), flags: 3 },
      ],
    } as Message);
    const ok = await channel.receive();
    assert.ok(ok.type === MessageType.helloOk && ok.domains.find((d) => d.name === 'secret')?.flags === 0, 'not readable');
    await channel.send({ type: MessageType.reconcile, domain: 'secret', ranges: [{ upper: undefined, mode: Mode.idList, prefixes: [] }] });
    const refused = await channel.receive();
    assert.ok(refused.type === MessageType.error && refused.code === 1);
    await channel.send({ type: MessageType.fetch, domain: 'secret', ids: secret });
    assert.equal((await channel.receive()).type, MessageType.error);
    // Asked for under a domain it may read, the secret records are not there.
    await channel.send({ type: MessageType.fetch, domain: 'devices', ids: secret });
    const answer = await channel.receive();
    assert.ok(answer.type === MessageType.records);
    assert.deepEqual(answer.entries.map((e) => e.status), [1, 1, 1]);
    // None of this is misbehaviour.
    assert.equal(a.service.peers().find((p) => p.peerId === m.libp2p.peerId.toString())?.misbehaviour.count, 0);
  });
});

/**
 * Answers a node's streams as a peer holding one record: it claims the record in reconciliation
 * and, asked for it, sends `sent` instead of the genuine bytes.
 */
async function serveOne(channel: RawChannel, a: TestNode, id: string, genuine: Buffer, sent: Buffer): Promise<void> {
  const first = await channel.receive();
  if (first.type !== MessageType.hello) return;
  await channel.send({
    type: MessageType.helloOk,
    version: 1,
    limits: { maxMessageBytes: MAX_MESSAGE, batchSize: 256 },
    domains: [{ name: 'devices', status: 0, flags: 7, digest: Buffer.from(a.policy.domainDigest('devices'), 'hex') }],
  });
  const digest = (await import('node:crypto')).createHash('sha256').update(genuine).digest('hex');
  for (;;) {
    const message = await channel.receive();
    if (message.type === MessageType.reconcile) {
      const mode = message.ranges[0]?.mode;
      if (mode === Mode.fingerprint) await channel.send({ type: MessageType.reconcileReply, ranges: [{ upper: undefined, mode: Mode.wantIdList }] });
      else
        await channel.send({
          type: MessageType.reconcileReply,
          ranges: [{ upper: undefined, mode: Mode.idListReply, listed: 0, have: new Uint8Array(0), extras: [{ id, prefix: digestPrefix(digest) }] }],
        });
    } else if (message.type === MessageType.fetch) {
      await channel.send({ type: MessageType.records, entries: message.ids.map(() => ({ status: 0 as const, bytes: sent })) });
    } else if (message.type === MessageType.announce) {
      await channel.send({ type: MessageType.ack, status: 0 });
    }
  }
}
