// Who a user is, from a name and a password: the one check every front end (HTTP basic
// auth, LDAP simple bind) asks. Front ends get an `Authenticator`, never the hashes.
import type { Principal } from '../policy/index.ts';
import { verifyPassword } from './password.ts';

export interface AuthenticatedUser {
  readonly principal: Principal;
  readonly write: boolean;
}

export interface Authenticator {
  /** The user for these credentials, or undefined (wrong name or password: same answer, same time). */
  authenticate(name: string, password: string): Promise<AuthenticatedUser | undefined>;
}

/** A placeholder hash so that unknown user names cost as much as wrong passwords. */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export function createAuthenticator(
  users: ReadonlyArray<{ name: string; passwordHash: string; write: boolean; groups?: readonly string[] }>,
): Authenticator {
  const byName = new Map(users.map((u) => [u.name, u]));
  return {
    async authenticate(name, password) {
      const user = byName.get(name);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !ok) return undefined;
      return { principal: { kind: 'user', name: user.name, groups: [...(user.groups ?? [])] }, write: user.write };
    },
  };
}
