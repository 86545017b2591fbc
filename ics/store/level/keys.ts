// Key layout of the LevelDB store: one database, one leading byte per keyspace (shorter than
// abstract-level's `!name!` sublevel prefixes, which every one of ~16 entries per record would
// carry). Big-endian fixed-width numbers, so that byte order is numeric order.
//
//   00 name                          meta: format version, record counts per kind
//   01 id                       → record value (meta + canonical bytes), see codec.ts
//   02 keyId(8)                 → id…  key id of the primary key or a subkey → records' ids
//   03 fingerprint(20)          → id…  subkey fingerprint → records' ids (a primary's is the record key)
//   04 token 00 doc(6)          → ''   user-ID token
//   05 domain 00 id             → ''   domain membership, in id order
//   06 kind(1) id               → ''   kind membership, in id order
//   07 domain 00 time(8) id     → digest(32)   reconciliation set, (time, id) order
//   08 seq(6)                   → event        append-only change log
//   09 doc(6) seq(6)            → ''   a record's events
//   0a name 00 key              → value        entries of registered derived structures
//   0b 01 serial                → certificate  issued certificates, see certificate-codec.ts
//   0b 02 id issuedAt(8) serial → ''   a record's certificates, oldest issuance first
//   0b 03 notAfter(8) serial    → ''   certificates by expiry, soonest first
//   0b 04 issuer(32) serial     → ''   revoked certificates of one issuing CA, serial order
//   0c token                    → id… | ff    token head: the ids of the few records holding
//                                             the token, or ff once more than a few have
//
// The reconciliation set is the built-in derived structure (../sync-set.ts), kept in 07;
// registered ones (../derived.ts) under 0a by name. The certificate index (../certificates.ts)
// is written by the CA, not derived from records: its own space, 0b, where `serial` is the
// order-preserving encoding of ../serials.ts (it ends each key, being self-delimiting).
//
// `id` is the compact id of ids.ts (21 or 33 bytes). `doc` is a record's number: the seq of
// the event that inserted it, which never changes; index entries that many records share
// (tokens, history) end in it rather than in the id because 6 ascending bytes compress to
// almost nothing under LevelDB's prefix encoding while 21 random bytes do not. The event it
// names holds the id, so the event log MUST keep every record's insert event.
// Key ids and subkey fingerprints are point lookups (what gpg asks for most, by key id over
// HKP and LDAP): a get uses LevelDB's Bloom filters, a range scan cannot. Their value is the
// ids of the records holding that key, nearly always one.
// Tokens are ranges (04), since a prefix search needs one, but most of them (serial numbers,
// mailboxes) belong to one record: a token's head (0c) lists its records while they are few,
// so that an exact lookup of a rare token is one point read (a range scan is a round trip to
// LevelDB's threads and three reads: token, event, record). ff marks a token that has had
// more records than a head holds; its lookups scan the range, as before.
import type { EntityKind } from '../../record/index.ts';
import { SYNC_SET, syncDomainPrefix } from '../sync-set.ts';

export const Space = {
  meta: 0x00,
  record: 0x01,
  keyId: 0x02,
  subkey: 0x03,
  token: 0x04,
  domain: 0x05,
  kind: 0x06,
  sync: 0x07,
  event: 0x08,
  history: 0x09,
  derived: 0x0a,
  certificate: 0x0b,
  tokenHead: 0x0c,
} as const;

/** Second byte of a certificate-index key: the entry, or which secondary index. */
const CertificatePart = { entry: 0x01, byRecord: 0x02, byExpiry: 0x03, revoked: 0x04 } as const;

/** 48-bit sequence and record numbers: 2.8e14 events, beyond any node's life. */
export const SEQ_BYTES = 6;
export const MAX_SEQ = 2 ** 48 - 1;
const TIME_BYTES = 8;
const SEPARATOR = 0x00;
/** Greater than any byte of a UTF-8 string: closes a prefix range. */
const TOP = 0xff;

export const KINDS: readonly EntityKind[] = ['device', 'gateway', 'service', 'org', 'code', 'key'];

