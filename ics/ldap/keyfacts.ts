// What a pgpKeyInfo entry says of a key: ids, times, algorithm, user IDs, subkeys, revocation.
// `keyFactsOf` reads them from a parsed record; `scanKeyFacts` reads the same from canonical
// bytes THIS NODE STORED (never from input), without openpgp.js: reviving a record costs
// ~230 µs, which would bound a search by fingerprint over a large store to a few thousand per
// second. test/ldap/keyfacts.test.ts checks that both agree. Packet layout: RFC 4880 §4.2
// (new-format headers, as the record model frames canonical packets), §5.2.3 (v4
// signatures), §5.5.2 (v4 keys), §12.2 (fingerprints).
import { createHash } from 'node:crypto';
import { type KeyRecord, readSignatureFields } from '../record/index.ts';

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

const SIG = { keyRevocation: 0x20 } as const;
const CERTIFICATIONS = new Set([0x10, 0x11, 0x12, 0x13]);
const TAG = { signature: 2, publicKey: 6, userId: 13, publicSubkey: 14, userAttribute: 17 } as const;

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
    revoked: record.keySignatures.some((s) => s.self && s.type === SIG.keyRevocation),
    userIds: record.userIds.map((u) => u.userId),
    subkeys: record.subkeys.map((s) => ({ fingerprint: s.key.fingerprint, keyId: s.key.keyId })),
  };
}

/** Curve names by OID (RFC 6637 §11, RFC 4880bis §9.2), as the record model names them. */
const CURVES = new Map<string, string>([
  ['2a8648ce3d030107', 'nistP256'],
  ['2b81040022', 'nistP384'],
  ['2b81040023', 'nistP521'],
  ['2b06010401da470f01', 'ed25519'],
  ['2b060104019755010501', 'cv25519'],
  ['2b2403030208010107', 'brainpoolP256r1'],
  ['2b240303020801010b', 'brainpoolP384r1'],
  ['2b240303020801010d', 'brainpoolP512r1'],
]);

/** Stored bytes that do not read as a canonical key record: a bug, never client input. */
export class ScanError extends Error {
  override readonly name = 'ScanError';
}

function u32(b: Buffer, at: number): number {
  if (at + 4 > b.length) throw new ScanError('truncated');
  return b.readUInt32BE(at);
}

function describe(body: Buffer): { algorithm: number; algorithmName: string; bits: number; created: Date } {
  if (body[0] !== 4) throw new ScanError('not a v4 key');
  const created = new Date(u32(body, 1) * 1000);
  const algorithm = body[5] as number;
  if (algorithm === 1 || algorithm === 2 || algorithm === 3) {
    // MPI n (§3.2): bit count then the bytes; the record model counts bits from the bytes.
    const length = Math.ceil(body.readUInt16BE(6) / 8);
    let at = 8;
    const end = 8 + length;
    while (at < end - 1 && body[at] === 0) at++;
    const bits = (end - at) * 8 - Math.clz32(body[at] ?? 0) + 24;
    return { algorithm, algorithmName: `rsa${bits}`, bits, created };
  }
  if (algorithm === 18 || algorithm === 19 || algorithm === 22) {
    const oidLength = body[6] as number;
    const oid = body.toString('hex', 7, 7 + oidLength);
    const name = CURVES.get(oid) ?? 'unknown';
    // The record model's sizes (record/keys.ts describeKey): 384 and 521 for those NIST curves, else 256.
    const bits = name === 'nistP384' ? 384 : name === 'nistP521' ? 521 : 256;
    return { algorithm, algorithmName: name, bits, created };
  }
  if (algorithm === 27) return { algorithm, algorithmName: 'ed25519', bits: 256, created };
  if (algorithm === 25) return { algorithm, algorithmName: 'cv25519', bits: 256, created };
  return { algorithm, algorithmName: `algo${algorithm}`, bits: 0, created };
}

function fingerprintOf(body: Buffer): string {
  return createHash('sha1')
    .update(Buffer.from([0x99, body.length >> 8, body.length & 0xff]))
    .update(body)
    .digest('hex');
}

interface SigFacts {
  type: number;
  created: number;
  keyExpirySeconds: number | undefined;
  issuer: string | undefined;
}

/** The few facts of a stored signature this view needs, read by the record model's reader. */
function readSignature(body: Buffer): SigFacts {
  let sig: ReturnType<typeof readSignatureFields>;
  try {
    sig = readSignatureFields(body);
  } catch {
    throw new ScanError('malformed signature');
  }
  if (sig.version !== 4) throw new ScanError('not a v4 signature');
  return {
    type: sig.type,
    created: sig.created ? sig.created.getTime() / 1000 : 0,
    keyExpirySeconds: sig.keyExpirySeconds,
    issuer: sig.issuerFingerprint,
  };
}

/** Reads the key facts from a canonical key record's bytes. Throws ScanError if they are not one. */
export function scanKeyFacts(bytes: Uint8Array): KeyFacts {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let primary: ReturnType<typeof describe> | undefined;
  let fingerprint = '';
  const userIds: string[] = [];
  const subkeys: Array<{ fingerprint: string; keyId: string }> = [];
  let revoked = false;
  let newestSelf: { created: number; keyExpirySeconds: number | undefined } | undefined;
  /** Where the next signatures attach: the key itself, a user ID, a user attribute, a subkey. */
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
      case TAG.publicKey:
        if (primary) throw new ScanError('second primary key');
        primary = describe(body);
        fingerprint = fingerprintOf(body);
        break;
      case TAG.userId:
        userIds.push(body.toString('utf8'));
        target = 'uid';
        break;
      case TAG.userAttribute:
        target = 'other';
        break;
      case TAG.publicSubkey: {
        const f = fingerprintOf(body);
        subkeys.push({ fingerprint: f, keyId: f.slice(-16) });
        target = 'other';
        break;
      }
      case TAG.signature: {
        const sig = readSignature(body);
        const self = sig.issuer === fingerprint;
        if (target === 'key' && self && sig.type === SIG.keyRevocation) revoked = true;
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
