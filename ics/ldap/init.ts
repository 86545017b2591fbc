// The LDAP server's defaults. The node passes its config's `ldap:` section (validated, defaults
// filled, by schemas/config.schema.json); tests and benches state only what they change. The
// optional tuning (idle timeouts, session and rate limits, the candidate cap) is left out:
// createLdapServer reads its defaults from limits.ts.
import type { LdapInit } from './server.ts';

/** The node's defaults (config.schema.json's), on loopback and an ephemeral port. */
export const DEFAULT_LDAP_INIT: LdapInit = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  baseDn: 'dc=ics,dc=example',
  allowInsecureBind: false,
  sizeLimit: 1000,
  timeLimitSeconds: 10,
  nodeInfo: Object.freeze({ name: 'ics', version: '0.0.0' }),
});

/** DEFAULT_LDAP_INIT with `changes` applied. */
export function ldapInit(changes: Partial<LdapInit> = {}): LdapInit {
  return { ...DEFAULT_LDAP_INIT, ...changes };
}
