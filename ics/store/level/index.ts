// The LevelDB store: only node/ (and tests, benchmarks) import this; front ends use the interface.
export { LevelStore, loadSnapshot, openLevelStore } from './store.ts';
export {
  DEFAULT_BLOCK_CACHE_BYTES,
  DEFAULT_CACHE_RECORDS,
  autoMaxOpenFiles,
  DEFAULT_MAX_OPEN_FILES,
  DEFAULT_WRITE_BUFFER_BYTES,
  type LevelStoreInit,
  type ResolvedLevelOptions,
} from './options.ts';
