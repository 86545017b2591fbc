// Two `ics serve` processes on one PostgreSQL database (DESIGN §8, docs/postgres.md): exactly
// one holds the sync role and runs sync; a record written through either is served by the
// other over HKP; when the holder is killed with SIGKILL the other takes the role over within
// a few retry intervals and listens for peers on the same address with the same peer id, so
// that a third node (LevelDB) pulling a domain from them keeps syncing across the fail-over.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { freePort } from '../../deploy/free-port.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDocument } from 'yaml';
import { DataDir, initDataDir, loadConfig } from '../../ics/node/index.ts';
import { loadOrCreateLogKey } from '../../ics/node/log-key.ts';
import { generateIdentity } from '../../ics/record/index.ts';
import { loadOrCreatePeerKey } from '../../ics/sync/index.ts';
import { ServeProcess } from '../helpers/cli.ts';
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts';

/** The role's retry interval in these tests: a take-over is due within a few of them. */
const RETRY_MS = 300;
/** How long a take-over may take here: retries, the sync service's start, a loaded machine. */
const TAKEOVER_BOUND_MS = 10_000;

interface Status {
  syncRole?: { held: boolean; shared: boolean; since: string };
  peers?: Array<{ name?: string; connected: boolean; lastSync?: string }>;
}

interface Addresses {
  pid: number;
  hkp: string;
  p2p: { peerId: string; addresses: string[] } | null;
}


