// The LDAP front end (DESIGN §5): GnuPG's keyserver schema and the ICS object class over the
// store, for ldapsearch, gateways and `gpg --keyserver ldap://…`. Public surface only.
export { DEFAULT_LDAP_INIT, ldapInit } from './init.ts';
export { DEFAULT_PORT } from './limits.ts';
export { ICS_ARC } from './schema.ts';
export { createLdapServer, type LdapAddress, type LdapComponents, type LdapInit, type LdapServer, type LdapTls } from './server.ts';
export type { NodeInfo as LdapNodeInfo } from './views.ts';
