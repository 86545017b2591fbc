// Limits and sizes of the HTTP front end, each with the resource it bounds. Body size,
// request timeout and result limit are configuration (HkpInit); these are fixed.

/** Longest `search=` value: the longest user ID a record may hold (DEFAULT_LIMITS.maxUserIdBytes). */
export const MAX_SEARCH_LENGTH = 1024;

/**
 * Index entries read per search token. A token shared by most records (`urn`, `device`) would
 * otherwise make one search read the whole index; past this cap a token only filters.
 */
export const TOKEN_SCAN_CAP = 1000;

/** Candidates whose user IDs are read (records revived) to confirm a text search. */
export const MAX_CONFIRMED_CANDIDATES = 2000;

/** Longest URL path parameter (a record id is at most `sha256:` + 64 hex). */
export const MAX_PARAM_LENGTH = 100;

/** Largest request header block; node's default, stated so that it does not drift. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Idle keep-alive connections are closed after this (node's default). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** How long `stop()` lets requests in progress finish before closing their connections. */
export const STOP_GRACE_MS = 5_000;

/**
 * Submissions (/pks/add, JSON writes) handled at once; beyond, 503 with Retry-After. Each
 * holds its body and parsed records in memory, so this bounds memory under a write storm.
 */
export const MAX_CONCURRENT_WRITES = 32;

/** Seconds a client is told to wait after a 503. */
export const RETRY_AFTER_SECONDS = 5;

/** Armored keys kept ready (id + digest → text), for the hot `op=get` path. */
export const ARMOR_CACHE_ENTRIES = 20_000;

/** Revived records kept (id + digest → record), for verdicts and indexes. */
export const RECORD_CACHE_ENTRIES = 10_000;

/** Successful basic-auth checks remembered (scrypt costs ~50 ms a check by design). */
export const AUTH_CACHE_ENTRIES = 256;
export const AUTH_CACHE_TTL_MS = 5 * 60_000;

/** Dropped signatures listed one by one per record in a submission answer; the rest are counted. */
export const DROPPED_SAMPLE = 10;

/** Detached signatures in one JSON code submission. */
export const MAX_SIGNATURES_PER_SUBMISSION = 64;

/** Characters of one armored or base64 signature in a JSON body (a signature packet is < 1 KiB; RSA-4096 ~ 600 B). */
export const MAX_SIGNATURE_TEXT = 16 * 1024;
