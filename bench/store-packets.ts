// Fast device records for the store benchmark: OpenPGP v4 packets (RFC 4880 §5.2, §5.5, §12.2)
// built by hand and signed with node:crypto Ed25519, byte for byte what the record model's
// canonical form is (checked by parsing samples with parseRecord). openpgp.js signing costs
// milliseconds per record, which would make a 1,000,000-record corpus take hours.
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

/** OID of Ed25519 as OpenPGP's legacy EdDSA names it (RFC 4880bis §9.2). */
const ED25519_OID = Buffer.from('2b06010401da470f01', 'hex');
const EDDSA_LEGACY = 22;
const SHA256 = 8;
const SIG = { positive: 0x13, generic: 0x10 } as const;

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** Multiprecision integer (§3.2): bit count, then the bytes without leading zeros. */
function mpi(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const body = bytes.subarray(i);
  const bits = body.length === 0 ? 0 : (body.length - 1) * 8 + (32 - Math.clz32(body[0] as number));
  return Buffer.concat([u16(bits), body]);
}

/** New-format packet header (§4.2.2), as the record model frames stored packets. */
export function frame(tag: number, body: Buffer): Buffer {
  const n = body.length;
  let header: Buffer;
  if (n < 192) header = Buffer.from([0xc0 | tag, n]);
  else if (n < 8384) header = Buffer.from([0xc0 | tag, ((n - 192) >> 8) + 192, (n - 192) & 0xff]);
  else header = Buffer.concat([Buffer.from([0xc0 | tag, 0xff]), u32(n)]);
  return Buffer.concat([header, body]);
}

function subpacket(type: number, body: Buffer, critical = false): Buffer {
  return Buffer.concat([Buffer.from([body.length + 1, critical ? type | 0x80 : type]), body]);
}

/** Human-readable notation (§5.2.3.16). */
function notation(name: string, value: string): Buffer {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  return subpacket(20, Buffer.concat([Buffer.from([0x80, 0, 0, 0]), u16(n.length), u16(v.length), n, v]));
}

export interface EdKey {
  /** Raw 32-byte public key. */
  readonly publicRaw: Buffer;
  readonly privateKey: KeyObject;
  /** Key creation time, seconds since the epoch. */
  readonly created: number;
}

export interface KeyFacts {
  readonly body: Buffer;
  readonly fingerprint: Buffer;
  readonly keyId: Buffer;
}

/** v4 public key packet body (§5.5.2) of a legacy EdDSA key, with its fingerprint (§12.2). */
export function keyFacts(key: EdKey): KeyFacts {
  const body = Buffer.concat([
    Buffer.from([4]),
    u32(key.created),
    Buffer.from([EDDSA_LEGACY, ED25519_OID.length]),
    ED25519_OID,
    mpi(Buffer.concat([Buffer.from([0x40]), key.publicRaw])),
  ]);
  const fingerprint = createHash('sha1').update(Buffer.from([0x99])).update(u16(body.length)).update(body).digest();
  return { body, fingerprint, keyId: fingerprint.subarray(12) };
}

export interface Statement {
  readonly role?: string;
  readonly status?: string;
}

/**
 * A v4 certification (§5.2.3) of `userId` on `subject` by `issuer`, in the record model's
 * canonical form: hashed area as openpgp.js writes it, unhashed area = issuer key id and
 * fingerprint only.
 */
