// Local users and their passwords (core: every front end authenticates through it): public surface.
export { ADMIN_ROLES, type AdminRole, adminRoleOf, type AuthenticatedUser, type Authenticator, createAuthenticator, tokenDigest } from './authenticator.ts';
export { LOCAL_OPERATOR, LocalOperatorToken } from './local-token.ts';
export { hashPassword, MAX_PASSWORD_BYTES, verifyPassword } from './password.ts';