export function kindByte(kind: EntityKind): number {
  const index = KINDS.indexOf(kind);
  if (index < 0) throw new Error(`unknown entity kind ${kind}`);
  return index;
}

export function kindOfByte(byte: number): EntityKind {
  const kind = KINDS[byte];
  if (!kind) throw new Error(`unknown entity kind byte ${byte}`);
  return kind;
}

function key(space: number, ...parts: Uint8Array[]): Buffer {
  return Buffer.concat([Buffer.of(space), ...parts]);
}

export function uint48(n: number): Buffer {
  const out = Buffer.allocUnsafe(SEQ_BYTES);
  out.writeUIntBE(n, 0, SEQ_BYTES);
  return out;
}

export function readUint48(bytes: Buffer, at: number): number {
  return bytes.readUIntBE(at, SEQ_BYTES);
}

function writeTime64(out: Buffer, ms: number, at: number): void {
  const high = Math.floor(ms / 2 ** 32);
  out.writeUInt32BE(high, at);
  out.writeUInt32BE(ms - high * 2 ** 32, at + 4);
}

/** A time (whole ms, 0…2^53) as 8 big-endian bytes. */
export function time64(ms: number): Buffer {
  const out = Buffer.allocUnsafe(TIME_BYTES);
  writeTime64(out, ms, 0);
  return out;
}

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const sep = Buffer.of(SEPARATOR);

// The builders used on every write allocate the key once and write its parts in place
// (Buffer.concat of small parts showed up as a tenth of bulk-import time).

/** `space` name 00 [id] [doc(6)], either of the bracketed parts optional. */
function named(space: number, name: string, parts: { id?: Buffer; doc?: number }): Buffer {
  const nameBytes = Buffer.byteLength(name, 'utf8');
  const size = 2 + nameBytes + (parts.id?.length ?? 0) + (parts.doc === undefined ? 0 : SEQ_BYTES);
  const out = Buffer.allocUnsafe(size);
  out[0] = space;
  let at = 1 + out.write(name, 1, 'utf8');
  out[at++] = SEPARATOR;
  if (parts.id) at += parts.id.copy(out, at);
  if (parts.doc !== undefined) out.writeUIntBE(parts.doc, at, SEQ_BYTES);
  return out;
}

/** `space` hex-bytes. */
function hexKey(space: number, hex: string): Buffer {
  const out = Buffer.allocUnsafe(1 + hex.length / 2);
  out[0] = space;
  out.write(hex, 1, 'hex');
  return out;
}

export const metaKey = (name: string) => key(Space.meta, utf8(name));
/** A domain's bucket index as saved at close (store.ts #saveBucketIndexes). */
export const bucketIndexKey = (domain: string) => metaKey(`buckets/${domain}`);

export function recordKey(id: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + id.length);
  out[0] = Space.record;
  id.copy(out, 1);
  return out;
}

export const keyIdKey = (keyIdHex: string) => hexKey(Space.keyId, keyIdHex);
export const subkeyKey = (fingerprintHex: string) => hexKey(Space.subkey, fingerprintHex);

export const tokenKey = (token: string, doc: number) => named(Space.token, token, { doc });
/** A token's head: `0c token`. */
export const tokenHeadKey = (token: string) => key(Space.tokenHead, utf8(token));
/** Every token head. */
export const tokenHeadRange = () => range(Buffer.of(Space.tokenHead));
/** Exact token: `04 token 00 …`. */
export const tokenRange = (token: string) => range(key(Space.token, utf8(token), sep));
/** Tokens starting with `prefix`: UTF-8 never holds 0xff, so `prefix ff` closes the range. */
export const tokenPrefixRange = (prefix: string) => ({ gte: key(Space.token, utf8(prefix)), lt: key(Space.token, utf8(prefix), Buffer.of(TOP)) });

export const domainKey = (domain: string, id: Buffer) => named(Space.domain, domain, { id });
export const domainPrefix = (domain: string) => key(Space.domain, utf8(domain), sep);

export const kindKey = (kind: EntityKind, id: Buffer) => key(Space.kind, Buffer.of(kindByte(kind)), id);
export const kindPrefix = (kind: EntityKind) => key(Space.kind, Buffer.of(kindByte(kind)));

