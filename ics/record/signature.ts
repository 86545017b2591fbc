// v4 signature packets (RFC 4880 §5.2.3): read once into the fields the model uses,
// with the canonical re-encoding and hash input built from the bytes as read. This is
// the hot path of verification, so it allocates little and copies nothing it can slice.
import { IcsError } from '../errors.ts';

export interface RawNotation {
  readonly name: string;
  readonly value: Uint8Array;
  readonly humanReadable: boolean;
  readonly critical: boolean;
}

export interface SignatureFields {
  readonly version: number;
  readonly type: number;
  readonly publicKeyAlgorithm: number;
  readonly hashAlgorithm: number;
  /** Version through hashed subpackets: what the signature covers besides the data. */
  readonly hashedPart: Uint8Array;
  readonly created: Date | undefined;
  /** Seconds after creation; 0 or undefined: never. */
  readonly expirySeconds: number | undefined;
  /** Seconds after key creation (self-signatures); 0 or undefined: never. */
  readonly keyExpirySeconds: number | undefined;
  /** False for local (non-exportable) certifications, RFC 4880 §5.2.3.11. */
  readonly exportable: boolean;
  readonly issuerKeyId: string | undefined;
  readonly issuerFingerprint: string | undefined;
  readonly notations: readonly RawNotation[];
  /** First octet of the key flags (§5.2.3.21), hashed area only; undefined when absent. */
  readonly keyFlags: number | undefined;
  /** Reason for revocation (§5.2.3.23), hashed area only. */
  readonly revocation: { readonly code: number; readonly text: string } | undefined;
  /** Embedded signatures (§5.2.3.26, e.g. a subkey's back-signature), from either area. */
  readonly embedded: readonly EmbeddedSignature[];
  /** Type of the first critical subpacket this model does not understand. */
  readonly unknownCritical: number | undefined;
  readonly left16: Uint8Array;
  /** The algorithm-specific value as minimal MPIs (canonical). */
  readonly value: Uint8Array;
  /** The value's integers, without length prefixes (r, s for (EC)DSA/EdDSA; s for RSA). */
  readonly integers: readonly Uint8Array[];
}

export interface EmbeddedSignature {
  /** The embedded signature packet's body. */
  readonly body: Uint8Array;
  /** Whether it sits in the hashed area (covered by the outer signature). */
  readonly hashed: boolean;
}

/** Embedded signatures read per area: a binding carries one; more is padding, not meaning. */
const MAX_EMBEDDED_PER_AREA = 2;

/** Subpackets read here or safe to ignore even when marked critical. */
const KNOWN_SUBPACKETS: ReadonlySet<number> = new Set([
  2, 3, 4, 5, 6, 7, 9, 11, 12, 16, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 39,
]);

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

function malformed(reason: string): IcsError {
  return new IcsError('RECORD_MALFORMED', `signature: ${reason}`);
}

