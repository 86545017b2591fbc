// OpenPGP v4 signatures made by a signing function rather than by a private key in memory:
// the node's issuer key in a PKCS#11 token signs this way (openpgp.js signs only with keys
// it holds). This writer builds the packet — hashed subpackets, the RFC 4880 §5.2.4 hash
// input, the MPIs — and asks the signer for r‖s; everything it makes is read back through
// `parseKeyRecord` / `parseCodeRecord` by its callers, so it is verified like any signature
// received. Keys signed for here: ECDSA P-256 (algorithm 19) and EdDSA Ed25519 (22), SHA-256.
import { createHash } from 'node:crypto';
import { IcsError } from '../errors.ts';
import { PubKeyAlgo } from './keys.ts';
import type { Notation } from './types.ts';
import { framePacket, PacketTag } from './packets.ts';
import { keyHashPrefix, userIdHashPrefix } from './signature.ts';

/** A key that signs through a function: a token key, or (in tests) a key file's KeyObject. */
export interface OpenPgpSigner {
  /** The v4 public key packet body the signatures are verified with. */
  readonly keyBody: Uint8Array;
  /** Its v4 fingerprint, lower-case hex. */
  readonly fingerprint: string;
  /** PubKeyAlgo.ecdsa (P-256) or PubKeyAlgo.eddsaLegacy (Ed25519). */
  readonly algorithm: number;
  /** Where the private key is, for `ics` output and logs: the token and object. Never more. */
  readonly location: string;
  /**
   * r‖s of the signature: ECDSA over `toHash` with SHA-256 (so the digest is `digest`),
   * EdDSA over `digest` itself (RFC 4880bis legacy EdDSA signs the hash).
   */
  sign(toHash: Uint8Array, digest: Uint8Array): Promise<Uint8Array>;
}

const SHA256 = 8;
const P256_OID = Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07);
const ED25519_OID = Uint8Array.of(0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01);

const CRITICAL = 0x80;
const Subpacket = {
  creationTime: 2,
  expirationTime: 3,
  issuerKeyId: 16,
  notation: 20,
  preferredHash: 21,
  keyFlags: 27,
  reasonForRevocation: 29,
  features: 30,
  issuerFingerprint: 33,
} as const;

/** What a signature says besides its type and target. */
export interface SignatureContent {
  readonly type: number;
  readonly created: Date;
  readonly notations?: readonly Notation[];
  /** Seconds after `created` when the signature stops counting. */
  readonly expiresInSeconds?: number;
  /** Certification revocations: RFC 4880 §5.2.3.23 code and text. */
  readonly revocation?: { readonly code: number; readonly reason: string };
  /** Self-certifications: key flags (certify | sign) and the preferences GnuPG looks for. */
  readonly selfCertification?: boolean;
}

/** What the signature covers: a user ID of a key (certifications), or a binary document. */
export type SignatureTarget = { readonly keyBody: Uint8Array; readonly userId: Uint8Array } | { readonly data: Uint8Array };

/** A signature packet (framed) by `signer` over `target`. */
export async function writeSignature(signer: OpenPgpSigner, content: SignatureContent, target: SignatureTarget): Promise<Uint8Array> {
  checkSigner(signer);
  const fingerprint = Buffer.from(signer.fingerprint, 'hex');
  // Times critical and the key ID hashed, in openpgp.js's order: a token key's signatures read
  // like the same key file's would (for Ed25519, byte for byte: test/record/signer.test.ts).
  const hashed: Uint8Array[] = [subpacket(Subpacket.creationTime | CRITICAL, uint32(seconds(content.created)))];
  if (content.expiresInSeconds !== undefined) {
    if (!(content.expiresInSeconds > 0)) throw new IcsError('BAD_REQUEST', 'expiry must be a positive number of seconds');
    hashed.push(subpacket(Subpacket.expirationTime | CRITICAL, uint32(Math.floor(content.expiresInSeconds))));
  }
  hashed.push(subpacket(Subpacket.issuerKeyId, fingerprint.subarray(-8)));
  if (content.selfCertification) {
    hashed.push(subpacket(Subpacket.keyFlags, Uint8Array.of(0x03)), subpacket(Subpacket.preferredHash, Uint8Array.of(SHA256)), subpacket(Subpacket.features, Uint8Array.of(0x01)));
  }
  for (const n of content.notations ?? []) hashed.push(subpacket(Subpacket.notation, notationBody(n)));
  if (content.revocation) {
    hashed.push(subpacket(Subpacket.reasonForRevocation | CRITICAL, Buffer.concat([Uint8Array.of(content.revocation.code), Buffer.from(content.revocation.reason, 'utf8')])));
  }
  hashed.push(subpacket(Subpacket.issuerFingerprint, Buffer.concat([Uint8Array.of(4), fingerprint])));
  const hashedArea = Buffer.concat(hashed);
  if (hashedArea.length > 0xffff) throw new IcsError('LIMIT_EXCEEDED', 'the signature says too much: its hashed area passes 65,535 bytes');
  const hashedPart = Buffer.concat([Uint8Array.of(4, content.type, signer.algorithm, SHA256), uint16(hashedArea.length), hashedArea]);
  const covered = 'data' in target ? [target.data] : [keyHashPrefix(target.keyBody), userIdHashPrefix(target.userId)];
  const toHash = Buffer.concat([...covered, hashedPart, Uint8Array.of(0x04, 0xff), uint32(hashedPart.length)]);
  const digest = createHash('sha256').update(toHash).digest();
  const raw = await signer.sign(toHash, digest);
  if (raw.length !== 64) throw new IcsError('INTERNAL', `the signer gave ${raw.length} bytes where r‖s has 64`);
  const body = Buffer.concat([hashedPart, uint16(0), digest.subarray(0, 2), mpi(raw.subarray(0, 32)), mpi(raw.subarray(32))]);
  return framePacket(PacketTag.signature, body);
}

