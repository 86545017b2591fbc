// The verdict (DESIGN §2): may a gateway trust this entity? Evaluated over a verified
// record and a plain description of trusted issuers; the policy engine supplies the
// latter. Statement time is the signature's creation time, never its arrival time, so a
// replayed old statement cannot change the outcome.
import { compareSignatures } from './canonical.ts';
import { type Claims, claimsOf } from './notations.ts';
import { CODE_STATUSES, DEVICE_STATUSES, type IdentityRecord, type Role, SigType, type VerifiedSignature } from './types.ts';

export interface TrustedIssuer {
  /** v4 fingerprint, lower-case hex. */
  readonly fingerprint: string;
  /** Roles this issuer may sign in. */
  readonly roles: readonly Role[];
  readonly name?: string;
}

export interface VerdictPolicy {
  readonly issuers: readonly TrustedIssuer[];
  /** Roles whose valid signatures must all be present. */
  readonly requiredRoles: readonly Role[];
  /** Roles whose statements may set the status. Default: manufacturer, maintainer, owner (code: developer). */
  readonly statusSetters?: readonly Role[];
  /** Statuses under which the entity is trusted. Default: in-use (code: released). */
  readonly trustedStatuses?: readonly string[];
  /** Statuses that no later statement can leave. Default: destroyed (code: revoked). */
  readonly terminalStatuses?: readonly string[];
  /** Whether an entity without any status statement may be trusted. Default: false. */
  readonly allowMissingStatus?: boolean;
  /** Reference time for expiry. Default: now. */
  readonly now?: Date;
}

export type ReasonCode =
  | 'KEY_REVOKED'
  | 'KEY_EXPIRED'
  | 'ROLE_PRESENT'
  | 'ROLE_MISSING'
  | 'ROLE_NOT_ALLOWED'
  | 'NO_ROLE'
  | 'ISSUER_UNTRUSTED'
  | 'CERTIFICATION_EXPIRED'
  | 'CERTIFICATION_REVOKED'
  | 'STATUS_TRUSTED'
  | 'STATUS_UNTRUSTED'
  | 'STATUS_MISSING'
  | 'STATUS_TERMINAL'
  | 'STATUS_UNKNOWN';

export interface Reason {
  readonly code: ReasonCode;
  /** `fail` reasons make the verdict untrusted; `info` explains what was ignored; `ok` what held. */
  readonly severity: 'ok' | 'info' | 'fail';
  readonly message: string;
  readonly issuer?: string;
}

export interface RoleHeld {
  readonly role: Role;
  readonly issuer: string;
  /** Oldest valid statement of this role by this issuer. */
  readonly since: Date;
  /** When the last of those statements expires; undefined when one never does. */
  readonly expires: Date | undefined;
}

export interface Verdict {
  readonly id: string;
  readonly kind: IdentityRecord['kind'];
  readonly trusted: boolean;
  readonly status: string | null;
  readonly statusSetBy: { readonly issuer: string; readonly role: Role; readonly at: Date } | null;
  readonly roles: readonly RoleHeld[];
  readonly authorizations: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  readonly endorsements: ReadonlyArray<{ issuer: string; at: Date; expires: Date | undefined; metadata: Record<string, string> }>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly reasons: readonly Reason[];
}

interface Statement {
  sig: VerifiedSignature;
  claims: Claims;
  role: Role;
}

const KNOWN_STATUSES: ReadonlySet<string> = new Set<string>([...DEVICE_STATUSES, ...CODE_STATUSES]);
const CERTIFICATIONS: ReadonlySet<number> = new Set([SigType.certGeneric, SigType.certPersona, SigType.certCasual, SigType.certPositive]);

