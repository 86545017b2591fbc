// The throwaway PostgreSQL server the tests start (test/store/postgres*, test/node/postgres*):
// shared with the benchmarks, so it lives beside the other tools that run servers locally.
export { DB_USER, type PostgresServer, postgresBinDir, startPostgres } from '../../deploy/throwaway-postgres.ts';
