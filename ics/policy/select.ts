// Domain membership (DESIGN §3): a record belongs to a domain when the domain's selector
// matches it and its accept rules hold. Membership depends on the record's content alone
// (never on the clock), so every node sorts a record into the same domains whenever it sees
// it, and a later withdrawal or an expiry keeps the record where it was: the withdrawal has
// to be stored and travel, and the verdict, not membership, is where it counts.
import { claimsOf, type IdentityRecord, type Role, SigType, type VerifiedSignature } from '../record/index.ts';
import { matchGlob } from './glob.ts';
import type { TrustTable } from './trust.ts';
import type { DomainPolicy, RejectionReason } from './types.ts';

/** What a selector's glob is matched against, with the third-party signatures about it. */
export interface Subject {
  /** A user ID, or `name@version` for a code record. */
  readonly text: string;
  readonly signatures: readonly VerifiedSignature[];
}

export function subjectsOf(record: IdentityRecord): Subject[] {
  if (record.type === 'code') {
    const { name, version } = record.statement.subject;
    return [{ text: `${name}@${version}`, signatures: record.signatures }];
  }
  return record.userIds.map((u) => ({ text: u.userId, signatures: u.signatures }));
}

/** Whether a subject carries a statement in `role` by an issuer trusted for it in `domain`. */
export function carriesRole(subject: Subject, role: Role, domain: string, trust: TrustTable, issuer?: string): boolean {
  return subject.signatures.some(
    (sig) =>
      !sig.self &&
      sig.type !== SigType.certRevocation &&
      (issuer === undefined || sig.issuer === issuer) &&
      claimsOf(sig.notations).role === role &&
      trust.holds(sig.issuer, role, domain),
  );
}

export type Miss = Omit<RejectionReason, 'domain'>;

/** Why the record does not belong to the domain, or undefined when it does. */
export function membershipMiss(domain: DomainPolicy, record: IdentityRecord, trust: TrustTable): Miss | undefined {
  const { kinds, userId, signedBy } = domain.select;
  if (kinds && !kinds.includes(record.kind)) {
    return { code: 'KIND_NOT_SELECTED', message: `a ${record.kind} record; the domain holds ${kinds.join(', ')}` };
  }
  let subjects = subjectsOf(record);
  if (userId !== undefined) {
    subjects = subjects.filter((s) => matchGlob(userId, s.text));
    if (subjects.length === 0) {
      const what = record.type === 'code' ? 'the code name@version does not match' : 'no user ID matches';
      return { code: 'USER_ID_NOT_SELECTED', message: `${what} ${userId}` };
    }
  }
  if (signedBy) {
    const issuer = signedBy.issuer === undefined ? undefined : trust.named(signedBy.issuer);
    if (signedBy.issuer !== undefined && !issuer) {
      return { code: 'SIGNER_MISSING', message: `issuer "${signedBy.issuer}" is not in the policy`, roles: [signedBy.role] };
    }
    if (!subjects.some((s) => carriesRole(s, signedBy.role, domain.name, trust, issuer?.fingerprint))) {
      const by = signedBy.issuer === undefined ? 'an issuer trusted for it here' : `"${signedBy.issuer}"`;
      return { code: 'SIGNER_MISSING', message: `no ${signedBy.role} signature by ${by}`, roles: [signedBy.role] };
    }
  }
  const missing = domain.accept.requireRoles.filter((role) => !subjects.some((s) => carriesRole(s, role, domain.name, trust)));
  if (missing.length > 0) {
    return {
      code: 'ROLE_MISSING',
      message: `accept rules require ${missing.join(', ')} signatures by issuers trusted for them here`,
      roles: missing,
    };
  }
  return undefined;
}
