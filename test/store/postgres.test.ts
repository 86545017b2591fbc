// The store and certificate-index suites against the PostgreSQL store, on a throwaway server
// (test/helpers/postgres.ts) with a database per test; plus what only this store has: several
// processes on one database (the change feed), surviving kill -9 of a writer with every
// acknowledged write, and clear errors at open for a bad URL, an unreachable server and a
// schema that is foreign or newer.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type IcsError, isIcsError } from '../../ics/errors.ts';
import type { KeyRecord } from '../../ics/record/index.ts';
import { arrayReader, BucketIndex, boundKey, rawItems, summarise } from '../../ics/store/fingerprint.ts';
import { currentSchemaVersion, PostgresStore } from '../../ics/store/postgres/index.ts';
import type { ChangeEvent, RecordStore, StoreHooks } from '../../ics/store/types.ts';
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts';
import { certificateSuite } from './certificates.suite.ts';
import { device, type Fixture, fixture, request, secondsAgo } from './records.ts';
import { storeSuite } from './store.suite.ts';

const CHILD = fileURLToPath(new URL('./postgres-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

let server: PostgresServer | undefined;
const urls = new WeakMap<RecordStore, string>();

async function postgres(): Promise<PostgresServer> {
  server ??= await startPostgres();
  return server;
}

after(async () => {
  await server?.stop();
  server = undefined;
});

async function open(url: string, hooks: StoreHooks = {}): Promise<PostgresStore> {
  const store = await PostgresStore.open({ ...hooks, url, pollIntervalMs: 200 });
  urls.set(store, url);
  return store;
}

const factory = async (hooks?: StoreHooks) => open(await (await postgres()).createDatabase(), hooks);
const reopen = async (store: RecordStore, hooks?: StoreHooks) => {
  const url = urls.get(store);
  assert.ok(url);
  await store.close();
  return open(url, hooks);
};

storeSuite('postgres', factory, { reopen });
certificateSuite('postgres', () => factory(), { reopen });

/** Runs test/store/postgres-child.ts; yields its stdout lines. */
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

/** Resolves once `ready` returns true, polling; fails after `ms`. */
async function eventually(ready: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function expectCode(promise: Promise<unknown>, code: string, reason?: string): Promise<IcsError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return isIcsError(error, code as IcsError['code']) && (reason === undefined || error.details?.reason === reason);
  });
  return caught as IcsError;
}

