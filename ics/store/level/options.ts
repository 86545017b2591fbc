// Tuning of the LevelDB store and its defaults. What these bound: LevelDB's block cache, up to
// two write buffers, the table cache (index blocks of open files) and the hot-record cache —
// together well under 100 MB. What they do not bound (bench/store.ts prints both, see its
// memory row): LevelDB 1.20 memory-maps up to 1,000 table files, so pages a read touches count
// as file-backed RSS (page cache the kernel may drop; raw classic-level shows the same); and
// glibc's main heap grows by ~30 bytes per LevelDB entry written through classic-level
// (reproduced without this store), ~16 entries per device record written.

import type { StoreHooks } from '../derived.ts';
import type { FormatUpgrade } from './format.ts';

export interface BucketIndexEvent {
  readonly domain: string;
  readonly source: 'saved' | 'built';
  readonly buckets: number;
  readonly ms: number;
}

export interface LevelStoreInit extends StoreHooks {
  /** Database directory; created (with its parents) when missing. */
  readonly path: string;
  /** Hot records kept decoded in memory (LRU, by count; ~1 KB each for a device record). 0 turns it off. */
  readonly cacheRecords?: number;
  /** Bytes the hot-record cache may hold at most (records grow with their signatures); 0 turns it off. */
  readonly cacheBytes?: number;
  /** LevelDB block cache (uncompressed blocks shared by all reads). */
  readonly blockCacheBytes?: number;
  /** LevelDB write buffer (memtable); up to two are held while one is flushed. */
  readonly writeBufferBytes?: number;
  /**
   * LevelDB table files kept open, each with its index and Bloom filter in memory. Unset: sized
   * at open to the store's tables (autoMaxOpenFiles).
   */
  readonly maxOpenFiles?: number;
  /**
   * fsync before a write is acknowledged (default true), so that acknowledged writes survive
   * a crash of the machine, not only of the process. Bulk imports that can be rerun may turn
   * it off. Concurrent writes share one fsync (group commit), so it costs latency more than
   * throughput.
   */
  readonly syncWrites?: boolean;
  /** Told when the store was upgraded from an older format at open (format.ts), for the log. */
  readonly onUpgrade?: (upgrade: FormatUpgrade) => void;
  /**
   * Told when a domain's sync bucket index is first needed: loaded as saved at the last close
   * (`saved`), or built from the sync set (`built`: first use, or the store was written by a
   * process that did not close it), for the log.
   */
  readonly onBucketIndex?: (event: BucketIndexEvent) => void;
  /**
   * Told when a derived structure (the transparency log) took in events written before it
   * was there, at open: once, on the first start of a version that brings it, for the log.
   */
  readonly onCatchUp?: (event: { readonly structure: string; readonly events: number; readonly ms: number }) => void;
}

/** ~20,000 device records of ~1 KB: a gateway's working set, ~25 MB of heap. */
export const DEFAULT_CACHE_RECORDS = 20_000;
/**
 * 32 MiB of cached records: 20,000 fresh device records fit, and a store whose records have
 * grown (a status per change, countersignatures) keeps fewer rather than more memory.
 */
export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;
/** 32 MiB: index-entry and record blocks of the hot part of the database. */
export const DEFAULT_BLOCK_CACHE_BYTES = 32 * 1024 * 1024;
/** 8 MiB: large enough for bulk import to flush in few, large level-0 files; two may be live. */
export const DEFAULT_WRITE_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * At least 1,000 open table files: a 1M-record store is ~400 files of MAX_FILE_BYTES, so all
 * stay open and a cold lookup costs no re-open.
 */
export const DEFAULT_MAX_OPEN_FILES = 1000;

/**
 * Open table files when not configured: every table the store has at open, a quarter more for
 * growth, and at least DEFAULT_MAX_OPEN_FILES. A point read in a table that is not open
 * re-opens it (reads its index and filter blocks): at 10M records (~4,000 tables) 1,000 open
 * tables made a cold read 62–85 µs where all open made it 16–22 µs. Tables LevelDB does not
 * memory-map (past its first 1,000) hold their blocks on the heap: +45 MB for 3,000 more at
 * 10M. At most half the process's open-file limit, so that connections keep the other half.
 * A store that grows past the figure while running gets a larger one at the next start.
 */
export function autoMaxOpenFiles(tables: number, openFileLimit: number | undefined): number {
  const wanted = Math.max(DEFAULT_MAX_OPEN_FILES, Math.ceil(tables * 1.25));
  const cap = openFileLimit === undefined ? DEFAULT_MAX_OPEN_FILES : Math.floor(openFileLimit / 2);
  return Math.max(16, Math.min(wanted, cap));
}
/** LevelDB's block size: 4 KiB keeps a point lookup to one small block read and decompress. */
export const BLOCK_BYTES = 4096;
/** LevelDB's table file size: 2 MiB, LevelDB's own default, keeps compactions short. */
export const MAX_FILE_BYTES = 2 * 1024 * 1024;
/**
 * Writes committed in one LevelDB batch at most (group commit). Bounds a batch to a few MB
 * and the latency a write waits behind others; at ~20 entries per record, 512 writes is
 * ~10,000 batch entries.
 */
export const MAX_GROUP_WRITES = 512;

export interface ResolvedLevelOptions {
  readonly path: string;
  readonly cacheRecords: number;
  readonly cacheBytes: number;
  readonly blockCacheBytes: number;
  readonly writeBufferBytes: number;
  /** Undefined: sized at open (autoMaxOpenFiles). */
  readonly maxOpenFiles: number | undefined;
  readonly syncWrites: boolean;
}

export function resolveOptions(init: LevelStoreInit): ResolvedLevelOptions {
  return Object.freeze({
    path: init.path,
    cacheRecords: Math.max(0, Math.floor(init.cacheRecords ?? DEFAULT_CACHE_RECORDS)),
    cacheBytes: Math.max(0, Math.floor(init.cacheBytes ?? DEFAULT_CACHE_BYTES)),
    blockCacheBytes: Math.max(0, Math.floor(init.blockCacheBytes ?? DEFAULT_BLOCK_CACHE_BYTES)),
    writeBufferBytes: Math.max(64 * 1024, Math.floor(init.writeBufferBytes ?? DEFAULT_WRITE_BUFFER_BYTES)),
    maxOpenFiles: init.maxOpenFiles === undefined ? undefined : Math.max(16, Math.floor(init.maxOpenFiles)),
    syncWrites: init.syncWrites ?? true,
  });
}
