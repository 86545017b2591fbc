// What a key record says of its keys, read straight from packet bytes: the one reader behind
// the record model's key descriptions (`describeKey`, used by parse) and LDAP's pgpKeyInfo
// entries (`scanKeyFacts`). The scan reads canonical bytes THIS NODE STORED (never input)
// without openpgp.js: reviving a record costs ~230 µs, which would bound an LDAP search by
// fingerprint over a large store to a few thousand per second. `keyFactsOf` reads the same
// facts from a parsed record, the reference the scan must agree with.
// Layout: RFC 4880 §4.2 (new-format headers, as canonical packets are framed), §5.2.3 (v4
// signatures), §5.5.2 (v4 keys), §12.2 (v4 fingerprints); RFC 9580 §5.5.2.3 and §5.5.4.3
// (v6 keys and fingerprints, which openpgp.js reads in subkeys).
import { hash } from 'node:crypto';
import { PubKeyAlgo } from './keys.ts';
import { framePacket, PacketTag } from './packets.ts';
import { walkSubpackets } from './signature.ts';
import { type KeyRecord, type PublicKeyInfo, SigType } from './types.ts';

/** Stored bytes that do not read as a canonical key record: a bug, never client input. */
export class ScanError extends Error {
  override readonly name = 'ScanError';
}

/** What a key packet says of its key: a PublicKeyInfo without the packet. */
export type KeyDescription = Omit<PublicKeyInfo, 'packet'>;

/** What a pgpKeyInfo entry says of a key: ids, times, algorithm, user IDs, subkeys, revocation. */
export interface KeyFacts {
  /** Lower-case hex, as the record model writes ids. */
  readonly fingerprint: string;
  readonly keyId: string;
  readonly created: Date;
  readonly algorithm: number;
  readonly algorithmName: string;
  readonly bits: number;
  /** Key expiry announced by the newest self-certification, if any. */
  readonly expires: Date | undefined;
  /** A key revocation signature by the key itself is present. */
  readonly revoked: boolean;
  readonly userIds: readonly string[];
  readonly subkeys: ReadonlyArray<{ readonly fingerprint: string; readonly keyId: string }>;
}

const CERTIFICATIONS: ReadonlySet<number> = new Set([SigType.certGeneric, SigType.certPersona, SigType.certCasual, SigType.certPositive]);

/** Curve names by OID (RFC 6637 §11, RFC 9580 §9.2), as the record model names them. */
const CURVES = new Map<string, string>([
  ['2a8648ce3d030107', 'nistP256'],
  ['2b81040022', 'nistP384'],
  ['2b81040023', 'nistP521'],
  ['2b8104000a', 'secp256k1'],
  ['2b06010401da470f01', 'ed25519'],
  ['2b060104019755010501', 'cv25519'],
  ['2b2403030208010107', 'brainpoolP256r1'],
  ['2b240303020801010b', 'brainpoolP384r1'],
  ['2b240303020801010d', 'brainpoolP512r1'],
]);

const asBuffer = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

function u32(b: Buffer, at: number): number {
  if (at + 4 > b.length) throw new ScanError('truncated');
  return b.readUInt32BE(at);
}

/** Key packet versions read here: 4, and 6 (openpgp.js reads v6 subkeys). */
function keyVersion(body: Uint8Array): 4 | 6 {
  const version = body[0];
  if (version !== 4 && version !== 6) throw new ScanError(`version ${version} key packet`);
  return version;
}

/** The key's fingerprint, lower-case hex: SHA-1 over 0x99 ‖ 2-octet length ‖ body (v4), SHA-256 over 0x9B ‖ 4-octet length ‖ body (v6). */
export function keyFingerprint(body: Uint8Array): string {
  const n = body.length;
  const v4 = keyVersion(body) === 4;
  // One buffer and a one-shot hash: a third of what a streaming Hash object costs per key.
  const input = Buffer.allocUnsafe((v4 ? 3 : 5) + n);
  if (v4) {
    input[0] = 0x99;
    input.writeUInt16BE(n, 1);
  } else {
    input[0] = 0x9b;
    input.writeUInt32BE(n, 1);
  }
  input.set(body, v4 ? 3 : 5);
  return hash(v4 ? 'sha1' : 'sha256', input, 'hex');
}

/**
 * Reads a public key packet's body (tag 6 or 14). Throws ScanError if it is not one.
 * `fingerprint` is the key's when the caller has it already, to spare hashing it again.
 */
