// Native signature verification. openpgp.js computes the signed data (RFC 4880 §5.2.4);
// the digest and the public-key operation run in node:crypto, asynchronously, so that
// verification spreads over libuv's thread pool and every core.
import { createHash, verify as cryptoVerify } from 'node:crypto';
import type * as openpgp from 'openpgp';
import { IcsError } from '../errors.ts';
import { PubKeyAlgo, type VerifyingKey } from './keys.ts';

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

interface SignatureParams {
  r?: Uint8Array;
  s?: Uint8Array;
  RS?: Uint8Array;
}

function leftPad(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length > length) throw new IcsError('SIGNATURE_INVALID', 'signature value longer than the key allows');
  if (bytes.length === length) return bytes;
  const out = new Uint8Array(length);
  out.set(bytes, length - bytes.length);
  return out;
}

function signatureBytes(sig: openpgp.SignaturePacket, key: VerifyingKey): Uint8Array {
  const params = (sig as unknown as { params: SignatureParams }).params;
  switch (key.algorithm) {
    case PubKeyAlgo.rsaEncryptSign:
    case PubKeyAlgo.rsaSign:
      return leftPad(params.s ?? new Uint8Array(), key.partBytes);
    case PubKeyAlgo.ed25519:
      if (!params.RS || params.RS.length !== 64) throw new IcsError('SIGNATURE_INVALID', 'malformed Ed25519 signature');
      return params.RS;
    default: {
      const r = leftPad(params.r ?? new Uint8Array(), key.partBytes);
      const s = leftPad(params.s ?? new Uint8Array(), key.partBytes);
      return Buffer.concat([r, s]);
    }
  }
}

/**
 * Verifies `sig` over `toHash` (the exact bytes RFC 4880 §5.2.4 hashes) with `key`.
 * Resolves true or false; throws ALGORITHM_UNSUPPORTED for a refused hash algorithm or a
 * key/signature algorithm mismatch, SIGNATURE_INVALID for malformed signature values.
 */
export function verifySignature(sig: openpgp.SignaturePacket, key: VerifyingKey, toHash: Uint8Array): Promise<boolean> {
  const hash = ACCEPTED_HASHES.get(sig.hashAlgorithm as number);
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
  const digest = createHash(hash.name).update(toHash).digest();
  const left16 = sig.signedHashValue;
  // The quick check of RFC 4880 §5.2.2 ("left 16 bits of signed hash value").
  if (!left16 || left16[0] !== digest[0] || left16[1] !== digest[1]) return Promise.resolve(false);
  const value = signatureBytes(sig, key);
  return new Promise((resolve) => {
    const done = (error: Error | null, ok: boolean) => resolve(!error && ok);
    if (key.signsDigest) {
      // EdDSA in OpenPGP signs the digest itself (RFC 9580 §5.2.3.4).
      cryptoVerify(null, digest, key.keyObject, value, done);
    } else if (key.algorithm === PubKeyAlgo.ecdsa) {
      cryptoVerify(hash.name, toHash, { key: key.keyObject, dsaEncoding: 'ieee-p1363' }, value, done);
    } else {
      cryptoVerify(hash.name, toHash, key.keyObject, value, done);
    }
  });
}
