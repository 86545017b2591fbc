// Whether a device's identity record entitles it to an operational certificate now: the one
// rule that both issuance (enrolment.ts) and revocation (revocation.ts) apply, so that a
// device is revoked exactly when it could no longer enrol. And, when it no longer may, the
// CRL reason (RFC 5280 §5.3.1) its certificates are revoked with, from what changed.
import type { EnrolPolicy, PolicyVerdict } from '../policy/index.ts';
import type { RevocationReason } from '../store/index.ts';

/** Why the verdict does not allow a certificate, each reason once: [] when it does. `domain`: an EST label's domain the record must be in. */
export function entitlementRefusals(verdict: PolicyVerdict, enrol: EnrolPolicy, domain?: string): string[] {
  const reasons = verdict.trusted ? [] : verdict.reasons.filter((r) => r.severity === 'fail').map((r) => r.message);
  for (const role of enrol.requireRoles) {
    if (!verdict.roles.some((r) => r.role === role)) reasons.push(`no valid ${role} signature (the enrol section requires it)`);
  }
  if (domain !== undefined && !verdict.domains.includes(domain)) reasons.push(`the record is not in domain ${domain}, which this EST label names`);
  return [...new Set(reasons)];
}

/** Statuses that say the device's key may be in someone else's hands. */
const COMPROMISED = new Set(['stolen']);
/** Statuses that say the device is gone for good. */
const ENDED = new Set(['destroyed', 'decommissioned']);

/**
 * The reason to revoke with when the verdict no longer allows a certificate; undefined
 * while it does. By cause, the strongest first: a stolen device or a key its owner revoked
 * → keyCompromise; a destroyed or decommissioned one → cessationOfOperation;
 * a required signature gone (an integrator withdrew its countersignature, or it expired) →
 * affiliationChanged; anything else (inactive, no status, the record's key expired, an
 * issuer no longer trusted) → privilegeWithdrawn.
 */
export function revocationReasonFor(verdict: PolicyVerdict, enrol: EnrolPolicy): RevocationReason | undefined {
  if (entitlementRefusals(verdict, enrol).length === 0) return undefined;
  const failed = new Set(verdict.reasons.filter((r) => r.severity === 'fail').map((r) => r.code));
  // A device key revoked by its owner: whatever reason it gave, the key is not to be relied on.
  if ((verdict.status !== null && COMPROMISED.has(verdict.status)) || failed.has('KEY_REVOKED')) return 'keyCompromise';
  if (verdict.status !== null && ENDED.has(verdict.status)) return 'cessationOfOperation';
  const rolesMissing = enrol.requireRoles.some((role) => !verdict.roles.some((r) => r.role === role)) || failed.has('ROLE_MISSING');
  if (rolesMissing) return 'affiliationChanged';
  return 'privilegeWithdrawn';
}