export function readKeyPacket(body: Uint8Array, fingerprint = keyFingerprint(body)): KeyDescription {
  const b = asBuffer(body);
  // After version, creation time, algorithm (and for v6 the material's length) comes the key material.
  const material = keyVersion(b) === 4 ? 6 : 10;
  if (b.length < material) throw new ScanError('truncated key packet');
  const created = new Date(u32(b, 1) * 1000);
  const algorithm = b[5] as number;
  let algorithmName: string;
  let bits: number;
  switch (algorithm) {
    case PubKeyAlgo.rsaEncryptSign:
    case PubKeyAlgo.rsaEncrypt:
    case PubKeyAlgo.rsaSign: {
      // MPI n (§3.2): bit count then the bytes; bits are counted from the bytes, leading zeros skipped.
      if (b.length < material + 2) throw new ScanError('truncated key packet');
      const end = material + 2 + Math.ceil(b.readUInt16BE(material) / 8);
      let at = material + 2;
      while (at < end - 1 && b[at] === 0) at++;
      bits = (end - at) * 8 - Math.clz32(b[at] ?? 0) + 24;
      algorithmName = `rsa${bits}`;
      break;
    }
    case PubKeyAlgo.ecdsa:
    case PubKeyAlgo.ecdh:
    case PubKeyAlgo.eddsaLegacy: {
      const oidLength = b[material] ?? 0;
      algorithmName = CURVES.get(b.toString('hex', material + 1, material + 1 + oidLength)) ?? 'unknown';
      // Every other curve counts as 256 bits (brainpoolP512r1 included): the sizes the record model has always given.
      bits = algorithmName === 'nistP384' ? 384 : algorithmName === 'nistP521' ? 521 : 256;
      break;
    }
    case PubKeyAlgo.ed25519:
      algorithmName = 'ed25519';
      bits = 256;
      break;
    case PubKeyAlgo.x25519:
      algorithmName = 'cv25519';
      bits = 256;
      break;
    default:
      algorithmName = `algo${algorithm}`;
      bits = 0;
  }
  // The low 64 bits for every version: what the record model has always given (RFC 9580 takes
  // a v6 key's high 64 bits; only subkeys can be v6 here, and record ids are v4).
  return { fingerprint, keyId: fingerprint.slice(-16), algorithm, algorithmName, bits, created };
}

/**
 * Describes a key packet for the record model; `tag` frames the canonical packet kept with it.
 * Parsing passes the fingerprint openpgp.js computed as it read the packet, which spares a
 * second hash of every key on every parse and revive.
 */
export function describeKey(tag: typeof PacketTag.publicKey | typeof PacketTag.publicSubkey, body: Uint8Array, fingerprint?: string): PublicKeyInfo {
  const d = readKeyPacket(body, fingerprint);
  // Field by field: an object spread here measured ~3 µs per key.
  return { fingerprint: d.fingerprint, keyId: d.keyId, algorithm: d.algorithm, algorithmName: d.algorithmName, bits: d.bits, created: d.created, packet: framePacket(tag, body) };
}

/** From a verified (or revived) record: the reference for what `scanKeyFacts` must find. */
export function keyFactsOf(record: KeyRecord): KeyFacts {
  const selfCerts = record.userIds
    .flatMap((u) => u.signatures)
    .filter((s) => s.self && CERTIFICATIONS.has(s.type))
    .sort((a, b) => a.created.getTime() - b.created.getTime() || (a.sigId < b.sigId ? -1 : a.sigId > b.sigId ? 1 : 0));
  return {
    fingerprint: record.primaryKey.fingerprint,
    keyId: record.primaryKey.keyId,
    created: record.primaryKey.created,
    algorithm: record.primaryKey.algorithm,
    algorithmName: record.primaryKey.algorithmName,
    bits: record.primaryKey.bits,
    expires: selfCerts.at(-1)?.keyExpires,
    revoked: record.keySignatures.some((s) => s.self && s.type === SigType.keyRevocation),
    userIds: record.userIds.map((u) => u.userId),
    subkeys: record.subkeys.map((s) => ({ fingerprint: s.key.fingerprint, keyId: s.key.keyId })),
  };
}

interface SigFacts {
  type: number;
  created: number;
  keyExpirySeconds: number | undefined;
  issuer: string | undefined;
}

const nativeHex = (Buffer.prototype as unknown as { hexSlice(this: Uint8Array, start: number, end: number): string }).hexSlice;

/**
 * The few facts of a stored v4 signature the scan needs (§5.2.3.1): type, creation time (2),
 * key expiry (9) and issuer fingerprint (33) from the hashed area, the issuer from the
 * unhashed area only when the hashed one names none, as the record model's reader takes them.
 * Only the subpacket headers are walked (walkSubpackets): nothing else of the signature is decoded.
 */
