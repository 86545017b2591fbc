// The sync role on a shared PostgreSQL database (DESIGN §8, ../role.ts): a session-level
// advisory lock held on a connection of its own. PostgreSQL keeps such a lock for as long as
// the session lives and releases it when the session ends — the process exits or is killed,
// its connection drops — so another process's next attempt takes it. Advisory locks are
// scoped to the database: ICS stores in other databases of the same server do not contend.
//
// A holder checks its connection every retry interval and gives the role up (`changed(false)`)
// the moment the connection fails a check or drops, since PostgreSQL may then have released
// the lock to another process. The session is also a lease: the server ends it (releasing the
// lock) once it has been idle for LEASE_CHECKS retry intervals, so a holder that hangs or is
// cut off from the database loses the role in bounded time even when no packet says so.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { SyncRole, SyncRoleEvents } from '../role.ts';

/** The advisory lock's key: the first 8 bytes of SHA-256("ics-sync-role") as a signed 64-bit integer, fixed across versions. */
export const SYNC_ROLE_LOCK_KEY: bigint = createHash('sha256').update('ics-sync-role').digest().readBigInt64BE(0);

/**
 * Retry intervals a session may stay idle before the server ends it (idle_session_timeout,
 * PostgreSQL 14 and later): the process checks every interval, so 5 leaves room for four
 * late checks (a busy event loop) before a live holder would lose the role.
 */
export const LEASE_CHECKS = 5;
/**
 * Server-side TCP keepalive of the lock's session (seconds idle, between probes, probes): a
 * holder whose host vanished is noticed by the server in about 10 + 5 × 3 = 25 s rather than
 * the operating system's default of two hours.
 */
const KEEPALIVE = { idle: 10, interval: 5, count: 3 } as const;

export interface PostgresSyncRoleInit {
  readonly url: string;
  readonly connectTimeoutMs: number;
  /** How often a process that does not hold the role tries to take it, and a holder checks its hold. */
  readonly retryMs: number;
}

export class PostgresSyncRole implements SyncRole {
  readonly shared = true;
  readonly #init: PostgresSyncRoleInit;
  #events: SyncRoleEvents | undefined;
  #client: pg.Client | undefined;
  #held = false;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #step: Promise<void> | undefined;

  constructor(init: PostgresSyncRoleInit) {
    this.#init = init;
  }

  get held(): boolean {
    return this.#held;
  }

  async start(events: SyncRoleEvents): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#events = events;
    await this.#next();
    this.#timer = setInterval(() => void this.#next(), this.#init.retryMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearInterval(this.#timer);
    await this.#step;
    this.#held = false;
    const client = this.#client;
    this.#client = undefined;
    // Ending the session releases the lock.
    await client?.end().catch(() => undefined);
  }

  /** One attempt (not holding) or check (holding) at a time. */
  #next(): Promise<void> {
    this.#step ??= (this.#held ? this.#check() : this.#attempt()).finally(() => (this.#step = undefined));
    return this.#step;
  }

  async #attempt(): Promise<void> {
    let client: pg.Client | undefined;
    try {
      client = this.#client ?? (await this.#connect());
      const { rows } = await client.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS taken', [SYNC_ROLE_LOCK_KEY.toString()]);
      if (rows[0]?.taken !== true || !this.#running || this.#client !== client) return;
      this.#held = true;
      this.#events?.changed(true);
    } catch (error) {
      if (client) this.#lost(client);
      if (this.#running) this.#events?.failed?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async #check(): Promise<void> {
    const client = this.#client;
    if (!client) return this.#attempt();
    try {
      await client.query('SELECT 1');
    } catch (error) {
      this.#lost(client);
      if (this.#running) this.#events?.failed?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async #connect(): Promise<pg.Client> {
    const { url, connectTimeoutMs, retryMs } = this.#init;
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: connectTimeoutMs,
      // A check that does not answer within the lease counts as a lost hold.
      query_timeout: retryMs * LEASE_CHECKS,
      keepAlive: true,
      application_name: 'ics sync role',
    });
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    this.#client = client;
    try {
      await client.connect();
    } catch (error) {
      this.#lost(client);
      throw error;
    }
    // Each alone: an engine without one of them (idle_session_timeout is PostgreSQL 14's)
    // keeps the others, and the session then lasts until it drops.
    for (const setting of [
      `tcp_keepalives_idle = ${KEEPALIVE.idle}`,
      `tcp_keepalives_interval = ${KEEPALIVE.interval}`,
      `tcp_keepalives_count = ${KEEPALIVE.count}`,
      `idle_session_timeout = ${retryMs * LEASE_CHECKS}`,
    ]) {
      await client.query(`SET ${setting}`).catch(() => undefined);
    }
    return client;
  }

  /** The session is gone or unusable: dropped, and the role with it when held. */
  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    if (!this.#held) return;
    this.#held = false;
    if (this.#running) this.#events?.changed(false);
  }
}
