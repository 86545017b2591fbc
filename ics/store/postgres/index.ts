// The PostgreSQL store: only node/ (and tests, benchmarks) import this; front ends use the interface.
export { openPostgresStore, PostgresStore } from './store.ts';
export {
  CHANGE_CHANNEL,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_POOL_SIZE,
  describeUrl,
  type PostgresStoreInit,
  type ResolvedPostgresOptions,
} from './options.ts';
export { currentSchemaVersion, SCHEMA_PRODUCT } from './schema.ts';
