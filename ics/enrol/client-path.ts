// The TLS client certificate as EST authenticates it (RFC 7030 §3.3.2): a path from the
// certificate the client presented, through the intermediates it sent, to one of the trust
// anchors (the policy's birth CAs). An anchor need not be a root: any CA certificate the
// relying party chose is one (RFC 5280 §6.1.1), e.g. a manufacturer's issuing CA. Every
// failure is UNAUTHENTICATED: the server cannot tell who the client is.
import { IcsError } from '../errors.ts';
import { isCaCertificate, pathLengthOf, sameName, signedBy } from './chain.ts';
import { MAX_CHAIN_LENGTH } from './limits.ts';
import { x509 } from './x509.ts';

const unauthenticated = (message: string) => new IcsError('UNAUTHENTICATED', message);

function checkValidAt(certificate: x509.X509Certificate, now: Date, what: string): void {
  if (now.getTime() > certificate.notAfter.getTime()) throw unauthenticated(`${what} (${certificate.subject}) expired on ${certificate.notAfter.toISOString()}`);
  if (now.getTime() < certificate.notBefore.getTime()) throw unauthenticated(`${what} (${certificate.subject}) is not valid before ${certificate.notBefore.toISOString()}`);
}

/** A client certificate an end entity may authenticate with: not a CA, and keyUsage (if any) allows signing. */
export function checkClientLeaf(leaf: x509.X509Certificate, now: Date): void {
  checkValidAt(leaf, now, 'the client certificate');
  if (leaf.getExtension(x509.BasicConstraintsExtension)?.ca === true) throw unauthenticated('the client certificate is a CA certificate, not a device certificate');
  const usage = leaf.getExtension(x509.KeyUsagesExtension);
  if (usage && (usage.usages & x509.KeyUsageFlags.digitalSignature) === 0) throw unauthenticated('the client certificate’s keyUsage does not allow digitalSignature');
}

async function issuerAmong(current: x509.X509Certificate, candidates: readonly x509.X509Certificate[]): Promise<x509.X509Certificate | undefined> {
  for (const candidate of candidates) if (sameName(candidate.subjectName, current.issuerName) && (await signedBy(current, candidate))) return candidate;
  return undefined;
}

/**
 * [leaf, intermediates…, anchor]: the path from `leaf` to one of `anchors`, its issuers
 * taken from `intermediates` (what the client sent, in any order). Each issuer must be a CA,
 * valid at `now`, its signature verifying and its path length allowing the CAs below it.
 */
export async function pathToAnchor(
  leaf: x509.X509Certificate,
  intermediates: readonly x509.X509Certificate[],
  anchors: readonly x509.X509Certificate[],
  now: Date,
): Promise<x509.X509Certificate[]> {
  checkClientLeaf(leaf, now);
  const path = [leaf];
  for (let current = leaf; path.length <= MAX_CHAIN_LENGTH; ) {
    const anchor = await issuerAmong(current, anchors);
    const issuer = anchor ?? (await issuerAmong(current, intermediates.filter((c) => !path.includes(c))));
    if (!issuer) {
      throw unauthenticated(
        path.length === 1
          ? `the client certificate (${leaf.subject}) was issued by ${leaf.issuer}, which is not a birth CA this node trusts`
          : `the client certificate (${leaf.subject}) does not chain to a birth CA this node trusts (the chain ends at ${current.subject})`,
      );
    }
    if (!isCaCertificate(issuer)) throw unauthenticated(`${issuer.subject} in the client's chain is not a CA certificate`);
    checkValidAt(issuer, now, anchor ? 'the birth CA' : 'a CA certificate in the client’s chain');
    const limit = pathLengthOf(issuer);
    if (limit !== undefined && path.length - 1 > limit) throw unauthenticated(`the path length of ${issuer.subject} (${limit}) does not allow the client's chain`);
    path.push(issuer);
    if (anchor) return path;
    current = issuer;
  }
  throw unauthenticated(`the client's chain is longer than ${MAX_CHAIN_LENGTH} certificates`);
}
