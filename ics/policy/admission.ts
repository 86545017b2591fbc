// Which signatures a node keeps (DESIGN §3): self-signatures always; a third-party signature
// only when its issuer is trusted, in its role, in a domain the record belongs to whose write
// rules admit that role. Everything else is dropped before storing — the defence against
// certificate flooding (CVE-2019-13050) — and the domain limits are checked on what remains.
import { IcsError } from '../errors.ts';
import { claimsOf, type IdentityRecord, SigType, type VerifiedSignature } from '../record/index.ts';
import { TrustTable } from './trust.ts';
import type { DomainPolicy, PolicyDrop } from './types.ts';

/** Longest piece of an untrusted notation value quoted in a reason. */
const MAX_QUOTED = 64;

const quoted = (text: string) => JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);

/** Undefined when the signature is kept in one of `domains` (the record's), else why not. */
export function judgeSignature(sig: VerifiedSignature, domains: readonly DomainPolicy[], trust: TrustTable): PolicyDrop | undefined {
  if (sig.self) return undefined;
  const drop = (reason: PolicyDrop['reason'], detail: string): PolicyDrop => ({ issuer: sig.issuer, reason, detail });
  const entry = trust.entry(sig.issuer);
  if (!entry) return drop('ISSUER_NOT_ALLOWED', 'issuer is not trusted by this policy');
  const names = domains.map((d) => d.name).join(', ');
  if (domains.length === 0) return drop('ISSUER_NOT_ALLOWED', 'the record belongs to no domain');
  const where = domains.filter((d) => TrustTable.trustedIn(entry, d.name));
  if (where.length === 0) return drop('ISSUER_NOT_ALLOWED', `issuer "${entry.name}" is not trusted in ${names}`);
  if (sig.type === SigType.certRevocation) {
    // A withdrawal carries no role: it is kept when its issuer may write here at all.
    if (where.some((d) => TrustTable.writableRoles(entry, d).length > 0)) return undefined;
    return drop('ROLE_NOT_ALLOWED', `issuer "${entry.name}" may write no role in ${names}`);
  }
  const { role, unknownRole } = claimsOf(sig.notations);
  if (!role) return drop('NO_ROLE', unknownRole === undefined ? 'signature names no role@cm4it.org' : `unknown role ${quoted(unknownRole)}`);
  if (!entry.roles.includes(role)) return drop('ROLE_NOT_ALLOWED', `issuer "${entry.name}" may not sign as ${role}`);
  if (where.some((d) => d.write.roles.includes(role))) return undefined;
  return drop('ROLE_NOT_ALLOWED', `role ${role} may not write in ${where.map((d) => d.name).join(', ')}`);
}

/** The signature lists a per-signer cap applies to, with a name for messages. */
function targets(record: IdentityRecord): Array<{ where: string; signatures: readonly VerifiedSignature[] }> {
  if (record.type === 'code') return [{ where: 'code statement', signatures: record.signatures }];
  return [
    { where: 'key', signatures: record.keySignatures },
    ...record.userIds.map((u) => ({ where: `user ID ${quoted(u.userId)}`, signatures: u.signatures })),
    ...record.subkeys.map((s) => ({ where: `subkey ${s.key.fingerprint}`, signatures: s.signatures })),
  ];
}

/** Throws LIMIT_EXCEEDED when the record breaks a limit of one of its domains. */
export function enforceLimits(record: IdentityRecord, domains: readonly DomainPolicy[]): void {
  for (const domain of domains) {
    const { maxRecordBytes, maxSignaturesPerSigner } = domain.limits;
    if (record.bytes.length > maxRecordBytes) {
      throw new IcsError('LIMIT_EXCEEDED', `record is ${record.bytes.length} bytes; domain ${domain.name} allows ${maxRecordBytes}`, {
        details: { domain: domain.name, limit: 'maxRecordBytes', max: maxRecordBytes, actual: record.bytes.length },
      });
    }
    for (const { where, signatures } of targets(record)) {
      const counts = new Map<string, number>();
      for (const sig of signatures) counts.set(sig.issuer, (counts.get(sig.issuer) ?? 0) + 1);
      for (const [issuer, count] of counts) {
        if (count <= maxSignaturesPerSigner) continue;
        throw new IcsError(
          'LIMIT_EXCEEDED',
          `${count} signatures by ${issuer} on ${where}; domain ${domain.name} allows ${maxSignaturesPerSigner}`,
          {
            details: { domain: domain.name, limit: 'maxSignaturesPerSigner', max: maxSignaturesPerSigner, actual: count, issuer },
          },
        );
      }
    }
  }
}
