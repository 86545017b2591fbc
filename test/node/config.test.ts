// The node config's store section (ics/node/config.ts, schemas/config.schema.json): one section
// per backend, defaults filled in, and the older flat shape of the LevelDB settings still read,
// with a notice that says where each setting belongs now.
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { isIcsError } from '../../ics/errors.ts';
import { checkConfig, DataDir, initDataDir, loadConfig, openNode } from '../../ics/node/index.ts';

const BASE = { version: 1, name: 'n', role: 'default' } as const;
const POSTGRES_DEFAULTS = { pool: 10, syncRoleRetryMs: 2000 };
const LEVEL_DEFAULTS = { path: 'db', cacheRecords: 20000, cacheBytes: 33554432, blockCacheBytes: 33554432, writeBufferBytes: 8388608, syncWrites: true };

function configErrors(run: () => unknown): Array<{ path: string; message: string }> {
  try {
    run();
  } catch (error) {
    assert.ok(isIcsError(error, 'CONFIG_INVALID'), String(error));
    return (error.details?.errors ?? []) as Array<{ path: string; message: string }>;
  }
  assert.fail('the config was accepted');
}

describe('node/config: the store section', () => {
  it('defaults to LevelDB with its settings in store.level', () => {
    const config = checkConfig(BASE, 'config.yaml');
    assert.deepEqual(config.store, { backend: 'level', level: LEVEL_DEFAULTS, memory: {}, postgres: POSTGRES_DEFAULTS });
  });

  it('takes one section per backend', () => {
    const config = checkConfig({ ...BASE, store: { backend: 'level', level: { path: 'other', syncWrites: false } } }, 'config.yaml');
    assert.deepEqual(config.store.level, { ...LEVEL_DEFAULTS, path: 'other', syncWrites: false });
    assert.equal(checkConfig({ ...BASE, store: { backend: 'memory', memory: {} } }, 'config.yaml').store.backend, 'memory');
  });

  it('refuses settings a backend does not have, and unknown backends', () => {
    const errors = configErrors(() => checkConfig({ ...BASE, store: { backend: 'oracle', level: { url: 'x' }, memory: { path: 'db' }, postgres: { path: 'db' } } }, 'config.yaml'));
    assert.deepEqual(errors.map((e) => e.path).sort(), ['/store/backend', '/store/level', '/store/memory', '/store/postgres']);
  });

  it('takes the PostgreSQL settings, and requires its URL when it is the backend', () => {
    const store = { backend: 'postgres', postgres: { url: 'postgres://ics@db.example/ics', replicaUrl: 'postgres://ics@replica.example/ics' } };
    assert.deepEqual(checkConfig({ ...BASE, store }, 'config.yaml').store.postgres, { ...store.postgres, pool: 10, syncRoleRetryMs: 2000 });
    assert.deepEqual(configErrors(() => checkConfig({ ...BASE, store: { backend: 'postgres', postgres: { pool: 4 } } }, 'config.yaml')), [
      { file: 'config.yaml', path: '/store/postgres', message: "must have required property 'url'" },
    ]);
    assert.deepEqual(configErrors(() => checkConfig({ ...BASE, store: { backend: 'postgres' } }, 'config.yaml')).map((e) => e.message), ["must have required property 'postgres'"]);
    assert.deepEqual(configErrors(() => checkConfig({ ...BASE, store: { backend: 'postgres', postgres: { url: 'postgres://x/y', pool: 0 } } }, 'config.yaml')).map((e) => e.path), ['/store/postgres/pool']);
  });

  it('reads the older flat LevelDB settings as store.level, and says where they belong', () => {
    const notices: string[] = [];
    const flat = { ...BASE, store: { backend: 'level', path: 'old-db', cacheRecords: 10, syncWrites: false } };
    const config = checkConfig(flat, 'config.yaml', { onNotice: (n) => notices.push(n) });
    assert.deepEqual(config.store, { backend: 'level', level: { ...LEVEL_DEFAULTS, path: 'old-db', cacheRecords: 10, syncWrites: false }, memory: {}, postgres: POSTGRES_DEFAULTS });
    assert.equal(notices.length, 3);
    assert.match(notices[0] as string, /^config\.yaml: \/store\/path is read as \/store\/level\/path/);
    assert.equal(flat.store.path, 'old-db', 'the caller’s object is left as it was');
    // Without a listener for notices it loads all the same.
    assert.equal(checkConfig(flat, 'config.yaml').store.level.cacheRecords, 10);
  });

  it('refuses a setting given both in the old place and in store.level', () => {
    const errors = configErrors(() => checkConfig({ ...BASE, store: { path: 'a', level: { path: 'b' } } }, 'config.yaml'));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.path, '/store/path');
    assert.match(errors[0]?.message ?? '', /store\.level/);
  });

  describe('data directories', function () {
    this.timeout(60_000);
    let work: string;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'ics-config-test-'));
    });

    after(() => rm(work, { recursive: true, force: true }));

    it('loads what `ics init` writes', async () => {
      const root = join(work, 'fresh');
      await initDataDir(root, { role: 'default', passphrase: 'a passphrase for tests' });
      const config = await loadConfig(new DataDir(root).configFile);
      assert.deepEqual(config.store, { backend: 'level', level: LEVEL_DEFAULTS, memory: {}, postgres: POSTGRES_DEFAULTS });
    });

    it('opens a node whose config has the flat shape: the settings apply, and the log says where they belong', async () => {
      const root = join(work, 'flat');
      await initDataDir(root, { role: 'default', passphrase: 'a passphrase for tests' });
      await appendFile(new DataDir(root).configFile, 'store:\n  path: flat-db\n  syncWrites: false\n');
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const node = await openNode(root, { logger: pino({ level: 'warn' }, sink) });
      try {
        assert.equal(node.config.store.level.path, 'flat-db');
        assert.equal(node.config.store.level.syncWrites, false);
        assert.ok((await stat(join(root, 'flat-db'))).isDirectory(), 'the store opened where the old setting said');
      } finally {
        await node.close();
      }
      const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
      assert.deepEqual(
        warnings.map((w) => w.msg.replace(/^.*config\.yaml: /, '')),
        ['/store/path is read as /store/level/path (each store backend now has its own section): move it there', '/store/syncWrites is read as /store/level/syncWrites (each store backend now has its own section): move it there'],
      );
    });
  });
});