function u16(b: Uint8Array, at: number): number {
  if (at + 2 > b.length) throw malformed('truncated');
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

function u32(b: Uint8Array, at: number): number {
  if (at + 4 > b.length) throw malformed('truncated');
  return (((b[at] as number) << 24) >>> 0) + ((b[at + 1] as number) << 16) + ((b[at + 2] as number) << 8) + (b[at + 3] as number);
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

// Buffer's native slicers on any Uint8Array, without a Buffer view per call: triage reads
// issuer ids and copy keys of every signature in a flood, so the per-call garbage counts.
const nativeSlice = Buffer.prototype as unknown as {
  hexSlice(this: Uint8Array, start: number, end: number): string;
  latin1Slice(this: Uint8Array, start: number, end: number): string;
};
const hexRange = (b: Uint8Array, start: number, end: number) => nativeSlice.hexSlice.call(b, start, end);
const latin1Range = (b: Uint8Array, start: number, end: number) => nativeSlice.latin1Slice.call(b, start, end);

interface SubpacketSink {
  created?: Date;
  expirySeconds?: number;
  keyExpirySeconds?: number;
  exportable: boolean;
  issuerKeyId?: string;
  issuerFingerprint?: string;
  notations: RawNotation[];
  keyFlags?: number;
  revocation?: { code: number; text: string };
  embedded: EmbeddedSignature[];
  unknownCritical?: number;
}

/** Reads a subpacket area (§5.2.3.1); only the issuer may be taken from the unhashed area. */
function readSubpackets(area: Uint8Array, hashed: boolean, sink: SubpacketSink): void {
  let pos = 0;
  while (pos < area.length) {
    const first = area[pos] as number;
    let length: number;
    if (first < 192) {
      length = first;
      pos += 1;
    } else if (first < 255) {
      length = ((first - 192) << 8) + (area[pos + 1] ?? 0) + 192;
      pos += 2;
    } else {
      length = u32(area, pos + 1);
      pos += 5;
    }
    if (length < 1 || pos + length > area.length) throw malformed('subpacket length out of bounds');
    const rawType = area[pos] as number;
    const type = rawType & 0x7f;
    const critical = (rawType & 0x80) !== 0;
    const body = area.subarray(pos + 1, pos + length);
    pos += length;
    if (type === 32) {
      // GnuPG puts a subkey's back-signature in the unhashed area; RFC 4880 §11.1 allows either.
      if (sink.embedded.filter((e) => e.hashed === hashed).length < MAX_EMBEDDED_PER_AREA) sink.embedded.push({ body, hashed });
      continue;
    }
    if (!hashed) {
      if (type === 16 && body.length === 8) sink.issuerKeyId ??= hex(body);
      else if (type === 33 && body.length === 21 && body[0] === 4) sink.issuerFingerprint ??= hex(body.subarray(1));
      continue;
    }
    switch (type) {
      case 2:
        if (body.length !== 4) throw malformed('bad creation time');
        sink.created = new Date(u32(body, 0) * 1000);
        break;
      case 3:
        sink.expirySeconds = u32(body, 0);
        break;
      case 4:
        sink.exportable = body[0] !== 0;
        break;
      case 9:
        sink.keyExpirySeconds = u32(body, 0);
        break;
      case 16:
        if (body.length === 8) sink.issuerKeyId = hex(body);
        break;
      case 27:
        if (body.length >= 1) sink.keyFlags = body[0] as number;
        break;
      case 29:
        if (body.length >= 1) sink.revocation = { code: body[0] as number, text: utf8.decode(body.subarray(1)) };
        break;
      case 33:
        if (body.length === 21 && body[0] === 4) sink.issuerFingerprint = hex(body.subarray(1));
        break;
      case 20: {
        // flags(4) name-length(2) value-length(2) name value (§5.2.3.16)
        if (body.length < 8) throw malformed('bad notation');
        const nameLength = u16(body, 4);
        const valueLength = u16(body, 6);
        if (8 + nameLength + valueLength !== body.length) throw malformed('bad notation lengths');
        sink.notations.push({
          name: latin1.decode(body.subarray(8, 8 + nameLength)),
          value: body.subarray(8 + nameLength),
          humanReadable: ((body[0] as number) & 0x80) !== 0,
          critical,
        });
        break;
      }
      default:
        if (critical && !KNOWN_SUBPACKETS.has(type)) sink.unknownCritical ??= type;
    }
  }
}

/** Number of MPIs in a signature value, by public-key algorithm (§5.2.3; RFC 9580 §5.2.3). */
function mpiCount(algorithm: number): number | undefined {
  if (algorithm === 1 || algorithm === 3) return 1;
  if (algorithm === 17 || algorithm === 19 || algorithm === 22) return 2;
  return undefined;
}

/** Reads MPIs and re-encodes them minimally, so that one signature has one encoding. */
function readValue(algorithm: number, raw: Uint8Array): { value: Uint8Array; integers: Uint8Array[] } {
  if (algorithm === 27) {
    if (raw.length !== 64) throw malformed('Ed25519 value must be 64 bytes');
    return { value: raw, integers: [raw] };
  }
  const count = mpiCount(algorithm);
  if (count === undefined) return { value: raw, integers: [] };
  const integers: Uint8Array[] = [];
  const parts: Uint8Array[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const bits = u16(raw, pos);
    const end = pos + 2 + ((bits + 7) >> 3);
    if (end > raw.length) throw malformed('truncated MPI');
    let start = pos + 2;
    while (start < end && raw[start] === 0) start++;
    const integer = raw.subarray(start, end);
    const top = integer[0] ?? 0;
    const minimalBits = integer.length === 0 ? 0 : (integer.length - 1) * 8 + (32 - Math.clz32(top));
    parts.push(Uint8Array.of(minimalBits >> 8, minimalBits & 0xff), integer);
    integers.push(integer);
    pos = end;
  }
  if (pos !== raw.length) throw malformed('trailing bytes after signature value');
  return { value: Buffer.concat(parts), integers };
}

/** What triage needs to refuse a signature before reading it: who made it, of what type. */
export interface SignatureHead {
  readonly version: number;
  readonly type: number;
  readonly issuerKeyId: string | undefined;
  readonly issuerFingerprint: string | undefined;
  /**
   * The signed part and the value as read (latin1): equal for copies that differ only in the
   * unsigned area, so that such copies are counted once without hashing them. Made on first
   * use: most signatures triaged (those by known issuers) never need it.
   */
  readonly copyKey: string;
}

/**
 * Reads only the version, the type and the issuer subpackets (16, 33) of a v4 signature,
 * with the same precedence as `readSignature` (hashed area first, unhashed fills gaps).
 * Nothing else is decoded or copied: a flood of signatures by unknown issuers is refused
 * at this cost. Undefined when the body is not a well-framed v4 signature; the caller
 * then reads it in full, which reports what is wrong.
 */
export function readSignatureHead(body: Uint8Array): SignatureHead | undefined {
  if (body.length < 10 || body[0] !== 4) return undefined;
  const hashedEnd = 6 + (((body[4] as number) << 8) | (body[5] as number));
  if (hashedEnd + 2 > body.length) return undefined;
  const unhashedEnd = hashedEnd + 2 + (((body[hashedEnd] as number) << 8) | (body[hashedEnd + 1] as number));
  if (unhashedEnd + 2 > body.length) return undefined;
  const head = { keyId: undefined as string | undefined, fingerprint: undefined as string | undefined };
  if (!scanIssuer(body, 6, hashedEnd, true, head) || !scanIssuer(body, hashedEnd + 2, unhashedEnd, false, head)) return undefined;
  let copyKey: string | undefined;
  return {
    version: 4,
    type: body[1] as number,
    issuerKeyId: head.keyId,
    issuerFingerprint: head.fingerprint,
    get copyKey() {
      copyKey ??= latin1Range(body, 0, hashedEnd) + latin1Range(body, unhashedEnd, body.length);
      return copyKey;
    },
  };
}

/**
 * Walks the subpackets of one area (§5.2.3.1), between `start` and `end`, reading only their
 * headers: `visit` gets each one's type (criticality bit cleared), the offset of its type
 * octet and its length (type octet included). False when the area is not well framed.
 */
export function walkSubpackets(b: Uint8Array, start: number, end: number, visit: (type: number, at: number, length: number) => void): boolean {
  let pos = start;
  while (pos < end) {
    const first = b[pos] as number;
    let length: number;
    if (first < 192) {
      length = first;
      pos += 1;
    } else if (first < 255) {
      if (pos + 2 > end) return false;
      length = ((first - 192) << 8) + (b[pos + 1] as number) + 192;
      pos += 2;
    } else {
      if (pos + 5 > end) return false;
      length = u32(b, pos + 1);
      pos += 5;
    }
    if (length < 1 || pos + length > end) return false;
    visit((b[pos] as number) & 0x7f, pos, length);
    pos += length;
  }
  return true;
}

function scanIssuer(b: Uint8Array, start: number, end: number, hashed: boolean, head: { keyId?: string; fingerprint?: string }): boolean {
  return walkSubpackets(b, start, end, (type, at, length) => {
    if (type === 16 && length === 9) {
      const keyId = hexRange(b, at + 1, at + 9);
      head.keyId = hashed ? keyId : (head.keyId ?? keyId);
    } else if (type === 33 && length === 22 && b[at + 1] === 4) {
      const fingerprint = hexRange(b, at + 2, at + 22);
      head.fingerprint = hashed ? fingerprint : (head.fingerprint ?? fingerprint);
    }
  });
}

/** Reads a signature packet body. Versions other than 4 come back with only `version` meaningful. */
export function readSignature(body: Uint8Array): SignatureFields {
  const version = body[0];
  if (version === undefined) throw malformed('empty');
  if (version !== 4) {
    return {
      version,
      type: body[1] ?? -1,
      publicKeyAlgorithm: 0,
      hashAlgorithm: 0,
      hashedPart: body.subarray(0, 0),
      created: undefined,
      expirySeconds: undefined,
      keyExpirySeconds: undefined,
      exportable: true,
      issuerKeyId: undefined,
      issuerFingerprint: undefined,
      notations: [],
      keyFlags: undefined,
      revocation: undefined,
      embedded: [],
      unknownCritical: undefined,
      left16: body.subarray(0, 0),
      value: body.subarray(0, 0),
      integers: [],
    };
  }
  if (body.length < 10) throw malformed('truncated');
  const hashedLength = u16(body, 4);
  const hashedEnd = 6 + hashedLength;
  const unhashedLength = u16(body, hashedEnd);
  const unhashedEnd = hashedEnd + 2 + unhashedLength;
  if (unhashedEnd + 2 > body.length) throw malformed('truncated subpacket areas');
  const sink: SubpacketSink = { exportable: true, notations: [], embedded: [] };
  readSubpackets(body.subarray(6, hashedEnd), true, sink);
  readSubpackets(body.subarray(hashedEnd + 2, unhashedEnd), false, sink);
  const publicKeyAlgorithm = body[2] as number;
  const { value, integers } = readValue(publicKeyAlgorithm, body.subarray(unhashedEnd + 2));
  return {
    version,
    type: body[1] as number,
    publicKeyAlgorithm,
    hashAlgorithm: body[3] as number,
    hashedPart: body.subarray(0, hashedEnd),
    created: sink.created,
    expirySeconds: sink.expirySeconds,
    keyExpirySeconds: sink.keyExpirySeconds,
    exportable: sink.exportable,
    issuerKeyId: sink.issuerKeyId,
    issuerFingerprint: sink.issuerFingerprint,
    notations: sink.notations,
    keyFlags: sink.keyFlags,
    revocation: sink.revocation,
    embedded: sink.embedded,
    unknownCritical: sink.unknownCritical,
    left16: body.subarray(unhashedEnd, unhashedEnd + 2),
    value,
    integers,
  };
}

/** The hash trailer of a v4 signature (§5.2.4): 0x04 0xFF and the hashed part's length. */
export function hashTrailer(sig: SignatureFields): Uint8Array {
  const n = sig.hashedPart.length;
  return Uint8Array.of(0x04, 0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * Canonical body: the signed part as read, an unhashed area naming only the issuer (plus a
 * verified back-signature that arrived unhashed, which GnuPG needs to use a signing
 * subkey), the value.
 */
export function canonicalSignatureBody(sig: SignatureFields, issuerFingerprint: string, unhashedBacksig?: Uint8Array): Uint8Array {
  const fpr = Buffer.from(issuerFingerprint, 'hex');
  const parts: Uint8Array[] = [Uint8Array.of(9, 16), fpr.subarray(-8), Uint8Array.of(22, 33, 4), fpr];
  if (unhashedBacksig) parts.push(subpacketLength(unhashedBacksig.length + 1), Uint8Array.of(32), unhashedBacksig);
  const unhashed = Buffer.concat(parts);
  if (unhashed.length > 0xffff) throw malformed('unhashed area too long');
  return Buffer.concat([sig.hashedPart, Uint8Array.of(unhashed.length >> 8, unhashed.length & 0xff), unhashed, sig.left16, sig.value]);
}

/** Subpacket length octets (§5.2.3.1). */
function subpacketLength(n: number): Uint8Array {
  if (n < 192) return Uint8Array.of(n);
  if (n < 8384) return Uint8Array.of(((n - 192) >> 8) + 192, (n - 192) & 0xff);
  return Uint8Array.of(255, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** Hash-input prefix for a key (§5.2.4): 0x99, two-octet length, key packet body. */
export function keyHashPrefix(keyBody: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.of(0x99, keyBody.length >> 8, keyBody.length & 0xff), keyBody]);
}

/** Hash-input prefix for a user ID (§5.2.4): 0xB4, four-octet length, user ID. */
export function userIdHashPrefix(userId: Uint8Array): Uint8Array {
  const n = userId.length;
  return Buffer.concat([Uint8Array.of(0xb4, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff), userId]);
}

export function utf8Value(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}
