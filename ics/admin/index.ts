// The admin API: a plugin of the HTTP host, and what the CLI and the API share.
export { type Actor, actorName, type AdminComponents, AdminOperations, type StatementBody, userName } from './operations.ts';
export { type AdminCertificateAuthority, AdminCertificates, type CertificateFilter, type PendingEnrolmentView, revocationJson } from './certificates.ts';
export { adminPlugin } from './plugin.ts';
export { defaultRole, type StatementRequest, statementInput } from './statements.ts';