function signatureFacts(body: Buffer): SigFacts {
  if (body.length < 10 || body[0] !== 4) throw new ScanError('not a v4 signature');
  const hashedEnd = 6 + body.readUInt16BE(4);
  if (hashedEnd + 2 > body.length) throw new ScanError('malformed signature');
  const unhashedEnd = hashedEnd + 2 + body.readUInt16BE(hashedEnd);
  if (unhashedEnd + 2 > body.length) throw new ScanError('malformed signature');
  const facts: SigFacts = { type: body[1] as number, created: 0, keyExpirySeconds: undefined, issuer: undefined };
  let wellFormed = true;
  const visit = (hashed: boolean) => (type: number, at: number, length: number) => {
    if (type === 33 && length === 22 && body[at + 1] === 4) {
      if (hashed || facts.issuer === undefined) facts.issuer = nativeHex.call(body, at + 2, at + 22);
    } else if (hashed && (type === 2 || type === 9)) {
      if (type === 2 ? length !== 5 : length < 5) wellFormed = false;
      else if (type === 2) facts.created = body.readUInt32BE(at + 1);
      else facts.keyExpirySeconds = body.readUInt32BE(at + 1);
    }
  };
  if (!walkSubpackets(body, 6, hashedEnd, visit(true)) || !walkSubpackets(body, hashedEnd + 2, unhashedEnd, visit(false)) || !wellFormed) {
    throw new ScanError('malformed signature');
  }
  return facts;
}

/** Reads the key facts from a canonical key record's bytes. Throws ScanError if they are not one. */
export function scanKeyFacts(bytes: Uint8Array): KeyFacts {
  const b = asBuffer(bytes);
  let primary: KeyDescription | undefined;
  let fingerprint = '';
  const userIds: string[] = [];
  const subkeys: Array<{ fingerprint: string; keyId: string }> = [];
  let revoked = false;
  let newestSelf: { created: number; keyExpirySeconds: number | undefined } | undefined;
  /** Where the next signatures attach: the key itself, a user ID, a user attribute or subkey. */
  let target: 'key' | 'uid' | 'other' = 'key';
  for (let at = 0; at < b.length; ) {
    const ctb = b[at] as number;
    if ((ctb & 0xc0) !== 0xc0) throw new ScanError('not a new-format packet header');
    const tag = ctb & 0x3f;
    const first = b[at + 1];
    if (first === undefined) throw new ScanError('truncated header');
    let length: number;
    let header: number;
    if (first < 192) [length, header] = [first, 2];
    else if (first < 224) [length, header] = [((first - 192) << 8) + (b[at + 2] ?? 0) + 192, 3];
    else if (first === 255) [length, header] = [u32(b, at + 2), 6];
    else throw new ScanError('partial body length');
    const body = b.subarray(at + header, at + header + length);
    if (body.length !== length) throw new ScanError('truncated packet');
    at += header + length;
    switch (tag) {
      case PacketTag.publicKey:
        if (primary) throw new ScanError('second primary key');
        // The record model takes v4 primary keys only (parse.ts).
        if (body[0] !== 4) throw new ScanError('not a v4 key');
        primary = readKeyPacket(body);
        fingerprint = primary.fingerprint;
        break;
      case PacketTag.userId:
        userIds.push(body.toString('utf8'));
        target = 'uid';
        break;
      case PacketTag.userAttribute:
        target = 'other';
        break;
      case PacketTag.publicSubkey: {
        const f = keyFingerprint(body);
        subkeys.push({ fingerprint: f, keyId: f.slice(-16) });
        target = 'other';
        break;
      }
      case PacketTag.signature: {
        const sig = signatureFacts(body);
        const self = sig.issuer === fingerprint;
        if (target === 'key' && self && sig.type === SigType.keyRevocation) revoked = true;
        if (target === 'uid' && self && CERTIFICATIONS.has(sig.type)) {
          // Canonical order is oldest first within a user ID, and ties keep the later one
          // only if its id sorts later: the same rule as keyFactsOf, up to exact ties.
          if (!newestSelf || sig.created >= newestSelf.created) newestSelf = { created: sig.created, keyExpirySeconds: sig.keyExpirySeconds };
        }
        break;
      }
      default:
        throw new ScanError(`packet tag ${tag} in a key record`);
    }
  }
  if (!primary) throw new ScanError('no primary key');
  const expirySeconds = newestSelf?.keyExpirySeconds;
  return {
    fingerprint,
    keyId: fingerprint.slice(-16),
    created: primary.created,
    algorithm: primary.algorithm,
    algorithmName: primary.algorithmName,
    bits: primary.bits,
    expires: expirySeconds ? new Date(primary.created.getTime() + expirySeconds * 1000) : undefined,
    revoked,
    userIds,
    subkeys,
  };
}