/** A v4 public key packet body for a key made elsewhere (a token): P-256 point or Ed25519 key. */
export function publicKeyBody(algorithm: 'p256' | 'ed25519', publicKey: Uint8Array, created: Date): Uint8Array {
  if (algorithm === 'p256') {
    if (publicKey.length !== 65 || publicKey[0] !== 0x04) throw new IcsError('ALGORITHM_UNSUPPORTED', 'a P-256 public key is an uncompressed point (65 bytes)');
    return Buffer.concat([Uint8Array.of(4), uint32(seconds(created)), Uint8Array.of(PubKeyAlgo.ecdsa, P256_OID.length), P256_OID, mpi(publicKey)]);
  }
  if (publicKey.length !== 32) throw new IcsError('ALGORITHM_UNSUPPORTED', 'an Ed25519 public key has 32 bytes');
  return Buffer.concat([Uint8Array.of(4), uint32(seconds(created)), Uint8Array.of(PubKeyAlgo.eddsaLegacy, ED25519_OID.length), ED25519_OID, mpi(Buffer.concat([Uint8Array.of(0x40), publicKey]))]);
}

/** The v4 fingerprint of a public key packet body (SHA-1 over 0x99, length, body: RFC 4880 §12.2). */
export function v4Fingerprint(keyBody: Uint8Array): string {
  return createHash('sha1').update(keyHashPrefix(keyBody)).digest('hex');
}

function checkSigner(signer: OpenPgpSigner): void {
  if (signer.algorithm !== PubKeyAlgo.ecdsa && signer.algorithm !== PubKeyAlgo.eddsaLegacy) {
    throw new IcsError('ALGORITHM_UNSUPPORTED', `public-key algorithm ${signer.algorithm} is not signed through a signing function here (ECDSA P-256 or EdDSA)`);
  }
  if (!/^[0-9a-f]{40}$/.test(signer.fingerprint)) throw new IcsError('INTERNAL', 'a signer names its key by its v4 fingerprint');
}

function notationBody(n: Notation): Uint8Array {
  const name = Buffer.from(n.name, 'utf8');
  const value = Buffer.from(n.value, 'utf8');
  // 0x80 in the first flag octet: human-readable (RFC 4880 §5.2.3.16).
  return Buffer.concat([Uint8Array.of(0x80, 0, 0, 0), uint16(name.length), uint16(value.length), name, value]);
}

function subpacket(type: number, data: Uint8Array): Uint8Array {
  const n = data.length + 1;
  const length = n < 192 ? Uint8Array.of(n) : n < 8384 ? Uint8Array.of(((n - 192) >> 8) + 192, (n - 192) & 0xff) : Uint8Array.of(255, ...uint32(n));
  return Buffer.concat([length, Uint8Array.of(type), data]);
}

/** An MPI (§3.2): bit count, then the value without leading zero octets. */
function mpi(value: Uint8Array): Uint8Array {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const bytes = value.subarray(start);
  const bits = (bytes.length - 1) * 8 + (32 - Math.clz32(bytes[0] as number));
  return Buffer.concat([uint16(bits), bytes]);
}

function seconds(date: Date): number {
  const s = Math.floor(date.getTime() / 1000);
  if (!(s >= 0 && s <= 0xffffffff)) throw new IcsError('BAD_REQUEST', 'a signature time must fall between 1970 and 2106');
  return s;
}

function uint16(n: number): Uint8Array {
  return Uint8Array.of((n >> 8) & 0xff, n & 0xff);
}

function uint32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}
