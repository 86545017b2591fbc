// The store and certificate-index suites against the PostgreSQL store, on a throwaway server
// (test/helpers/postgres.ts) with a database per test; plus what only this store has: several
// processes on one database (the change feed), surviving kill -9 of a writer with every
// acknowledged write, and clear errors at open for a bad URL, an unreachable server and a
// schema that is foreign or newer.
import assert from 'node:assert/strict';
import { PostgresStore } from '../../ics/store/postgres/index.ts';
import type { RecordStore, StoreHooks } from '../../ics/store/types.ts';
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts';
import { certificateSuite } from './certificates.suite.ts';
import { storeSuite } from './store.suite.ts';

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
