// The store and certificate-index suites against the LevelDB store in temporary directories,
// plus what only a persistent store has: reopening, surviving kill -9 with every acknowledged
// write, and refusing a data directory another process holds.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isIcsError } from '../../ics/errors.ts';
import type { KeyRecord } from '../../ics/record/index.ts';
import { LevelStore } from '../../ics/store/level/index.ts';
import type { RecordStore, StoreHooks } from '../../ics/store/types.ts';
import { certificateSuite } from './certificates.suite.ts';
import { device, fixture, secondsAgo } from './records.ts';
import { storeSuite } from './store.suite.ts';

const CHILD = fileURLToPath(new URL('./level-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

const dirs: string[] = [];
const paths = new WeakMap<RecordStore, string>();

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ics-store-test-'));
  dirs.push(dir);
  return dir;
}

after(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function persistent(cacheRecords: number) {
  const open = async (path: string, hooks: StoreHooks = {}) => {
    const store = await LevelStore.open({ ...hooks, path, cacheRecords, syncWrites: false });
    paths.set(store, path);
    return store;
  };
  return {
    factory: async (hooks?: StoreHooks) => open(join(await tempDir(), 'db'), hooks),
    reopen: async (store: RecordStore, hooks?: StoreHooks) => {
      const path = paths.get(store);
      assert.ok(path);
      await store.close();
      return open(path, hooks);
    },
  };
}

const cached = persistent(1000);
storeSuite('level', cached.factory, { reopen: cached.reopen });
certificateSuite('level', () => cached.factory(), { reopen: cached.reopen });
// Without the hot-record cache every read and every compare-and-set goes to LevelDB.
const uncached = persistent(0);
storeSuite('level, no record cache', uncached.factory, { reopen: uncached.reopen });

/** Runs test/store/level-child.ts; yields its stdout lines. */
function child(args: string[]): { process: ChildProcess; lines: AsyncIterableIterator<string> } {
  const proc = spawn(process.execPath, ['--import', join(REPO, 'bin/ts-loader.mjs'), CHILD, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += d;
  });
  proc.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL' && stderr) console.error(stderr);
  });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  return { process: proc, lines };
}

function exited(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
}

describe('store/level: persistence', function () {
  this.timeout(120_000);

  it('keeps every acknowledged write when the writer is killed with SIGKILL', async () => {
    const f = await fixture();
    const records: KeyRecord[] = [];
    for (let i = 0; i < 60; i++) records.push((await device(f, secondsAgo(100 - i))).record);
    const dir = await tempDir();
    const input = join(dir, 'records.bin');
    // Length-prefixed canonical bytes: the child revives them without the key ring.
    await writeFile(input, Buffer.concat(records.flatMap((r) => [Buffer.from(Uint32Array.of(r.bytes.length).buffer), Buffer.from(r.bytes)])));
    const path = join(dir, 'db');
    const { process: proc, lines } = child(['write', path, input]);
    const acknowledged = new Map<string, number>();
    const ACKS_BEFORE_KILL = 20;
    for await (const line of lines) {
      const [word, id, seq] = line.split(' ');
      if (word === 'ACK' && id && seq) acknowledged.set(id, Number(seq));
      if (acknowledged.size >= ACKS_BEFORE_KILL) {
        proc.kill('SIGKILL');
        break;
      }
    }
    await exited(proc);
    assert.equal(proc.signalCode, 'SIGKILL', 'the writer was killed, it did not finish');
    assert.ok(acknowledged.size >= ACKS_BEFORE_KILL);

    const store = await LevelStore.open({ path });
    try {
      const byId = new Map(records.map((r) => [r.id, r]));
      for (const [id, seq] of acknowledged) {
        const stored = await store.get(id);
        assert.ok(stored, `acknowledged record ${id} is there`);
        assert.equal(stored.digest, byId.get(id)?.digest);
        assert.equal(stored.seq, seq);
        assert.deepEqual(await store.findByKeyId(id.slice(-16), { limit: 2 }), [id], 'its index entries too');
      }
      const stats = await store.stats();
      assert.ok(stats.lastSeq >= acknowledged.size);
      assert.ok(stats.lastSeq < records.length, 'the kill landed while the writer was still writing');
      assert.equal(stats.records, stats.lastSeq, 'records and log agree (one insert each)');
      const log = await store.changesSince(0, 1000);
      assert.deepEqual(log.map((e) => e.seq), Array.from({ length: stats.lastSeq }, (_, i) => i + 1));
      // The sequence carries on after the recovered end of the log.
      const next = records.find((r) => !log.some((e) => e.id === r.id));
      if (next) assert.equal((await store.write({ record: next, domains: ['devices'], expectedDigest: undefined, source: 'cli', signaturesAdded: 1, summary: 'after crash' })).seq, stats.lastSeq + 1);
    } finally {
      await store.close();
    }
  });

  it('refuses a data directory another process has open with UNAVAILABLE', async () => {
    const path = join(await tempDir(), 'db');
    const { process: proc, lines } = child(['hold', path]);
    try {
      const first = await lines.next();
      assert.equal(first.value, 'OPEN');
      await assert.rejects(LevelStore.open({ path }), (e: unknown) => isIcsError(e, 'UNAVAILABLE') && /in use by another process/.test(e.message));
    } finally {
      proc.kill('SIGKILL');
      await exited(proc);
    }
    // The lock dies with its process.
    const store = await LevelStore.open({ path });
    await store.close();
  });

  it('refuses a second open in the same process with UNAVAILABLE', async () => {
    const path = join(await tempDir(), 'db');
    const store = await LevelStore.open({ path });
    try {
      await assert.rejects(LevelStore.open({ path }), (e: unknown) => isIcsError(e, 'UNAVAILABLE'));
    } finally {
      await store.close();
    }
  });
});
