// Certification paths (RFC 5280 §6, the parts a CA needs before it trusts a chain it is
// given): from a certificate up to a self-signed root, each issuer named by its subject,
// allowed to sign certificates, within its path length, its signature verifying, and every
// certificate valid at the time given.
import { IcsError } from '../errors.ts';
import { MAX_CHAIN_LENGTH } from './limits.ts';
import { keyObjectOf, verifySigned } from './signed.ts';
import { x509 } from './x509.ts';

/**
 * Names compared as DER bytes. RFC 5280 §7.1 allows more lenient matching, but issuers here
 * are named by copying the issuer certificate's subject byte for byte, so byte equality holds.
 */
export function sameName(a: x509.Name, b: x509.Name): boolean {
  return Buffer.from(a.toArrayBuffer()).equals(Buffer.from(b.toArrayBuffer()));
}

export function samePublicKey(a: x509.PublicKey, b: x509.PublicKey | Uint8Array): boolean {
  return Buffer.from(a.rawData).equals(b instanceof Uint8Array ? b : Buffer.from(b.rawData));
}

/** cA=true in basicConstraints and, when keyUsage is present, keyCertSign (RFC 5280 §4.2.1.3, §4.2.1.9). */
export function isCaCertificate(certificate: x509.X509Certificate): boolean {
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  const usage = certificate.getExtension(x509.KeyUsagesExtension);
  return constraints?.ca === true && (!usage || (usage.usages & x509.KeyUsageFlags.keyCertSign) !== 0);
}

export function pathLengthOf(certificate: x509.X509Certificate): number | undefined {
  return certificate.getExtension(x509.BasicConstraintsExtension)?.pathLength;
}

export async function signedBy(certificate: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  try {
    return verifySigned(new Uint8Array(certificate.rawData), keyObjectOf(issuer.publicKey)) ?? (await certificate.verify({ publicKey: issuer.publicKey, signatureOnly: true }));
  } catch {
    return false;
  }
}

export async function isSelfSigned(certificate: x509.X509Certificate): Promise<boolean> {
  return sameName(certificate.subjectName, certificate.issuerName) && (await signedBy(certificate, certificate));
}

function checkValidAt(certificate: x509.X509Certificate, now: Date): void {
  const t = now.getTime();
  if (t < certificate.notBefore.getTime() || t > certificate.notAfter.getTime()) {
    throw new IcsError('BAD_REQUEST', `certificate ${certificate.subject} is not valid now (valid ${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()})`);
  }
}

/**
 * The path from `certificate` to a self-signed root, its issuers taken from `pool` in any
 * order: [certificate, …, root]. `forCa`: the certificate is a CA that will sign end
 * entities, which counts toward its issuers' path lengths. BAD_REQUEST when there is no such
 * path, SIGNATURE_INVALID when a named issuer's signature does not verify.
 */
export async function buildChain(certificate: x509.X509Certificate, pool: readonly x509.X509Certificate[], now: Date, forCa: boolean): Promise<x509.X509Certificate[]> {
  const path = [certificate];
  checkValidAt(certificate, now);
  for (let current = certificate; !(await isSelfSigned(current)); ) {
    if (path.length >= MAX_CHAIN_LENGTH) throw new IcsError('LIMIT_EXCEEDED', `the chain is longer than ${MAX_CHAIN_LENGTH} certificates`);
    const named = pool.filter((c) => sameName(c.subjectName, current.issuerName) && !path.includes(c));
    if (named.length === 0) throw new IcsError('BAD_REQUEST', `no certificate of the issuer ${current.issuer} was given: the chain up to the root is needed`);
    let issuer: x509.X509Certificate | undefined;
    for (const candidate of named) if (await signedBy(current, candidate)) issuer = candidate;
    if (!issuer) throw new IcsError('SIGNATURE_INVALID', `the signature on ${current.subject} does not verify with the key of ${current.issuer}`);
    if (!isCaCertificate(issuer)) throw new IcsError('BAD_REQUEST', `the issuer ${issuer.subject} is not a CA certificate (basicConstraints cA, keyUsage keyCertSign)`);
    checkValidAt(issuer, now);
    // CA certificates below this issuer in a future path: those in this one, plus the end entity's issuer.
    const below = path.length - 1 + (forCa ? 1 : 0);
    const limit = pathLengthOf(issuer);
    if (limit !== undefined && below > limit) throw new IcsError('BAD_REQUEST', `the path length of ${issuer.subject} (${limit}) does not allow this chain`);
    path.push(issuer);
    current = issuer;
  }
  return path;
}
