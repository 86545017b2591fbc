// Limits and sizes of the HTTP host, each with the resource it bounds, and of the reads and
// submissions its plugins share. Body size, request timeout and the connection and rate caps
// are configuration (HttpInit, defaults from here); the rest are fixed.
import type { IdentityRecord } from '../record/index.ts';
import { MAX_REFERENCE_LENGTH } from '../store/index.ts';

/**
 * Largest request body, by default (config `hkp.maxBodyBytes`): a keyring of a few hundred
 * real keys, or one key with thousands of certifications, fits; larger is refused with 413
 * from its Content-Length before it is read.
 */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** Seconds a request (headers and body) may take to arrive, by default (`hkp.requestTimeoutSeconds`). */
export const REQUEST_TIMEOUT_SECONDS = 30;

/** Most records one lookup answers, by default (`hkp.resultLimit`): index, vindex, get by text, code by digest. */
export const RESULT_LIMIT = 100;

/**
 * Index entries read per search token. A token shared by most records (`urn`, `device`) would
 * otherwise make one search read the whole index; past this cap a token only filters.
 */
export const TOKEN_SCAN_CAP = 1000;

/**
 * Longest URL path parameter, counted decoded: a record reference may be a whole user ID
 * (MAX_REFERENCE_LENGTH, 1 KiB); longer is answered 414 by the router.
 */
export const MAX_PARAM_LENGTH = MAX_REFERENCE_LENGTH;

/** Largest request header block; node's default, stated so that it does not drift. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Idle keep-alive connections are closed after this (node's default). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * Connections open at once, by default (config `hkp.maxConnections`): below the usual 1024
 * file descriptors per process minus what LevelDB, LDAP and sync hold, so that a flood of
 * sockets is refused here rather than failing accept() for everyone.
 */
export const MAX_CONNECTIONS = 512;

/**
 * Connections open at once from one client address, by default (`hkp.maxConnectionsPerAddress`):
 * a gateway keeps a few keep-alive connections and a browser six; a NAT of many gateways
 * belongs in `clientLimits.exempt`. One address can hold at most this share of MAX_CONNECTIONS.
 */
export const MAX_CONNECTIONS_PER_ADDRESS = 64;

/**
 * Requests per minute from one client address, by default (`hkp.requestsPerMinute`): 50 a
 * second on average, with the whole minute's worth allowed as a burst, far above a gateway
 * that checks entities as it meets them.
 */
export const REQUESTS_PER_MINUTE = 3000;

/**
 * Failed authentications per minute from one client address (IPv6 per /56). Beyond, requests
 * carrying credentials that are not already known good are answered 429 unchecked until the
 * minute is over: a password-guessing flood costs at most this many scrypt checks a minute
 * per address, while a user's correct password succeeds within it.
 */
export const AUTH_FAILURES_PER_MINUTE = 10;

/** How long `stop()` lets requests in progress finish before closing their connections. */
export const STOP_GRACE_MS = 5_000;

/**
 * Submissions (/pks/add, JSON writes) ingested at once. Each holds its body and parsed
 * records in memory; more than this wait in a queue, which keeps bursts from failing.
 */
export const MAX_CONCURRENT_WRITES = 64;

/**
 * Submissions waiting for a slot; beyond, 503 with Retry-After. With the body limit this
 * bounds the memory a write storm can pin: (64 + 256) × maxBodyBytes at worst.
 */
export const MAX_QUEUED_WRITES = 256;

/** Seconds a client is told to wait after a 503. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Armored keys (op=get) and verdict answers (/ics/v1/verify) kept ready, by record version:
 * as many as the store keeps decoded (its default `cacheRecords`), a gateway's working set.
 * ~1 KB each, ~20 MB per cache when full.
 */
export const ANSWER_CACHE_ENTRIES = 20_000;

/** Bytes of armored answers kept at most: records grow with their signatures, the cache does not. */
export const ANSWER_CACHE_BYTES = 32 * 1024 * 1024;

/** Revived record objects (~4 KB each), for indexes and verdicts not yet cached. */
export const RECORD_CACHE_ENTRIES = 2_000;
/** Heap the revived records may take at most, as `revivedRecordBytes` estimates it. */
export const RECORD_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Heap of a revived record, estimated from its stored size: openpgp.js packet objects take
 * several times the bytes they were read from (~4 KB for a 1 KB device record), plus the
 * record object around them. An estimate on the high side: the bound is what matters.
 */
export function revivedRecordBytes(record: IdentityRecord): number {
  return 2048 + 4 * record.bytes.length;
}

/** Successful basic-auth checks remembered (scrypt costs ~50 ms a check by design). */
export const AUTH_CACHE_ENTRIES = 256;
export const AUTH_CACHE_TTL_MS = 5 * 60_000;

/** Dropped signatures listed one by one per record in a submission answer; the rest are counted. */
export const DROPPED_SAMPLE = 10;