export function evaluateVerdict(record: IdentityRecord, policy: VerdictPolicy): Verdict {
  const now = (policy.now ?? new Date()).getTime();
  const isCode = record.type === 'code';
  const statusSetters = new Set<Role>(policy.statusSetters ?? (isCode ? ['developer'] : ['manufacturer', 'maintainer', 'owner']));
  const trustedStatuses = new Set(policy.trustedStatuses ?? (isCode ? ['released'] : ['in-use']));
  const terminal = new Set(policy.terminalStatuses ?? (isCode ? ['revoked'] : ['destroyed']));
  const trust = new Map(policy.issuers.map((i) => [i.fingerprint.toLowerCase(), i]));
  const reasons: Reason[] = [];
  const fail = (code: ReasonCode, message: string, issuer?: string) => reasons.push({ code, severity: 'fail', message, issuer });
  const info = (code: ReasonCode, message: string, issuer?: string) => reasons.push({ code, severity: 'info', message, issuer });
  const ok = (code: ReasonCode, message: string, issuer?: string) => reasons.push({ code, severity: 'ok', message, issuer });

  // Groups of signatures within which a certification revocation applies (one per user ID).
  const groups: VerifiedSignature[][] = [];
  if (record.type === 'key') {
    const revocation = record.keySignatures.find((s) => s.self && s.type === SigType.keyRevocation);
    if (revocation) fail('KEY_REVOKED', `key revoked by its owner on ${revocation.created.toISOString()}`);
    const selfCerts = record.userIds.flatMap((u) => u.signatures.filter((s) => s.self && CERTIFICATIONS.has(s.type)));
    const newestSelf = selfCerts.sort(compareSignatures).at(-1);
    if (newestSelf?.keyExpires && newestSelf.keyExpires.getTime() <= now) {
      fail('KEY_EXPIRED', `key expired on ${newestSelf.keyExpires.toISOString()}`);
    }
    for (const u of record.userIds) groups.push(u.signatures.filter((s) => !s.self));
  } else {
    groups.push([...record.signatures]);
  }

  const effective: Statement[] = [];
  for (const group of groups) {
    const newestRevocation = new Map<string, number>();
    for (const s of group) {
      if (s.type !== SigType.certRevocation) continue;
      newestRevocation.set(s.issuer, Math.max(newestRevocation.get(s.issuer) ?? 0, s.created.getTime()));
    }
    for (const sig of group) {
      if (sig.type === SigType.certRevocation) continue;
      const issuer = trust.get(sig.issuer);
      if (!issuer) {
        info('ISSUER_UNTRUSTED', 'signature by an issuer this policy does not trust', sig.issuer);
        continue;
      }
      const revokedAt = newestRevocation.get(sig.issuer);
      if (revokedAt !== undefined && sig.created.getTime() <= revokedAt) {
        info('CERTIFICATION_REVOKED', `statement of ${sig.created.toISOString()} withdrawn by its issuer`, sig.issuer);
        continue;
      }
      if (sig.expires && sig.expires.getTime() <= now) {
        info('CERTIFICATION_EXPIRED', `statement expired on ${sig.expires.toISOString()}`, sig.issuer);
        continue;
      }
      const claims = claimsOf(sig.notations);
      if (!claims.role) {
        info('NO_ROLE', claims.unknownRole ? `unknown role "${claims.unknownRole}"` : 'statement names no role', sig.issuer);
        continue;
      }
      if (!issuer.roles.includes(claims.role)) {
        info('ROLE_NOT_ALLOWED', `issuer may not sign as ${claims.role}`, sig.issuer);
        continue;
      }
      effective.push({ sig, claims, role: claims.role });
    }
  }
  effective.sort((a, b) => compareSignatures(a.sig, b.sig));

  const roles = rolesHeld(effective);
  for (const role of policy.requiredRoles) {
    const holders = roles.filter((r) => r.role === role);
    if (holders.length === 0) fail('ROLE_MISSING', `no valid ${role} signature`);
    else ok('ROLE_PRESENT', `${role} signature present`, holders[0]?.issuer);
  }

  const statusStatements = effective.filter((s) => s.claims.status !== undefined && statusSetters.has(s.role));
  const terminalStatement = statusStatements.find((s) => terminal.has(s.claims.status as string));
  const current = terminalStatement ?? statusStatements.at(-1);
  const status = current?.claims.status ?? null;
  if (!current) {
    if (policy.allowMissingStatus) info('STATUS_MISSING', 'no status statement');
    else fail('STATUS_MISSING', 'no status statement by an issuer allowed to set it');
  } else {
    const by = `set by ${current.role} on ${current.sig.created.toISOString()}`;
    if (!KNOWN_STATUSES.has(status as string)) info('STATUS_UNKNOWN', `status "${status}" is not a known status`, current.sig.issuer);
    if (terminalStatement) fail('STATUS_TERMINAL', `status "${status}" is terminal (${by})`, current.sig.issuer);
    else if (trustedStatuses.has(status as string)) ok('STATUS_TRUSTED', `status "${status}" ${by}`, current.sig.issuer);
    else fail('STATUS_UNTRUSTED', `status "${status}" ${by}`, current.sig.issuer);
  }

  return {
    id: record.id,
    kind: record.kind,
    trusted: !reasons.some((r) => r.severity === 'fail'),
    status,
    statusSetBy: current ? { issuer: current.sig.issuer, role: current.role, at: current.sig.created } : null,
    roles,
    authorizations: authorizations(effective),
    endorsements: effective
      .filter((s) => s.role === 'certifier')
      .map((s) => ({ issuer: s.sig.issuer, at: s.sig.created, expires: s.sig.expires, metadata: s.claims.metadata })),
    metadata: Object.assign({}, ...effective.map((s) => s.claims.metadata)) as Record<string, string>,
    reasons,
  };
}

function rolesHeld(effective: readonly Statement[]): RoleHeld[] {
  const held = new Map<string, RoleHeld>();
  for (const { sig, role } of effective) {
    const key = `${role} ${sig.issuer}`;
    const seen = held.get(key);
    if (!seen) {
      held.set(key, { role, issuer: sig.issuer, since: sig.created, expires: sig.expires });
    } else {
      const expires = !seen.expires || !sig.expires ? undefined : new Date(Math.max(seen.expires.getTime(), sig.expires.getTime()));
      held.set(key, { ...seen, expires });
    }
  }
  return [...held.values()];
}

/** Each issuer's newest statement that speaks of authorizations is its current view; deny wins. */
function authorizations(effective: readonly Statement[]): { allow: string[]; deny: string[] } {
  const newestByIssuer = new Map<string, Claims>();
  for (const s of effective) {
    if (s.claims.allow.length > 0 || s.claims.deny.length > 0) newestByIssuer.set(s.sig.issuer, s.claims);
  }
  const deny = new Set<string>();
  const allow = new Set<string>();
  for (const claims of newestByIssuer.values()) {
    for (const d of claims.deny) deny.add(d);
    for (const a of claims.allow) allow.add(a);
  }
  return { allow: [...allow].filter((a) => !deny.has(a)).sort(), deny: [...deny].sort() };
}
