// Tuning of the PostgreSQL store and its defaults, and the check of its connection URLs (a
// bad one is refused at open naming the setting, never with the password in the message).
import { IcsError } from '../../errors.ts';
import type { StoreHooks } from '../derived.ts';

export interface PostgresStoreInit extends StoreHooks {
  /** The primary: postgres://user[:password]@host[:port]/database[?options]. Writes and sync reads go here. */
  readonly url: string;
  /** A streaming replica for lookups (get, getMany, find*, list*); absent: the primary answers them. */
  readonly replicaUrl?: string;
  /** Connections per pool (primary and replica each) at most. */
  readonly poolSize?: number;
  /** How long opening a connection may take before the store reports the database unreachable. */
  readonly connectTimeoutMs?: number;
  /**
   * How often the change feed reads the event log without being notified, to heal a missed
   * notification (a dropped LISTEN connection) and on engines without LISTEN/NOTIFY.
   */
  readonly pollIntervalMs?: number;
  /**
   * How often a process that does not hold the sync role tries to take it (role.ts), and a
   * holder checks that it still holds it: a dead holder's role is taken over within about this.
   */
  readonly syncRoleRetryMs?: number;
}

/**
 * 10 connections: the writer holds one per commit group, the change feed one of its own (not
 * pooled), and the rest serve concurrent lookups; PostgreSQL's default max_connections (100)
 * leaves room for several processes.
 */
export const DEFAULT_POOL_SIZE = 10;
/** 10 s: a database across a network answers well within it; an unreachable one fails the start in bounded time. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** 2 s: a notification missed is healed within it; the read it costs finds nothing new almost always. */
export const DEFAULT_POLL_INTERVAL_MS = 2_000;
/** 2 s: a dead holder's sync role is taken within it; one cheap query per interval and process. */
export const DEFAULT_SYNC_ROLE_RETRY_MS = 2_000;
/** The NOTIFY channel writes announce their last seq on. */
export const CHANGE_CHANNEL = 'ics_changes';

export interface ResolvedPostgresOptions {
  readonly url: string;
  readonly replicaUrl: string | undefined;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  readonly pollIntervalMs: number;
  readonly syncRoleRetryMs: number;
}

/** Where a URL points, for messages and logs: host, port and database, never user or password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || '/'}`;
  } catch {
    return '(unparsable URL)';
  }
}

function checkUrl(url: unknown, setting: string): string {
  const bad = (why: string) => new IcsError('CONFIG_INVALID', `store.postgres.${setting} ${why}`, { details: { reason: 'url', setting } });
  if (typeof url !== 'string' || url === '') throw bad('is missing');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad('is not a URL (postgres://user@host:port/database)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw bad(`is a ${parsed.protocol} URL, not postgres:// or postgresql://`);
  if (parsed.pathname.length <= 1) throw bad('names no database (postgres://user@host:port/database)');
  return url;
}

function positive(value: number | undefined, fallback: number, setting: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new IcsError('CONFIG_INVALID', `store.postgres.${setting} must be a positive integer`, { details: { setting } });
  return value;
}

export function resolveOptions(init: PostgresStoreInit): ResolvedPostgresOptions {
  return {
    url: checkUrl(init.url, 'url'),
    replicaUrl: init.replicaUrl === undefined ? undefined : checkUrl(init.replicaUrl, 'replicaUrl'),
    poolSize: positive(init.poolSize, DEFAULT_POOL_SIZE, 'pool'),
    connectTimeoutMs: positive(init.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs'),
    pollIntervalMs: positive(init.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS, 'pollIntervalMs'),
    syncRoleRetryMs: positive(init.syncRoleRetryMs, DEFAULT_SYNC_ROLE_RETRY_MS, 'syncRoleRetryMs'),
  };
}
