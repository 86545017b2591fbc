// The cm4it notation vocabulary (RFC 4880 §5.2.3.16 notation data, human-readable flag
// set, names in the `@cm4it.org` namespace) and its reading into claims.
import { IcsError } from '../errors.ts';
import { type Notation, ROLES, type Role } from './types.ts';

export const NOTATION_DOMAIN = 'cm4it.org';
export const ROLE_NOTATION = `role@${NOTATION_DOMAIN}`;
export const STATUS_NOTATION = `status@${NOTATION_DOMAIN}`;
export const ALLOW_NOTATION = `allow@${NOTATION_DOMAIN}`;
export const DENY_NOTATION = `deny@${NOTATION_DOMAIN}`;

/**
 * An X.509 certificate issued for the record's key by a node's CA (DESIGN §7): the metadata
 * names of the issuance statement, `x509-sha256@cm4it.org` (SHA-256 of the certificate's DER)
 * and `x509-serial@cm4it.org` (its serial, hex). Such a statement is evidence only (verdict.ts).
 */
export const ISSUANCE_METADATA = 'x509-sha256';
export const ISSUANCE_SERIAL_METADATA = 'x509-serial';

/** Metadata names such as `model`, `serial`, `hw-version`, `capability`, `endorsement`. */
const METADATA_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const RESERVED = new Set(['role', 'status', 'allow', 'deny']);

/** What one issuer states in one signature. */
export interface Claims {
  role: Role | undefined;
  /** A role notation naming no known role (kept for the verdict's reasons). */
  unknownRole: string | undefined;
  status: string | undefined;
  allow: string[];
  deny: string[];
  metadata: Record<string, string>;
}

/** What an issuer wants to state; becomes notations on a certification or code signature. */
export interface StatementInput {
  role: Role;
  status?: string;
  allow?: readonly string[];
  deny?: readonly string[];
  metadata?: Readonly<Record<string, string>>;
}

export function claimsOf(notations: readonly Notation[]): Claims {
  const claims: Claims = { role: undefined, unknownRole: undefined, status: undefined, allow: [], deny: [], metadata: {} };
  for (const { name, value } of notations) {
    const at = name.lastIndexOf('@');
    if (at < 0 || name.slice(at + 1) !== NOTATION_DOMAIN) continue;
    const key = name.slice(0, at);
    if (key === 'role') {
      if ((ROLES as readonly string[]).includes(value)) claims.role ??= value as Role;
      else claims.unknownRole ??= value;
    } else if (key === 'status') claims.status ??= value;
    else if (key === 'allow') claims.allow.push(value);
    else if (key === 'deny') claims.deny.push(value);
    else if (METADATA_NAME.test(key) && !(key in claims.metadata)) claims.metadata[key] = value;
  }
  return claims;
}

export function notationsFor(input: StatementInput): Notation[] {
  if (!(ROLES as readonly string[]).includes(input.role)) {
    throw new IcsError('BAD_REQUEST', `unknown role "${input.role}" (one of ${ROLES.join(', ')})`);
  }
  const out: Notation[] = [{ name: ROLE_NOTATION, value: input.role }];
  if (input.status !== undefined) out.push({ name: STATUS_NOTATION, value: input.status });
  for (const v of input.allow ?? []) out.push({ name: ALLOW_NOTATION, value: v });
  for (const v of input.deny ?? []) out.push({ name: DENY_NOTATION, value: v });
  for (const [key, value] of Object.entries(input.metadata ?? {})) {
    if (!METADATA_NAME.test(key) || RESERVED.has(key)) throw new IcsError('BAD_REQUEST', `invalid metadata name "${key}"`);
    out.push({ name: `${key}@${NOTATION_DOMAIN}`, value });
  }
  return out;
}
