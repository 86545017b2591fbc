// The verdict (DESIGN §2): may a gateway trust this entity? Evaluated over a verified
// record and a plain description of trusted issuers; the policy engine supplies the
// latter. Statement time is the signature's creation time, never its arrival time, so a
// replayed old statement cannot change the outcome.
import { compareSignatures } from './canonical.ts';
import { keyLifecycle, type RevocationReason, revocationTaintsEarlier } from './lifecycle.ts';
import { type Claims, claimsOf, ISSUANCE_METADATA, ISSUANCE_SERIAL_METADATA } from './notations.ts';
import { CODE_STATUSES, DEVICE_STATUSES, type IdentityRecord, type Role, SigType, type VerifiedSignature } from './types.ts';

export interface TrustedIssuer {
  /** v4 fingerprint, lower-case hex. */
  readonly fingerprint: string;
  /** Roles this issuer may sign in. */
  readonly roles: readonly Role[];
  readonly name?: string;
  /**
   * When the issuer's key was revoked (its own 0x20 or the policy). Statements it made at
   * or after this time never count; earlier ones as `afterIssuerRevocation` says.
   */
  readonly revokedAt?: Date;
  readonly revocationReason?: RevocationReason;
  readonly revocationText?: string;
  /** When the issuer's key expires (its newest self-signature or the policy): the same rule. */
  readonly expiresAt?: Date;
}

/**
 * Statements an issuer made before its key was revoked or expired: `keep-earlier` (they
 * count; the verdict says the issuer is revoked or expired now) or `drop-all`.
 */
export type AfterIssuerEnd = 'keep-earlier' | 'drop-all';

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
  /**
   * For compromised or unspecified revocations; statements made before a superseded or
   * retired key's revocation always count (see lifecycle.ts). Default: keep-earlier.
   */
  readonly afterIssuerRevocation?: AfterIssuerEnd;
  /** For expired issuer keys. Default: keep-earlier. */
  readonly afterIssuerExpiry?: AfterIssuerEnd;
}