/** Polls `probe` until it returns a value, within `ms`. */
async function eventually<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out (${ms} ms) waiting for ${what}`);
    await sleep(100);
  }
}

async function status(hkp: string): Promise<Status> {
  const response = await fetch(`${hkp}/ics/v1/status`);
  assert.equal(response.status, 200);
  return (await response.json()) as Status;
}

async function upload(hkp: string, armored: string): Promise<void> {
  const response = await fetch(`${hkp}/pks/add`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ keytext: armored }).toString(),
  });
  assert.equal(response.status, 200, await response.text());
}

/** True when the node at `hkp` serves the key `fingerprint` over HKP. */
async function serves(hkp: string, fingerprint: string): Promise<boolean> {
  const response = await fetch(`${hkp}/pks/lookup?op=get&options=mr&search=0x${fingerprint}`);
  await response.arrayBuffer();
  return response.status === 200;
}

async function newKey(name: string): Promise<{ fingerprint: string; armored: string }> {
  const identity = await generateIdentity({ userId: `urn:cm4it:device:role.example:${name}` });
  return { fingerprint: identity.record.id, armored: identity.privateKey.toPublic().armor() };
}

/** Sets the sync peers of the policy in data directory `root`. */
async function setPeers(root: string, peers: object[]): Promise<void> {
  const file = join(root, 'policy.yaml');
  const doc = parseDocument(await readFile(file, 'utf8'));
  doc.setIn(['sync', 'peers'], doc.createNode(peers));
  await writeFile(file, doc.toString());
}

describe('node: the sync role across two processes on one PostgreSQL database', function () {
  this.timeout(180_000);
  let server: PostgresServer;
  let work: string;
  const running: ServeProcess[] = [];

  before(async () => {
    server = await startPostgres();
    work = await mkdtemp(join(tmpdir(), 'ics-pg-role-'));
  });

  after(async () => {
    for (const p of running) await p.stop();
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function start(root: string, p2p: string): Promise<{ process: ServeProcess; addresses: () => Promise<Addresses> }> {
    const proc = new ServeProcess(['--data', root, '--hkp', '127.0.0.1:0', '--ldap', 'off', '--p2p', p2p], work);
    running.push(proc);
    await proc.logged(/^ics node ready$/);
    const addresses = async () => JSON.parse(await readFile(join(root, 'addresses.json'), 'utf8')) as Addresses;
    assert.equal((await addresses()).pid, proc.child.pid);
    return { process: proc, addresses };
  }

  it('one process holds the role; each serves the other’s writes; on SIGKILL of the holder the other takes over, and a peer keeps syncing', async () => {
    const url = await server.createDatabase();
    // One data directory, copied: the processes share config, policy, issuer key and libp2p key.
    const one = join(work, 'one');
    await initDataDir(one, { role: 'default' });
    // The keys a first start would make, made before the copy: libp2p identity and log key.
    const peerKey = await loadOrCreatePeerKey(join(one, 'keys', 'libp2p.key'));
    await loadOrCreateLogKey(new DataDir(one), await loadConfig(new DataDir(one).configFile));
    await writeFile(new DataDir(one).configFile, `${await readFile(new DataDir(one).configFile, 'utf8')}store:\n  backend: postgres\n  postgres:\n    url: ${JSON.stringify(url)}\n    syncRoleRetryMs: ${RETRY_MS}\nhkp:\n  metrics: public\n`);
    // The third node: LevelDB, its own identity, pulling public-keys from the shared node's address.
    const third = join(work, 'third');
    await initDataDir(third, { role: 'default' });
    const thirdKey = await loadOrCreatePeerKey(join(third, 'keys', 'libp2p.key'));
    const port = await freePort();
    const shared = `/ip4/127.0.0.1/tcp/${port}`;
    await setPeers(one, [{ name: 'third', peerId: thirdKey.peerId, push: ['public-keys'], intervalSeconds: 5 }]);
    await setPeers(third, [{ name: 'shared', peerId: peerKey.peerId, addresses: [`${shared}/p2p/${peerKey.peerId}`], pull: ['public-keys'], intervalSeconds: 5 }]);
    const two = join(work, 'two');
    await cp(one, two, { recursive: true });

    const a = await start(one, shared);
    const b = await start(two, shared);
    const [hkpA, hkpB] = [(await a.addresses()).hkp, (await b.addresses()).hkp];
    assert.deepEqual((await status(hkpA)).syncRole, { ...(await status(hkpA)).syncRole, held: true, shared: true }, 'the first started holds the role');
    assert.equal((await status(hkpB)).syncRole?.held, false, 'the second stands by');
    assert.equal((await a.addresses()).p2p?.peerId, peerKey.peerId);
    assert.equal((await b.addresses()).p2p, null, 'the standby does not listen for peers');
    await b.process.logged(/^sync role held by another process/);
    assert.match(await (await fetch(`${hkpB}/metrics`)).text(), /^ics_sync_role_holder 0$/m);
    assert.match(await (await fetch(`${hkpA}/metrics`)).text(), /^ics_sync_role_holder 1$/m);

    const c = await start(third, '/ip4/127.0.0.1/tcp/0');
    const hkpC = (await c.addresses()).hkp;

    // Written through the standby: served by the holder over HKP, and synced by the holder to the third node.
    const first = await newKey('first');
    await upload(hkpB, first.armored);
    await eventually(async () => ((await serves(hkpA, first.fingerprint)) ? true : undefined), 10_000, 'the holder serving the standby’s write');
    await eventually(async () => ((await serves(hkpC, first.fingerprint)) ? true : undefined), 30_000, 'the third node pulling it');
    // And the other way round.
    const second = await newKey('second');
    await upload(hkpA, second.armored);
    await eventually(async () => ((await serves(hkpB, second.fingerprint)) ? true : undefined), 10_000, 'the standby serving the holder’s write');

    // The holder dies: its sessions end, PostgreSQL releases the lock, the standby takes the role.
    const killed = Date.now();
    a.process.child.kill('SIGKILL');
    await eventually(async () => ((await status(hkpB)).syncRole?.held ? true : undefined), TAKEOVER_BOUND_MS, 'the standby taking the role');
    const tookMs = Date.now() - killed;
    await b.process.logged(/^sync role taken: sync running$/);
    const p2p = await eventually(async () => (await b.addresses()).p2p ?? undefined, 5_000, 'addresses.json naming the p2p listener');
    assert.equal(p2p.peerId, peerKey.peerId, 'the same peer id after the fail-over');
    assert.ok(p2p.addresses.some((address) => address.startsWith(shared)), `listening on ${shared}: ${p2p.addresses.join(', ')}`);
    assert.ok(tookMs < TAKEOVER_BOUND_MS, `taken over in ${tookMs} ms`);

    // The third node reconnects to the same address and peer id, and keeps pulling.
    const afterwards = await newKey('after-failover');
    await upload(hkpB, afterwards.armored);
    await eventually(async () => ((await serves(hkpC, afterwards.fingerprint)) ? true : undefined), 60_000, 'the third node pulling after the fail-over');
    // Reconciliation (not only announcements) completes against the new holder: the third node's status says so.
    await eventually(
      async () => {
        const peer = (await status(hkpC)).peers?.find((p) => p.name === 'shared');
        return peer?.connected && peer.lastSync && Date.parse(peer.lastSync) > killed ? peer : undefined;
      },
      30_000,
      'a reconciliation with the new holder',
    );
  });
});
