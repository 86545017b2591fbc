// Protocol constants and limits of /cm4it/sync/1.0.0 (docs/sync-protocol.md), each with the
// reason for its value. Tunable limits have their defaults in `DEFAULT_LIMITS`; the others are
// part of the protocol and the same on every node.

export const PROTOCOL = '/cm4it/sync/1.0.0';
/** Carried in HELLO: a node refuses a peer speaking another version instead of guessing. */
export const PROTOCOL_VERSION = 1;

/** Truncated SHA-256 of (sum, count): Negentropy's size; a false match is a 2^-128 event. */
export const FINGERPRINT_BYTES = 16;
/**
 * Bytes of a record digest sent to name a version in id lists and announcements. A digest
 * determines the (time, id, digest) item, and id lists compare at most IDLIST_MAX items on
 * one side with the other side's items in the same range, so 64 bits make an accidental
 * collision a non-event; a crafted one needs a trusted issuer's signatures and only hides
 * one difference until the record changes again.
 */
export const DIGEST_PREFIX_BYTES = 8;
/** Pieces a differing range is cut into (Negentropy's branching factor). */
export const BRANCHING = 16;
/**
 * At or below this many items on its side, a node settles a differing range by item lists
 * instead of cutting it further: about two buckets' worth, so that a differing bucket costs
 * one list (≤ 1 KB of 8-byte prefixes) and one round, not a cut at items — whose bounds fall
 * inside the other side's buckets and make it read them — plus a round more. Measured on two
 * 1M-item stores differing by 2,000: 2.0× instead of 1.8× the differing records' bytes, and
 * a round of 11,000 ranges instead of 24,000.
 */
export const IDLIST_MAX = 128;
/**
 * The responder answers an id list directly while it holds at most this many items in the
 * range (≈ 120 KB of reply); above, it cuts the range first, so one request never makes it
 * read or send an unbounded list.
 */
export const IDLIST_REPLY_MAX = 4096;
/**
 * Ranges in one reconciliation message at most. A 1M-item set with 2,000 differences needs
 * ~25,000 in its busiest round (1,600 differing ranges × 16); the cap bounds what one message
 * can make the responder compute.
 */
export const MAX_RANGES = 65_536;
/**
 * Items read from the store to cut one range inside a bucket (where no bucket start lies):
 * buckets average 64 items; past this, the range is cut at the item read last and the rest
 * summarised, so a pathological bucket cannot make one request read without bound.
 */
export const MAX_SPLIT_READ = 8192;
/** Bytes kept free in a message for the range that closes it when the budget runs out. */
export const MESSAGE_SLACK = 1024;
/** Names of domains are policy identifiers (the store bounds them the same way). */
export const MAX_NAME_BYTES = 128;
/** Domains named in one HELLO: a policy defines a handful. */
export const MAX_HELLO_DOMAINS = 256;
/** Length of an ERROR message's text: an explanation, not a payload. */
export const MAX_ERROR_TEXT = 512;

/** Tunable limits (SyncInit.limits); defaults here. */
export interface SyncLimits {
  /**
   * Requests one peer may have in flight with this node: the inbound streams it may open at
   * once on a connection (each is served one request at a time), and the streams this node
   * opens to it. Bounds memory per peer to this many messages.
   */
  readonly inFlight: number;
  /** Requests per second one peer is served, with a burst of twice that; beyond, it waits. */
  readonly requestsPerSecond: number;
  /** Reconciliation rounds in one session before the peer is taken to be looping. */
  readonly maxRounds: number;
  /** A request not answered within this many ms fails (and the connection with it). */
  readonly requestTimeoutMs: number;
  /** Ids waiting to be fetched from one peer at most: reconciliation pauses above it. */
  readonly maxPendingFetches: number;
  /** Records ingested concurrently from one fetch stream (verification runs on the thread pool). */
  readonly ingestConcurrency: number;
  /** Announcements buffered per peer at most; beyond, one "reconcile with me" hint replaces them. */
  readonly maxPendingAnnouncements: number;
  /** After misbehaving, a peer is refused this long (doubling on repeat, up to 1 hour). */
  readonly banMs: number;
}

export const DEFAULT_LIMITS: SyncLimits = Object.freeze({
  inFlight: 4,
  requestsPerSecond: 200,
  maxRounds: 4096,
  requestTimeoutMs: 60_000,
  maxPendingFetches: 20_000,
  ingestConcurrency: 64,
  maxPendingAnnouncements: 10_000,
  banMs: 60_000,
});

/**
 * libp2p connections open at once, by default (config `sync.maxConnections`): a mesh node has
 * tens of peers, each on one connection; the rest is room for redials and refused strangers.
 */
export const MAX_CONNECTIONS = 256;
/**
 * Connections from one IP address, by default (`sync.maxConnectionsPerAddress`): several
 * nodes may share a host (tests, containers behind one address), but not hundreds.
 */
export const MAX_CONNECTIONS_PER_ADDRESS = 16;
/** Inbound connections still in their Noise / Yamux upgrade at once: each costs a handshake. */
export const MAX_PENDING_INBOUND = 16;
/**
 * Of those, from one IP address: a quarter, so that one address holding sockets that never
 * finish the handshake (each is cut off after libp2p's 10 s upgrade timeout) cannot take every
 * handshake slot and lock the other peers out.
 */
export const MAX_PENDING_PER_ADDRESS = 4;
/** Inbound connections one IP address may open per second (libp2p's `inboundConnectionThreshold`). */
export const INBOUND_CONNECTIONS_PER_SECOND = 5;

/** The longest a ban grows to. */
export const MAX_BAN_MS = 3_600_000;
/** Announcements are gathered this long before they are sent, so that a burst goes as one message. */
export const ANNOUNCE_DELAY_MS = 50;
/** Redial delay after a failed dial or a lost connection: starts here, doubles to the cap. */
export const REDIAL_MIN_MS = 1_000;
export const REDIAL_MAX_MS = 30_000;
/** How often the service looks at its schedule (periodic reconciliation, redials, policy reloads). */
export const TICK_MS = 500;
/** Memo of (record, version) pairs fetched from a peer that changed nothing or were refused. */
export const MEMO_ENTRIES = 100_000;
/** Unknown peers remembered for status (the most recent refused). */
export const MAX_REFUSED_REMEMBERED = 32;
