// The one write path (DESIGN §9): public surface. Front ends name the narrow interface they
// need (RecordSubmitter, BatchSubmitter); only node/ (and tests, benches) build an Ingest.
export { DEFAULT_BATCH_CONCURRENCY, Ingest } from './ingest.ts';
export type * from './types.ts';
