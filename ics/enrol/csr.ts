// PKCS#10 certificate requests (RFC 2986): parsed, key type checked, then the signature
// verified with the request's own key: proof that the requester holds the private key.
import { IcsError } from '../errors.ts';
import { KEY_ALGORITHMS, type KeyAlgorithm, publicKeyFromSpki } from './keys.ts';
import { readCertificateRequest } from './parse.ts';
import { verifySigned } from './signed.ts';
import type { x509 } from './x509.ts';

export interface VerifiedRequest {
  readonly request: x509.Pkcs10CertificateRequest;
  readonly subject: x509.Name;
  /** DER SubjectPublicKeyInfo of the requested key. */
  readonly spki: Uint8Array;
  readonly algorithm: KeyAlgorithm;
}

/**
 * ALGORITHM_UNSUPPORTED for a key type not in `allowed`, SIGNATURE_INVALID for a bad
 * signature. Takes the request as text or bytes, or already read (readCertificateRequest).
 */
export async function verifyCertificateRequest(input: string | Uint8Array | x509.Pkcs10CertificateRequest, allowed: readonly KeyAlgorithm[] = KEY_ALGORITHMS): Promise<VerifiedRequest> {
  const request = typeof input === 'string' || input instanceof Uint8Array ? readCertificateRequest(input) : input;
  const spki = new Uint8Array(request.publicKey.rawData);
  const { key, algorithm } = publicKeyFromSpki(spki);
  if (!allowed.includes(algorithm)) throw new IcsError('ALGORITHM_UNSUPPORTED', `a ${algorithm} key is not accepted here (${allowed.join(', ')})`);
  let valid: boolean | undefined;
  try {
    valid = verifySigned(new Uint8Array(request.rawData), key) ?? (await request.verify());
  } catch (cause) {
    throw new IcsError('ALGORITHM_UNSUPPORTED', 'the certificate request is signed with an algorithm that cannot be verified here', { cause });
  }
  if (!valid) throw new IcsError('SIGNATURE_INVALID', 'the certificate request signature does not verify (proof of possession failed)');
  return { request, subject: request.subjectName, spki, algorithm };
}
