// Native signature verification over the hash input of RFC 4880 §5.2.4. The digest and
// the public-key operation run in node:crypto, asynchronously, so that verification
// spreads over libuv's thread pool and every core.
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { IcsError } from '../errors.ts';
import { PubKeyAlgo, type VerifyingKey } from './keys.ts';
import { hashTrailer, type SignatureFields } from './signature.ts';

/** Hash algorithms accepted in signatures (RFC 4880 §9.4). MD5, SHA-1 and RIPEMD-160 are
 * refused: SHA-1 chosen-prefix collisions make forged certifications practical. */
export const ACCEPTED_HASHES: ReadonlyMap<number, { name: string; bytes: number }> = new Map([
  [8, { name: 'sha256', bytes: 32 }],
  [9, { name: 'sha384', bytes: 48 }],
  [10, { name: 'sha512', bytes: 64 }],
  [11, { name: 'sha224', bytes: 28 }],
  [12, { name: 'sha3-256', bytes: 32 }],
  [14, { name: 'sha3-512', bytes: 64 }],
]);

function leftPad(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length > length) throw new IcsError('SIGNATURE_INVALID', 'signature value longer than the key allows');
  if (bytes.length === length) return bytes;
  const out = new Uint8Array(length);
  out.set(bytes, length - bytes.length);
  return out;
}

function signatureBytes(sig: SignatureFields, key: VerifyingKey): Uint8Array {
  const [first, second] = sig.integers;
  if (key.algorithm === PubKeyAlgo.ed25519) {
    if (first?.length !== 64) throw new IcsError('SIGNATURE_INVALID', 'malformed Ed25519 signature');
    return first;
  }
  if (key.algorithm === PubKeyAlgo.rsaEncryptSign || key.algorithm === PubKeyAlgo.rsaSign) {
    if (!first) throw new IcsError('SIGNATURE_INVALID', 'malformed RSA signature');
    return leftPad(first, key.partBytes);
  }
  if (!first || !second) throw new IcsError('SIGNATURE_INVALID', 'malformed signature value');
  return Buffer.concat([leftPad(first, key.partBytes), leftPad(second, key.partBytes)]);
}

/**
 * Verifies `sig` with `key` over the hash input `prefix` (key, user ID or data: RFC 4880
 * §5.2.4) followed by the signature's hashed part and trailer. Resolves true or false;
 * throws ALGORITHM_UNSUPPORTED for a refused hash algorithm or a key/signature algorithm
 * mismatch, SIGNATURE_INVALID for malformed signature values.
 */
export function verifySignature(sig: SignatureFields, key: VerifyingKey, prefix: readonly Uint8Array[]): Promise<boolean> {
  const hash = ACCEPTED_HASHES.get(sig.hashAlgorithm);
  if (!hash) throw new IcsError('ALGORITHM_UNSUPPORTED', `hash algorithm ${sig.hashAlgorithm} is not accepted`);
  const sameFamily =
    sig.publicKeyAlgorithm === key.algorithm ||
    (sig.publicKeyAlgorithm === PubKeyAlgo.rsaSign && key.algorithm === PubKeyAlgo.rsaEncryptSign);
  if (!sameFamily) {
    throw new IcsError('ALGORITHM_UNSUPPORTED', 'signature algorithm does not match the issuer key');
  }
  if (key.signsDigest && hash.bytes < 32) {
    throw new IcsError('ALGORITHM_UNSUPPORTED', 'EdDSA needs a hash of at least 256 bits');
  }
  const pieces = [...prefix, sig.hashedPart, hashTrailer(sig)];
  const hasher = createHash(hash.name);
  for (const piece of pieces) hasher.update(piece);
  const digest = hasher.digest();
  // The quick check of RFC 4880 §5.2.2 ("left 16 bits of signed hash value").
  if (sig.left16[0] !== digest[0] || sig.left16[1] !== digest[1]) return Promise.resolve(false);
  const value = signatureBytes(sig, key);
  return new Promise((resolve) => {
    const done = (error: Error | null, ok: boolean) => resolve(!error && ok);
    if (key.signsDigest) {
      // EdDSA in OpenPGP signs the digest itself (RFC 9580 §5.2.3.4).
      cryptoVerify(null, digest, key.keyObject, value, done);
    } else if (key.algorithm === PubKeyAlgo.ecdsa) {
      cryptoVerify(hash.name, Buffer.concat(pieces), { key: key.keyObject, dsaEncoding: 'ieee-p1363' }, value, done);
    } else {
      cryptoVerify(hash.name, Buffer.concat(pieces), key.keyObject, value, done);
    }
  });
}
