// Signatures on certificates and certificate requests, checked by node:crypto (OpenSSL) on
// the bytes as they were signed. @peculiar/x509's verify goes through WebCrypto: a key import
// and a thread-pool job per check, several times the cost of the check itself, which an
// enrolment pays for the client's chain and the request. Algorithms not listed here fall back
// to the library.
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { signedParts } from './der.ts';
import type { x509 } from './x509.ts';

/** AlgorithmIdentifier DER (hex) → the hash node:crypto takes (null: none, for EdDSA). */
const NATIVE = new Map<string, string | null>([
  ['300a06082a8648ce3d040302', 'sha256'], // ecdsa-with-SHA256 (RFC 5758 §3.2: no parameters)
  ['300a06082a8648ce3d040303', 'sha384'], // ecdsa-with-SHA384
  ['300506032b6570', null], // Ed25519 (RFC 8410 §3)
]);

const keys = new WeakMap<x509.PublicKey, KeyObject>();

/** The node:crypto key of a certificate's (or request's) public key; kept as long as the key object lives. */
export function keyObjectOf(publicKey: x509.PublicKey): KeyObject {
  let key = keys.get(publicKey);
  if (!key) {
    key = createPublicKey({ key: Buffer.from(publicKey.rawData), format: 'der', type: 'spki' });
    keys.set(publicKey, key);
  }
  return key;
}

/**
 * Whether the signature on a DER Certificate, CRL or CertificationRequest verifies with
 * `key`; undefined when its algorithm is not one checked here (the caller asks the library).
 * Throws BAD_REQUEST when the bytes are not a signed structure.
 */
export function verifySigned(der: Uint8Array, key: KeyObject): boolean | undefined {
  const { signed, algorithm, signature } = signedParts(der);
  const hash = NATIVE.get(Buffer.from(algorithm).toString('hex'));
  if (hash === undefined) return undefined;
  try {
    return verify(hash, signed, key, signature);
  } catch {
    return false; // a key of another type, or a signature that is not even well-formed
  }
}
