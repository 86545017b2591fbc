// The PostgreSQL store: only node/ (and tests, benchmarks) import this; front ends use the interface.
export { openPostgresStore, PostgresStore } from './store.ts';
export {
  CHANGE_CHANNEL,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_POOL_SIZE,
  DEFAULT_SYNC_ROLE_RETRY_MS,
  describeUrl,
  type PostgresStoreInit,
  type ResolvedPostgresOptions,
} from './options.ts';
export { LEASE_CHECKS, PostgresSyncRole, SYNC_ROLE_LOCK_KEY } from './role.ts';
export { currentSchemaVersion, SCHEMA_PRODUCT } from './schema.ts';