export type ReasonCode =
  | 'KEY_REVOKED'
  | 'KEY_EXPIRED'
  | 'ROLE_PRESENT'
  | 'ROLE_MISSING'
  | 'ROLE_NOT_ALLOWED'
  | 'NO_ROLE'
  | 'ISSUER_UNTRUSTED'
  | 'ISSUER_REVOKED'
  | 'ISSUER_EXPIRED'
  | 'CERTIFICATION_EXPIRED'
  | 'CERTIFICATION_REVOKED'
  | 'STATUS_TRUSTED'
  | 'STATUS_UNTRUSTED'
  | 'STATUS_MISSING'
  | 'STATUS_TERMINAL'
  | 'STATUS_UNKNOWN'
  | 'CERTIFICATE_ISSUANCE';

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
    const own = keyLifecycle(record);
    if (own.revokedAt) fail('KEY_REVOKED', `key revoked by its owner on ${own.revokedAt.toISOString()}`);
    if (own.expiresAt && own.expiresAt.getTime() <= now) fail('KEY_EXPIRED', `key expired on ${own.expiresAt.toISOString()}`);
    for (const u of record.userIds) groups.push(u.signatures.filter((s) => !s.self));
  } else {
    groups.push([...record.signatures]);
  }

  const lifecycle = new IssuerLifecycle(now, policy.afterIssuerRevocation ?? 'keep-earlier', policy.afterIssuerExpiry ?? 'keep-earlier');
  const effective: Statement[] = [];
  for (const group of groups) {
    const newestRevocation = new Map<string, number>();
    for (const s of group) {
      if (s.type !== SigType.certRevocation) continue;
      // A withdrawal made with a key already revoked or expired is no statement either.
      const issuer = trust.get(s.issuer);
      if (issuer && lifecycle.madeAfterEnd(issuer, s)) continue;
      newestRevocation.set(s.issuer, Math.max(newestRevocation.get(s.issuer) ?? 0, s.created.getTime()));
    }
    for (const sig of group) {
      if (sig.type === SigType.certRevocation) continue;
      const issuer = trust.get(sig.issuer);
      if (!issuer) {
        info('ISSUER_UNTRUSTED', 'signature by an issuer this policy does not trust', sig.issuer);
        continue;
      }
      const ended = lifecycle.judge(issuer, sig);
      if (ended) {
        info(ended.code, ended.message, sig.issuer);
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
      // A CA's record of an X.509 issuance is evidence, not a statement: were its role to
      // count, a certificate would vouch for its own renewal after the countersignature that
      // allowed it had been withdrawn.
      if (claims.metadata[ISSUANCE_METADATA] !== undefined) {
        const serial = claims.metadata[ISSUANCE_SERIAL_METADATA] ?? '(no serial)';
        info('CERTIFICATE_ISSUANCE', `X.509 certificate serial ${serial} issued: evidence only, it counts toward no role`, sig.issuer);
        continue;
      }
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
  // Issuers whose earlier statements still count although their key is revoked or expired now.
  for (const fingerprint of new Set(effective.map((s) => s.sig.issuer))) {
    const issuer = trust.get(fingerprint);
    for (const note of issuer ? lifecycle.standing(issuer) : []) info(note.code, note.message, fingerprint);
  }

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

interface EndNote {
  readonly code: 'ISSUER_REVOKED' | 'ISSUER_EXPIRED';
  readonly message: string;
}

/** Applies trusted issuers' key revocation and expiry to their statements. */
class IssuerLifecycle {
  constructor(
    private readonly now: number,
    private readonly afterRevocation: AfterIssuerEnd,
    private readonly afterExpiry: AfterIssuerEnd,
  ) {}

  /** Made at or after the issuer's key was revoked or expired: never a statement. */
  madeAfterEnd(issuer: TrustedIssuer, sig: VerifiedSignature): boolean {
    const t = sig.created.getTime();
    return (issuer.revokedAt !== undefined && t >= issuer.revokedAt.getTime()) || (issuer.expiresAt !== undefined && t >= issuer.expiresAt.getTime());
  }

  /** Why `sig` does not count because of its issuer's key state; undefined when it may. */
  judge(issuer: TrustedIssuer, sig: VerifiedSignature): EndNote | undefined {
    const t = sig.created.getTime();
    const made = sig.created.toISOString();
    const { revokedAt, expiresAt } = issuer;
    if (revokedAt && t >= revokedAt.getTime()) {
      return { code: 'ISSUER_REVOKED', message: `statement of ${made} made after its issuer's key was revoked (${this.#revocation(issuer)})` };
    }
    if (expiresAt && t >= expiresAt.getTime()) {
      return { code: 'ISSUER_EXPIRED', message: `statement of ${made} made after its issuer's key expired on ${expiresAt.toISOString()}` };
    }
    if (this.#dropsEarlier(issuer)) {
      return { code: 'ISSUER_REVOKED', message: `statement of ${made} by an issuer whose key is revoked (${this.#revocation(issuer)}); this policy drops its earlier statements` };
    }
    if (expiresAt && expiresAt.getTime() <= this.now && this.afterExpiry === 'drop-all') {
      return { code: 'ISSUER_EXPIRED', message: `statement of ${made} by an issuer whose key expired on ${expiresAt.toISOString()}; this policy drops its earlier statements` };
    }
    return undefined;
  }

  /** For an issuer with statements that count: that its key is revoked or expired now. */
  standing(issuer: TrustedIssuer): EndNote[] {
    const notes: EndNote[] = [];
    if (issuer.revokedAt && issuer.revokedAt.getTime() <= this.now) {
      notes.push({ code: 'ISSUER_REVOKED', message: `issuer's key is revoked (${this.#revocation(issuer)}); its statements made before then still count` });
    }
    if (issuer.expiresAt && issuer.expiresAt.getTime() <= this.now) {
      notes.push({ code: 'ISSUER_EXPIRED', message: `issuer's key expired on ${issuer.expiresAt.toISOString()}; its statements made before then still count` });
    }
    return notes;
  }

  #dropsEarlier(issuer: TrustedIssuer): boolean {
    if (!issuer.revokedAt || issuer.revokedAt.getTime() > this.now) return false;
    return this.afterRevocation === 'drop-all' && revocationTaintsEarlier(issuer.revocationReason ?? 'unspecified');
  }

  #revocation(issuer: TrustedIssuer): string {
    const reason = issuer.revocationReason ?? 'unspecified';
    const text = issuer.revocationText ? `: ${JSON.stringify(issuer.revocationText.slice(0, 200))}` : '';
    return `on ${issuer.revokedAt?.toISOString()}, ${reason}${text}`;
  }
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