describe('store/postgres: several processes on one database', function () {
  this.timeout(60_000);
  let f: Fixture;
  const records: KeyRecord[] = [];
  let a: PostgresStore;
  let b: PostgresStore;

  before(async () => {
    f = await fixture();
    const base = Date.now();
    for (let i = 0; i < 40; i++) records.push((await device(f, secondsAgo(1000 - i, base))).record);
  });

  beforeEach(async () => {
    const url = await (await postgres()).createDatabase();
    a = await open(url);
    b = await open(url);
  });

  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  const rec = (i: number) => records[i] as KeyRecord;

  it('tells the other store of a write: its subscriber is called and it reads the record', async () => {
    const seen: ChangeEvent[] = [];
    b.subscribe((e) => seen.push(e));
    const event = await a.write(request(rec(0), { domains: ['d'] }));
    await eventually(() => seen.length === 1);
    assert.deepEqual(seen[0], event);
    assert.equal((await b.get(rec(0).id))?.digest, rec(0).digest);
    assert.deepEqual(await b.findByKeyId(rec(0).primaryKey.keyId, { limit: 5 }), [rec(0).id]);
    // A compare-and-set through the other store sees it too.
    await expectCode(b.write(request(rec(0), { domains: ['d'] })), 'CONFLICT');
  });

  it('orders writes through both stores in one gapless log, every event seen once by each, in seq order', async () => {
    const seenA: number[] = [];
    const seenB: number[] = [];
    a.subscribe((e) => seenA.push(e.seq));
    b.subscribe((e) => seenB.push(e.seq));
    const writes = records.slice(0, 20).map((r, i) => (i % 2 === 0 ? a : b).write(request(r, { domains: ['d'] })));
    const events = await Promise.all(writes);
    const all = Array.from({ length: 20 }, (_, i) => i + 1);
    assert.deepEqual(events.map((e) => e.seq).sort((x, y) => x - y), all);
    await eventually(() => seenA.length === 20 && seenB.length === 20);
    assert.deepEqual(seenA, all);
    assert.deepEqual(seenB, all);
    assert.deepEqual((await a.changesSince(0, 100)).map((e) => e.seq), all);
  });

  it('keeps its sync-set summaries right when the other store writes', async () => {
    for (let i = 0; i < 10; i++) await a.write(request(rec(i), { domains: ['d'] }));
    const zero = { time: 0, id: '' };
    // b builds its bucket index now, then a writes more.
    assert.equal((await b.syncSummaries('d', [zero], undefined))[0]?.count, 10);
    for (let i = 10; i < 40; i++) await a.write(request(rec(i), { domains: ['d'] }));
    const items = await b.syncRange('d', zero, undefined, 100);
    assert.equal(items.length, 40);
    const reference = BucketIndex.fromItems(rawItems(items));
    const read = arrayReader(rawItems(items));
    const bounds = [zero, ...items.map((i) => ({ time: i.time, id: i.id }))];
    assert.deepEqual(await b.syncSummaries('d', bounds, undefined), await reference.summaries(bounds.map(boundKey), undefined, read));
    assert.deepEqual(await b.syncSplit('d', zero, undefined, 4), await reference.split(boundKey(zero), zero, undefined, 4, read));
    assert.deepEqual(await b.syncSummaries('d', [zero], undefined), [summarise(items)]);
  });

  it('heals a missed notification: a dropped LISTEN connection is made good by the poll', async () => {
    const seen: number[] = [];
    b.subscribe((e) => seen.push(e.seq));
    const server = await postgres();
    const database = new URL(urls.get(a) as string).pathname.slice(1);
    // Every LISTEN connection of the database goes; the stores reconnect (and poll meanwhile).
    const dropped = await server.query(database, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'");
    assert.equal(dropped.rowCount, 2, "both stores' LISTEN connections were dropped");
    await a.write(request(rec(1)));
    await eventually(() => seen.length === 1);
    assert.deepEqual(seen, [1]);
  });
});

describe('store/postgres: persistence', function () {
  this.timeout(120_000);

  it('keeps every acknowledged write when the writer is killed with SIGKILL', async () => {
    const f = await fixture();
    const records: KeyRecord[] = [];
    for (let i = 0; i < 60; i++) records.push((await device(f, secondsAgo(100 - i))).record);
    const dir = await mkdtemp(join(tmpdir(), 'ics-pg-crash-'));
    try {
      const input = join(dir, 'records.bin');
      await writeFile(input, Buffer.concat(records.flatMap((r) => [Buffer.from(Uint32Array.of(r.bytes.length).buffer), Buffer.from(r.bytes)])));
      const url = await (await postgres()).createDatabase();
      const { process: proc, lines } = child(['write', url, input]);
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

      const store = await open(url);
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
        assert.equal((await store.syncRange('devices', { time: 0, id: '' }, undefined, 1000)).length, stats.records, 'the sync set too');
        const next = records.find((r) => !log.some((e) => e.id === r.id));
        if (next) assert.equal((await store.write(request(next, { domains: ['devices'] }))).seq, stats.lastSeq + 1);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('store/postgres: errors at open', function () {
  this.timeout(60_000);

  it('refuses a bad URL with CONFIG_INVALID', async () => {
    await expectCode(PostgresStore.open({ url: 'not a url' }), 'CONFIG_INVALID', 'url');
    await expectCode(PostgresStore.open({ url: 'http://127.0.0.1/ics' }), 'CONFIG_INVALID', 'url');
    await expectCode(PostgresStore.open({ url: 'postgres://127.0.0.1:5432' }), 'CONFIG_INVALID', 'url');
    await expectCode(PostgresStore.open({ url: (await (await postgres()).createDatabase()), replicaUrl: 'mysql://x/y' }), 'CONFIG_INVALID', 'url');
  });

  it('reports an unreachable server or a missing database with UNAVAILABLE, naming where, never the password', async () => {
    const port = (await postgres()).port;
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const error = await expectCode(PostgresStore.open({ url: `postgres://ics:s3cret@127.0.0.1:${closed}/ics`, connectTimeoutMs: 2000 }), 'UNAVAILABLE', 'unreachable');
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${closed}/ics`));
    assert.doesNotMatch(error.message, /s3cret/);
    await expectCode(PostgresStore.open({ url: `postgres://ics@127.0.0.1:${port}/no_such_database` }), 'UNAVAILABLE', 'unreachable');
  });

  it('refuses a database holding other tables, or another product’s version table', async () => {
    const server = await postgres();
    const other = await server.createDatabase();
    await server.query(new URL(other).pathname.slice(1), 'CREATE TABLE accounts (id int)');
    await expectCode(PostgresStore.open({ url: other }), 'UNAVAILABLE', 'schema-foreign');
    const foreign = await server.createDatabase();
    await server.query(new URL(foreign).pathname.slice(1), "CREATE TABLE ics_schema_version (product text, version int); INSERT INTO ics_schema_version VALUES ('other', 1)");
    await expectCode(PostgresStore.open({ url: foreign }), 'UNAVAILABLE', 'schema-foreign');
  });

  it('refuses a schema newer than it reads, and leaves the database as it was', async () => {
    const server = await postgres();
    const url = await server.createDatabase();
    await (await open(url)).close();
    const name = new URL(url).pathname.slice(1);
    await server.query(name, 'UPDATE ics_schema_version SET version = version + 1');
    const error = await expectCode(PostgresStore.open({ url }), 'UNAVAILABLE', 'schema-newer');
    assert.equal(error.details?.supported, await currentSchemaVersion());
    assert.equal((await server.query(name, 'SELECT version FROM ics_schema_version')).rows[0]?.version, (await currentSchemaVersion()) + 1);
  });

  it('migrates an empty database once, also when two stores open it at the same time', async () => {
    const url = await (await postgres()).createDatabase();
    const [one, two] = await Promise.all([open(url), open(url)]);
    await one.write(request(((await device(await fixture(), secondsAgo(10))).record)));
    assert.equal((await two.stats()).lastSeq, 1);
    await Promise.all([one.close(), two.close()]);
  });

  it('takes lookups from a replica URL and refuses one without the schema', async () => {
    const server = await postgres();
    const url = await server.createDatabase();
    const store = await PostgresStore.open({ url, replicaUrl: url });
    const r = (await device(await fixture(), secondsAgo(10))).record;
    await store.write(request(r));
    assert.equal((await store.get(r.id))?.digest, r.digest);
    await store.close();
    await expectCode(PostgresStore.open({ url, replicaUrl: await server.createDatabase() }), 'UNAVAILABLE', 'schema-foreign');
  });

  it('reads lookups from a streaming replica, and a process its own writes from the primary until the replica has them', async function () {
    // The replica is a base backup of the shared primary (pg_basebackup -c fast: a checkpoint
    // that flushes every earlier test's database): seconds on a quiet disk, over a minute on a
    // busy one. The replication itself has its own 20 s bounds below.
    this.timeout(240_000);
    const primary = await postgres();
    const url = await primary.createDatabase();
    const name = new URL(url).pathname.slice(1);
    // The schema first, so that the replica starts with it.
    await (await PostgresStore.open({ url })).close();
    const replica = await primary.startReplica();
    try {
      // Two processes' stores on the primary and its replica: one writes, the other only reads.
      const writer = await PostgresStore.open({ url, replicaUrl: replica.url(name) });
      const reader = await PostgresStore.open({ url, replicaUrl: replica.url(name) });
      const f = await fixture();
      const until = async (what: string, check: () => Promise<boolean>) => {
        const deadline = Date.now() + 20_000;
        while (!(await check())) {
          if (Date.now() > deadline) throw new Error(`not within 20 s: ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const first = (await device(f, secondsAgo(20), 'urn:dev:replica-1')).record;
      await writer.write(request(first));
      await until('the replica replays the first write', async () => (await reader.get(first.id)) !== undefined);
      // Replay paused: a write is in the primary's log at once; the writer finds it (its
      // lookups go to the primary until the replica has it), the other process does not.
      await replica.query(name, 'SELECT pg_wal_replay_pause()');
      const second = (await device(f, secondsAgo(10), 'urn:dev:replica-2')).record;
      const event = await writer.write(request(second));
      assert.deepEqual((await reader.changesSince(event.seq - 1, 10)).map((e) => e.id), [second.id]);
      assert.equal((await writer.get(second.id))?.digest, second.digest);
      assert.equal(await reader.get(second.id), undefined);
      assert.deepEqual(await reader.findByFingerprint(second.id, { limit: 10 }), []);
      await replica.query(name, 'SELECT pg_wal_replay_resume()');
      await until('the replica replays the second write', async () => (await reader.get(second.id)) !== undefined);
      assert.deepEqual(await reader.findByFingerprint(second.id, { limit: 10 }), [second.id]);
      await Promise.all([writer.close(), reader.close()]);
    } finally {
      await replica.stop();
    }
  });
});
