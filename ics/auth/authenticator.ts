// Who a user is, from a name and a password: the one check every front end (HTTP basic
// auth, LDAP simple bind) asks. Front ends get an `Authenticator`, never the hashes.
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
}

/** A placeholder hash so that unknown user names cost as much as wrong passwords. */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export function createAuthenticator(
  users: ReadonlyArray<{ name: string; passwordHash: string; write: boolean; groups?: readonly string[]; role?: AdminRole; domains?: readonly string[] }>,
): Authenticator {
  const byName = new Map(users.map((u) => [u.name, u]));
  return {
    async authenticate(name, password) {
      const user = byName.get(name);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !ok) return undefined;
      return {
        principal: { kind: 'user', name: user.name, groups: [...(user.groups ?? [])] },
        write: user.write,
        role: adminRoleOf(user),
        ...(user.domains && { domains: [...user.domains] }),
      };
    },
  };
}
