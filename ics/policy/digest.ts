// A domain's definition digest, exchanged in the sync handshake (DESIGN §6): two peers whose
// definitions differ would never converge on the domain, so the mismatch is reported instead
// of retried forever. Sets (kinds, roles) are sorted, so only meaning changes the digest.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { IcsError } from '../errors.ts';
import type { TrustTable } from './trust.ts';
import type { DomainPolicy } from './types.ts';

const sorted = <T extends string>(items: readonly T[]) => [...new Set(items)].sort();

/**
 * What decides the domain's content: select, accept and write, with the selector's issuer
 * name (a local label) resolved to its fingerprint, and the issuers whose signatures decide
 * membership (trusted here for the signedBy or required roles) by fingerprint.
 */
export function domainDefinition(domain: DomainPolicy, trust: TrustTable): object {
  const { kinds, userId, signedBy } = domain.select;
  const membershipRoles = new Set([...(signedBy ? [signedBy.role] : []), ...domain.accept.requireRoles]);
  const issuers = trust.entries
    .map((e) => ({
      fingerprint: e.fingerprint,
      roles: sorted(e.roles.filter((r) => membershipRoles.has(r) && (e.domains === undefined || e.domains.includes(domain.name)))),
    }))
    .filter((e) => e.roles.length > 0)
    .sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : 1));
  const issuer = signedBy?.issuer === undefined ? undefined : trust.named(signedBy.issuer)?.fingerprint;
  return {
    name: domain.name,
    select: {
      ...(kinds && { kinds: sorted(kinds) }),
      ...(userId !== undefined && { userId }),
      ...(signedBy && { signedBy: { role: signedBy.role, ...(issuer && { issuer }) } }),
    },
    accept: { requireRoles: sorted(domain.accept.requireRoles) },
    write: { roles: sorted(domain.write.roles) },
    issuers,
  };
}

/** sha256 (hex) of the RFC 8785 canonical JSON of the domain's definition. */
export function definitionDigest(definition: object): string {
  const text = canonicalize(definition);
  if (text === undefined) throw new IcsError('INTERNAL', 'domain definition cannot be canonicalised');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