export function certification(
  subject: KeyFacts,
  userId: Buffer,
  issuer: { facts: KeyFacts; privateKey: KeyObject },
  created: number,
  statement: Statement | 'self',
): Buffer {
  const issuerFpr = subpacket(33, Buffer.concat([Buffer.from([4]), issuer.facts.fingerprint]));
  const issuerKeyId = subpacket(16, issuer.facts.keyId);
  const hashed =
    statement === 'self'
      ? Buffer.concat([
          subpacket(2, u32(created), true),
          subpacket(11, Buffer.from([9, 7])), // preferred symmetric: AES-256, AES-128
          issuerKeyId,
          subpacket(21, Buffer.from([10, 8, 14, 12])), // preferred hashes: SHA-512, SHA-256, SHA3-512, SHA3-256
          subpacket(22, Buffer.from([0, 2, 1])), // preferred compression: none, ZLIB, ZIP
          subpacket(25, Buffer.from([1])), // primary user ID
          subpacket(27, Buffer.from([0x03]), true), // key flags: certify, sign
          subpacket(30, Buffer.from([0x01])), // features: MDC
          issuerFpr,
        ])
      : Buffer.concat([
          subpacket(2, u32(created), true),
          issuerKeyId,
          ...(statement.role ? [notation('role@cm4it.org', statement.role)] : []),
          ...(statement.status ? [notation('status@cm4it.org', statement.status)] : []),
          issuerFpr,
        ]);
  const type = statement === 'self' ? SIG.positive : SIG.generic;
  const head = Buffer.concat([Buffer.from([4, type, EDDSA_LEGACY, SHA256]), u16(hashed.length), hashed]);
  const digest = createHash('sha256')
    .update(Buffer.from([0x99]))
    .update(u16(subject.body.length))
    .update(subject.body)
    .update(Buffer.from([0xb4]))
    .update(u32(userId.length))
    .update(userId)
    .update(head)
    .update(Buffer.from([4, 0xff]))
    .update(u32(head.length))
    .digest();
  // Legacy EdDSA signs the digest itself (RFC 4880bis §5.2.4); R and S are two MPIs.
  const rs = sign(null, digest, issuer.privateKey);
  const unhashed = Buffer.concat([issuerKeyId, issuerFpr]);
  return frame(2, Buffer.concat([head, u16(unhashed.length), unhashed, digest.subarray(0, 2), mpi(rs.subarray(0, 32)), mpi(rs.subarray(32))]));
}

export interface Issuer {
  readonly key: EdKey;
  readonly facts: KeyFacts;
  readonly userId: string;
}

/** A new Ed25519 key pair, dated `created` (seconds since the epoch). */
export function newEdKey(created: number): EdKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicRaw: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32), privateKey, created };
}

/** A new issuer with user ID `userId`, its key dated 2024-01-01. */
export function newIssuer(userId: string): Issuer {
  const key = newEdKey(1_704_067_200);
  return { key, facts: keyFacts(key), userId };
}

/** A self-certified key record: key, user ID, positive self-certification. */
export function selfSignedKey(key: EdKey, userId: string): { bytes: Buffer; facts: KeyFacts } {
  const facts = keyFacts(key);
  const uid = Buffer.from(userId, 'utf8');
  const self = certification(facts, uid, { facts, privateKey: key.privateKey }, key.created, 'self');
  return { bytes: Buffer.concat([frame(6, facts.body), frame(13, uid), self]), facts };
}

/**
 * A device record as the corpus holds it: self-certification at creation, the
 * manufacturer's (role, status in-use) a minute later, the integrator's (role) two minutes
 * later. Distinct times keep the canonical order (oldest first) independent of signature ids.
 */
export function deviceRecord(device: EdKey, userId: string, manufacturer: Issuer, integrator: Issuer): Buffer {
  const facts = keyFacts(device);
  const uid = Buffer.from(userId, 'utf8');
  const self = certification(facts, uid, { facts, privateKey: device.privateKey }, device.created, 'self');
  const byManufacturer = certification(
    facts,
    uid,
    { facts: manufacturer.facts, privateKey: manufacturer.key.privateKey },
    device.created + 60,
    { role: 'manufacturer', status: 'in-use' },
  );
  const byIntegrator = certification(
    facts,
    uid,
    { facts: integrator.facts, privateKey: integrator.key.privateKey },
    device.created + 120,
    { role: 'integrator' },
  );
  return Buffer.concat([frame(6, facts.body), frame(13, uid), self, byManufacturer, byIntegrator]);
}
