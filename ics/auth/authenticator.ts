// Who a user is, from a name and a password: the one check every front end (HTTP basic
// auth, LDAP simple bind) asks. Front ends get an `Authenticator`, never the hashes.
import { createHash } from 'node:crypto';
import type { Principal } from '../policy/index.ts';
import { verifyPassword } from './password.ts';

/** What a user may do through the admin API: read; also sign statements; also run the node (policy reload). */
export type AdminRole = 'viewer' | 'operator' | 'admin';
export const ADMIN_ROLES: readonly AdminRole[] = ['viewer', 'operator', 'admin'];

export interface AuthenticatedUser {
  readonly principal: Principal;
  readonly write: boolean;
  readonly role: AdminRole;
  /** The user's tenant: the domains the admin API shows and changes for them; undefined: every domain. */
  readonly domains?: readonly string[];
}

/** A user's admin role: as configured, else operator for a user who may write, viewer otherwise. */
export function adminRoleOf(user: { readonly write: boolean; readonly role?: AdminRole }): AdminRole {
  return user.role ?? (user.write ? 'operator' : 'viewer');
}

export interface Authenticator {
  /** The user for these credentials, or undefined (wrong name or password: same answer, same time). */
  authenticate(name: string, password: string): Promise<AuthenticatedUser | undefined>;
  /** The user an API token (`ics user token`) stands for, or undefined. */
  authenticateToken?(token: string): AuthenticatedUser | undefined;
}

/** What an API token is kept as: its SHA-256, base64url (a token has 256 random bits: no KDF needed). */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** A placeholder hash so that unknown user names cost as much as wrong passwords. */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export function createAuthenticator(
  users: ReadonlyArray<{
    name: string;
    passwordHash: string;
    write: boolean;
    groups?: readonly string[];
    role?: AdminRole;
    domains?: readonly string[];
    tokens?: ReadonlyArray<{ sha256: string }>;
  }>,
): Authenticator {
  const byName = new Map(users.map((u) => [u.name, u]));
  const byToken = new Map(users.flatMap((u) => (u.tokens ?? []).map((t) => [t.sha256, u] as const)));
  const asUser = (user: (typeof users)[number]): AuthenticatedUser => ({
    principal: { kind: 'user', name: user.name, groups: [...(user.groups ?? [])] },
    write: user.write,
    role: adminRoleOf(user),
    ...(user.domains && { domains: [...user.domains] }),
  });
  return {
    authenticateToken(token) {
      const user = byToken.get(tokenDigest(token));
      return user ? asUser(user) : undefined;
    },
    async authenticate(name, password) {
      const user = byName.get(name);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !ok) return undefined;
      return asUser(user);
    },
  };
}
