// Restartable sync (DESIGN §6): a node killed with SIGKILL in the middle of an initial sync is
// started again on the same data directory and converges with its peer — nothing lost, nothing
// stored twice, the store's indexes and sync set consistent.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LevelStore } from '../../ics/store/level/index.ts';
import { loadOrCreatePeerKey } from '../../ics/sync/index.ts';
import { eventually, items, policyObject, records, removeTempDirs, startMesh, stopAll, tempDir, type TestNode } from './helpers/nodes.ts';

const CHILD = fileURLToPath(new URL('./helpers/child-node.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const RECORDS = 2000;

function start(configFile: string): { proc: ChildProcess; lines: AsyncIterableIterator<string> } {
  const proc = spawn(process.execPath, ['--import', join(REPO, 'bin/ts-loader.mjs'), CHILD, configFile], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += d;
  });
  proc.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL' && stderr) console.error(stderr);
  });
  return { proc, lines: createInterface({ input: proc.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]() };
}

function exited(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
}

/** Reads COUNT lines until `until(count)` holds; returns that count. */
async function countUntil(lines: AsyncIterableIterator<string>, until: (n: number) => boolean, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error('child ended');
    const [word, n] = String(value).split(' ');
    if (word === 'COUNT' && until(Number(n))) return Number(n);
    if (Date.now() > deadline) throw new Error(`timed out at ${value}`);
  }
}

describe('sync: restart mid-sync', function () {
  this.timeout(180_000);
  let nodes: Map<string, TestNode> | undefined;
  const procs: ChildProcess[] = [];
  after(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    if (nodes) await stopAll(nodes.values());
    await removeTempDirs();
  });

  it('a node killed with SIGKILL during its initial sync converges after restart, nothing lost or duplicated', async () => {
    const r = await records();
    const dir = await tempDir();
    const keyFile = join(dir, 'libp2p.key');
    const dKey = await loadOrCreatePeerKey(keyFile);
    nodes = await startMesh([{ name: 'a', level: true, domains: [{ name: 'devices', read: 'public' }], peers: [{ node: 'd', push: ['devices'] }] }], new Map([['d', dKey]]));
    const a = nodes.get('a') as TestNode;
    const devices = Array.from({ length: RECORDS }, () => r.device());
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < devices.length) await a.ingest.submit((devices[next++] as { bytes: Buffer }).bytes, { source: 'cli' });
    }));

    const policy = policyObject(r.issuers, [{ name: 'devices', read: 'public' }], [{ node: 'a', pull: ['devices'], dial: true }], new Map([['a', a.peerId], ['d', dKey.peerId]]), new Map([['a', [a.address]]]));
    const configFile = join(dir, 'config.json');
    const path = join(dir, 'db');
    await writeFile(configFile, JSON.stringify({ path, keyFile, policy, issuers: [r.issuers.manufacturer, r.issuers.integrator].map((k) => Buffer.from(k.bytes).toString('hex')) }));

    // First run: killed once some records are in.
    const first = start(configFile);
    procs.push(first.proc);
    const atKill = await countUntil(first.lines, (n) => n >= 200, 60_000);
    first.proc.kill('SIGKILL');
    await exited(first.proc);
    assert.ok(atKill < RECORDS, `killed mid-sync (at ${atKill} of ${RECORDS})`);

    // Second run on the same directory and key: converges.
    const second = start(configFile);
    procs.push(second.proc);
    await countUntil(second.lines, (n) => n === RECORDS, 120_000);
    second.proc.kill('SIGKILL');
    await exited(second.proc);

    const store = await LevelStore.open({ path });
    try {
      assert.deepEqual(await items(store, 'devices'), await items(a.store, 'devices'), 'same sync set as the peer');
      const events = await store.changesSince(0, 1e9);
      const inserts = new Map<string, number>();
      for (const e of events) inserts.set(e.id, (inserts.get(e.id) ?? 0) + (e.action === 'insert' ? 1 : 0));
      assert.equal(inserts.size, RECORDS);
      assert.ok([...inserts.values()].every((n) => n === 1), 'each record inserted once');
      assert.ok(events.every((e) => e.action === 'insert' && e.source === 'peer' && e.origin === a.peerId), 'no update: nothing fetched twice changed anything');
      for (const d of devices.slice(0, 50)) assert.equal((await store.findByKeyId(d.id.slice(-16), { limit: 2 }))[0], d.id, 'indexes written with the records');
      const [summary] = await store.syncSummaries('devices', [{ time: 0, id: '' }], undefined);
      assert.deepEqual(summary, (await a.store.syncSummaries('devices', [{ time: 0, id: '' }], undefined))[0]);
    } finally {
      await store.close();
    }
    // The peer saw the node go and come back.
    await eventually(() => assert.equal(a.service.peers().find((p) => p.peerId === dKey.peerId)?.connected, false));
  });
});
