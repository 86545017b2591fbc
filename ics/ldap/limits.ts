// Limits of the LDAP front end. Each bounds a resource a client could otherwise exhaust;
// the configurable ones (size limit, time limit) come from LdapInit.
import { DEFAULT_LIMITS } from '../record/index.ts';

/** Port when the configuration names none: 389 needs root. */
export const DEFAULT_PORT = 1389;

/**
 * Largest add/modify request: one armored record at the record model's cap plus room for the
 * other attributes GnuPG sends with it. A larger add is skipped unread and answered
 * sizeLimitExceeded (the LIMIT_EXCEEDED code), so that a key too big to store costs no memory.
 */
export const MAX_WRITE_REQUEST_BYTES = DEFAULT_LIMITS.maxArmoredBytes + 64 * 1024;
/** Largest request of any other kind: a search with a long filter is far below this. */
export const MAX_OTHER_REQUEST_BYTES = 64 * 1024;
/**
 * Beyond this a request is not even skipped: the session ends with a Notice of Disconnection.
 * Skipping costs bandwidth, not memory, but a gigabyte of input is an attack, not a request.
 */
export const MAX_SKIP_BYTES = 16 * 1024 * 1024;

/** Filter nesting (and, or, not): real clients nest 3 or 4 levels; deep trees cost stack. */
export const MAX_FILTER_DEPTH = 16;
/** Filter items in one search: GnuPG sends at most 4; thousands would each cost an index probe. */
export const MAX_FILTER_NODES = 256;
/**
 * BER nesting in any request. Filters are the only deep part; the LDAP envelope adds at most
 * six levels (message, op, filter set, item, substrings, controls).
 */
export const MAX_BER_DEPTH = 2 * MAX_FILTER_DEPTH + 8;
/** BER elements in any request: bounds the work of the structure check and of the decoder. */
export const MAX_BER_ELEMENTS = 8 * MAX_FILTER_NODES + 64;
/** Attributes named in one search request. */
export const MAX_REQUESTED_ATTRIBUTES = 64;
/** Values in one assertion or attribute of a write (GnuPG sends a few per attribute). */
export const MAX_VALUES_PER_ATTRIBUTE = 256;

/** Requests one session may have in progress; reading pauses above it (backpressure, not errors). */
export const MAX_OUTSTANDING_PER_SESSION = 64;
/** Open sessions per server, by default (`ldap.maxConnections`); further connections are closed as they arrive. */
export const MAX_SESSIONS = 1024;
/**
 * Open sessions from one client address, by default (`ldap.maxConnectionsPerAddress`): GnuPG
 * opens one per operation and closes it; a NAT of many gateways belongs in
 * `clientLimits.exempt`. Without it one client holding idle sockets filled MAX_SESSIONS.
 */
export const MAX_SESSIONS_PER_ADDRESS = 64;
/**
 * An anonymous session with no traffic for this long is closed (`ldap.idleTimeoutSeconds`):
 * GnuPG and gateways send their request at once, and an idle anonymous socket only holds a slot.
 */
export const IDLE_TIMEOUT_MS = 30_000;
/** A bound session with no traffic for this long is closed (`ldap.boundIdleTimeoutSeconds`): a client that authenticated may pool it. */
export const BOUND_IDLE_TIMEOUT_MS = 5 * 60_000;
/**
 * Operations per second from one client address, by default (`ldap.requestsPerSecond`); beyond,
 * an operation is answered busy (51). A gateway checking the entities it meets asks a few a second.
 */
export const REQUESTS_PER_SECOND = 100;
/** Seconds' worth of operations one address may send at once: a client pipelining a batch is not refused. */
export const BURST_SECONDS = 5;
/**
 * Failed simple binds from one client address (IPv6 per /56) per BIND_FAILURE_WINDOW_MS, as many
 * as HKP allows failed authentications. Beyond, a bind with a password is answered busy (51)
 * unchecked until the window ends: a password-guessing flood costs at most this many scrypt
 * checks a minute per address, while a user's correct password succeeds within it.
 */
export const BIND_FAILURES_PER_WINDOW = 10;
/** The window failed binds are counted in (`bindFailureWindowSeconds` in LdapInit shortens it for tests). */
export const BIND_FAILURE_WINDOW_MS = 60_000;
/** TLS handshake (LDAPS or StartTLS) must finish within this. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Ids fetched from one index term. A term matching more records than this is too common to be
 * a useful search (e.g. `acme` on a manufacturer's node); the search says so and stops.
 */
export const MAX_LOOKUP_IDS = 10_000;
/**
 * Readable matches below which a term is taken as selective, when choosing which of an `&`
 * filter's terms drives the search: the first, in order of promise, with fewer than this many.
 */
export const PROBE_IDS = 64;
/**
 * How deep one search reads the indexes, in all its terms, looking for records the reader may
 * see: this many times the candidate cap, or the default cap when a smaller one is configured
 * (a smaller cap asks for shorter answers, not for less work finding them): 40,000 ids by
 * default. Only readable records count toward the cap and toward PROBE_IDS, so a term shared
 * with records the reader may not see is read past them; this bounds that work. Past it, a
 * term is taken as too common: the one case where records the reader may not see decide how a
 * search is answered (terms matching more than this many records in all, at most the cap of
 * them readable, over readable domains that hold more than the cap).
 */
export const SCAN_BUDGET_IN_CAPS = 4;
/** Records read from the store per step of a search. */
export const FETCH_BATCH = 64;

/** Bytes of a paged-results cookie this server accepts (its own are well below). */
export const MAX_COOKIE_BYTES = 512;

/**
 * Pgp key entries kept, one per record, with their values and up to SELECTIONS_PER_ENTRY
 * encodings: ~4 KB each for a device key; as many as the store's record cache
 * (store/level/options.ts), and no more bytes than KEY_ENTRY_CACHE_BYTES by their footprint.
 * An entry is kept from its second use (directory.ts); as many record ids are remembered for that.
 */
export const KEY_ENTRY_CACHE = 20_000;
/** 64 MiB: 16,000 fresh device keys; keys that grew with their certifications take fewer places. */
export const KEY_ENTRY_CACHE_BYTES = 64 * 1024 * 1024;
/** ICS entries kept (one per record and set of domains the reader may see): ~4 KB each. */
export const RECORD_ENTRY_CACHE = 5_000;
/** 16 MiB of ICS entries by their footprint. */
export const RECORD_ENTRY_CACHE_BYTES = 16 * 1024 * 1024;
/**
 * An ICS entry holds a verdict, which depends on the time (expiring certifications): it is
 * recomputed after this long even when the record did not change.
 */
export const RECORD_ENTRY_TTL_MS = 60_000;
/** Encoded attribute selections kept per entry (clients reuse one attribute list). */
export const SELECTIONS_PER_ENTRY = 4;
