// Local users and their passwords (core: every front end authenticates through it): public surface.
export { type AuthenticatedUser, type Authenticator, createAuthenticator } from './authenticator.ts';
export { hashPassword, MAX_PASSWORD_BYTES, verifyPassword } from './password.ts';