/** Where a derived structure's keys start: the sync set's in their own space, the others' by name. */
export const derivedPrefix = (name: string) => (name === SYNC_SET ? Buffer.of(Space.sync) : key(Space.derived, utf8(name), sep));
export const syncPrefix = (domain: string) => key(Space.sync, syncDomainPrefix(domain));

export function eventKey(seq: number): Buffer {
  const out = Buffer.allocUnsafe(1 + SEQ_BYTES);
  out[0] = Space.event;
  out.writeUIntBE(seq, 1, SEQ_BYTES);
  return out;
}

export function historyKey(doc: number, seq: number): Buffer {
  const out = Buffer.allocUnsafe(1 + 2 * SEQ_BYTES);
  out[0] = Space.history;
  out.writeUIntBE(doc, 1, SEQ_BYTES);
  out.writeUIntBE(seq, 1 + SEQ_BYTES, SEQ_BYTES);
  return out;
}
export const historyRange = (doc: number) => range(key(Space.history, uint48(doc)));

/** Every key that starts with `prefix`. Prefixes here never end in 0xff, so incrementing the last byte closes them. */
export function range(prefix: Buffer): { gte: Buffer; lt: Buffer } {
  const lt = Buffer.from(prefix);
  let i = lt.length - 1;
  while (i >= 0 && lt[i] === TOP) i--;
  if (i < 0) throw new Error('cannot close a range of 0xff bytes');
  lt[i] = (lt[i] as number) + 1;
  return { gte: prefix, lt: lt.subarray(0, i + 1) };
}

/** The six-byte record number at the end of an index key. */
export function docOf(indexKey: Buffer): number {
  return readUint48(indexKey, indexKey.length - SEQ_BYTES);
}

/** `0b part …parts`: a key of the certificate index. */
const certificatePart = (part: number, ...parts: Uint8Array[]) => key(Space.certificate, Buffer.of(part), ...parts);
const ISSUER_BYTES = 32;

export const certificateKey = (serial: Buffer) => certificatePart(CertificatePart.entry, serial);
/** The entry key of the serial that ends a secondary key, starting at `at`. */
export const certificateKeyAt = (indexKey: Buffer, at: number) => certificateKey(indexKey.subarray(at));

export const certificateOfKey = (id: Buffer, issuedAt: number, serial: Buffer) => certificatePart(CertificatePart.byRecord, id, time64(issuedAt), serial);
export const certificatesOfRange = (id: Buffer) => range(certificatePart(CertificatePart.byRecord, id));
/** Where the serial starts in a record's certificate key, after its `idBytes`-long id. */
export const certificateOfSerialAt = (idBytes: number) => 2 + idBytes + TIME_BYTES;

export const expiryKey = (notAfter: number, serial: Buffer) => certificatePart(CertificatePart.byExpiry, time64(notAfter), serial);
/**
 * Expiry keys with notAfter < `before` (whole ms, ≥ 0) and, with `after`, past that key: an
 * empty encoded serial there is a prefix of every key of its time, so they all follow it.
 */
export const expiryRange = (before: number, after?: { notAfter: number; serial: Buffer }) => ({
  ...(after ? { gt: expiryKey(after.notAfter, after.serial) } : { gte: certificatePart(CertificatePart.byExpiry) }),
  lt: expiryKey(before, Buffer.alloc(0)),
});
export const EXPIRY_SERIAL_AT = 2 + TIME_BYTES;

export const revokedKey = (issuerHex: string, serial: Buffer) => certificatePart(CertificatePart.revoked, Buffer.from(issuerHex, 'hex'), serial);
/** An issuing CA's revoked keys, past `afterSerial` (encoded) when given. */
export function revokedRange(issuerHex: string, afterSerial?: Buffer) {
  const { gte, lt } = range(certificatePart(CertificatePart.revoked, Buffer.from(issuerHex, 'hex')));
  return afterSerial ? { gt: revokedKey(issuerHex, afterSerial), lt } : { gte, lt };
}
export const REVOKED_SERIAL_AT = 2 + ISSUER_BYTES;
