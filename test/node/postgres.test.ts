// A node on the PostgreSQL store (store.backend: postgres): opened from config.yaml, two nodes
// with their own data directories on one database serving each other's writes, a clear error
// at start for a bad URL, an unreachable database or a schema this version does not read, and
// backup refused with a pointer to pg_dump.
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { isIcsError } from '../../ics/errors.ts';
import { writeBackup } from '../../ics/node/backup.ts';
import { DataDir, initDataDir, type IcsNode, openNode } from '../../ics/node/index.ts';
import { PostgresStore } from '../../ics/store/postgres/index.ts';
import type { ChangeEvent } from '../../ics/store/types.ts';
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts';
import { device, fixture, request, secondsAgo } from '../store/records.ts';

describe('node: the PostgreSQL store', function () {
  this.timeout(120_000);
  let server: PostgresServer;
  let work: string;
  let dirs = 0;

  before(async () => {
    server = await startPostgres();
    work = await mkdtemp(join(tmpdir(), 'ics-node-pg-'));
  });

  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** A new data directory whose config.yaml puts the store at `url`. */
  async function dataDir(url: string, extra = ''): Promise<string> {
    dirs += 1;
    const root = join(work, `node-${dirs}`);
    await initDataDir(root, { role: 'default', passphrase: 'a passphrase for tests' });
    await appendFile(new DataDir(root).configFile, `store:\n  backend: postgres\n  postgres:\n    url: ${JSON.stringify(url)}\n${extra}`);
    return root;
  }

  it('opens from config.yaml; two nodes on one database serve each other’s writes', async () => {
    const url = await server.createDatabase();
    const one = await openNode(await dataDir(url));
    let two: IcsNode | undefined;
    try {
      two = await openNode(await dataDir(url, '    pool: 4\n'));
      assert.ok(one.store instanceof PostgresStore);
      const seen: ChangeEvent[] = [];
      two.store.subscribe((e) => seen.push(e));
      const r = (await device(await fixture(), secondsAgo(10))).record;
      await one.store.write(request(r));
      const until = Date.now() + 10_000;
      while (seen.length === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 25));
      assert.deepEqual(seen.map((e) => e.id), [r.id], 'the other node was told');
      assert.equal((await two.store.get(r.id))?.digest, r.digest);
    } finally {
      await two?.close();
      await one.close();
    }
  });

  it('stops the start with a clear error for a bad URL, an unreachable database or a newer schema', async () => {
    const refused = async (root: string, code: string, reason: string) => {
      await assert.rejects(openNode(root), (e: unknown) => isIcsError(e) && e.code === code && e.details?.reason === reason);
    };
    await refused(await dataDir('mysql://db.example/ics'), 'CONFIG_INVALID', 'url');
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await refused(await dataDir(`postgres://ics@127.0.0.1:${closed}/ics`), 'UNAVAILABLE', 'unreachable');
    const url = await server.createDatabase();
    await (await PostgresStore.open({ url })).close();
    await server.query(new URL(url).pathname.slice(1), 'UPDATE ics_schema_version SET version = version + 1');
    await refused(await dataDir(url), 'UNAVAILABLE', 'schema-newer');
  });

  it('refuses a backup of the data directory, pointing to pg_dump', async () => {
    const node = await openNode(await dataDir(await server.createDatabase()));
    try {
      const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
      await assert.rejects(writeBackup(node.dataDir, node.config, undefined, sink), (e: unknown) => isIcsError(e, 'NOT_IMPLEMENTED') && /pg_dump/.test(e.message));
    } finally {
      await node.close();
    }
  });
});
