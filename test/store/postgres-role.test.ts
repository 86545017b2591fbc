// The sync role on the PostgreSQL store (ics/store/postgres/role.ts): of several contenders on
// one database exactly one holds it; a holder that stops or whose session is ended by the
// server loses it (and is told), and another contender takes it within its retry interval;
// contenders on another database of the same server do not contend.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresStore, SYNC_ROLE_LOCK_KEY } from '../../ics/store/postgres/index.ts';
import type { SyncRole } from '../../ics/store/types.ts';
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts';

const RETRY_MS = 150;

/** Waits until `check` holds, within `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('store: the sync role on PostgreSQL', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  const stores: PostgresStore[] = [];

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    for (const store of stores) await store.close();
    await server?.stop();
  });

  async function open(url: string): Promise<PostgresStore> {
    const store = await PostgresStore.open({ url, syncRoleRetryMs: RETRY_MS });
    stores.push(store);
    return store;
  }

  /** A started contender and the changes it was told of. */
  async function contender(store: PostgresStore): Promise<{ role: SyncRole; changes: boolean[] }> {
    const role = store.syncRole();
    const changes: boolean[] = [];
    await role.start({ changed: (held) => changes.push(held) });
    return { role, changes };
  }

  it('has a fixed 64-bit lock key', () => {
    assert.equal(typeof SYNC_ROLE_LOCK_KEY, 'bigint');
    assert.equal(BigInt.asIntN(64, SYNC_ROLE_LOCK_KEY), SYNC_ROLE_LOCK_KEY);
  });

  it('one of three holds it; a stopped holder’s role is taken by another within the retry interval', async () => {
    const url = await server.createDatabase();
    const all = [await contender(await open(url)), await contender(await open(url)), await contender(await open(url))];
    assert.equal(all.filter((c) => c.role.held).length, 1, 'exactly one holds the role');
    assert.deepEqual(all[0]?.changes, [true], 'the first to try takes it');
    await sleep(RETRY_MS * 3);
    assert.equal(all.filter((c) => c.role.held).length, 1, 'still exactly one after retries');
    const started = Date.now();
    await all[0]?.role.stop();
    await until(() => all.some((c) => c.role.held), 5_000, 'a new holder');
    assert.ok(Date.now() - started < RETRY_MS * 5, `taken over within a few retry intervals (${Date.now() - started} ms)`);
    await sleep(RETRY_MS * 3);
    assert.equal(all.filter((c) => c.role.held).length, 1);
    for (const c of all) await c.role.stop();
  });

  it('a holder whose session the server ends loses the role and is told; exactly one holds it again', async () => {
    const url = await server.createDatabase();
    const one = await contender(await open(url));
    const two = await contender(await open(url));
    assert.ok(one.role.held && !two.role.held);
    const name = new URL(url).pathname.slice(1);
    // The holder's session, as an administrator (or a failing network) would end it.
    const { rows } = await server.query(
      name,
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    assert.equal(rows.length, 1, 'one advisory lock granted');
    await until(() => one.changes.length >= 2, 5_000, 'the holder told of the loss');
    assert.deepEqual(one.changes.slice(0, 2), [true, false], 'the old holder was told it lost the role');
    // Both contend again: one of them takes it (the old holder, from a new session, as well as the other).
    await until(() => one.role.held || two.role.held, 5_000, 'a new holder');
    await sleep(RETRY_MS * 4);
    assert.equal([one, two].filter((c) => c.role.held).length, 1, 'exactly one holds it');
    const [holder, other] = one.role.held ? [one, two] : [two, one];
    await holder.role.stop();
    await until(() => other.role.held, 5_000, 'the other taking it');
    await other.role.stop();
  });

  it('contenders on different databases of one server each hold their own', async () => {
    const a = await contender(await open(await server.createDatabase()));
    const b = await contender(await open(await server.createDatabase()));
    assert.ok(a.role.held && b.role.held);
    await a.role.stop();
    await b.role.stop();
  });

  it('closing the store gives its role up', async () => {
    const url = await server.createDatabase();
    const holderStore = await open(url);
    const one = await contender(holderStore);
    const two = await contender(await open(url));
    assert.ok(one.role.held);
    await holderStore.close();
    await until(() => two.role.held, 5_000, 'the other taking it');
    await two.role.stop();
  });
});
