// The LDAP server's defaults: DEFAULT_LDAP_INIT, with the tuning createLdapServer fills in from
// limits.ts, is the node config's `ldap:` section as the schema fills it, so that a test or
// bench server behaves as a node's does unless told otherwise.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { DEFAULT_LDAP_INIT, ldapInit } from '../../ics/ldap/index.ts';
import {
  BOUND_IDLE_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  MAX_LOOKUP_IDS,
  MAX_SESSIONS,
  MAX_SESSIONS_PER_ADDRESS,
  REQUESTS_PER_SECOND,
} from '../../ics/ldap/limits.ts';

describe('ldap init', () => {
  it('the defaults are the node config’s `ldap:` defaults', () => {
    const schema = createRequire(import.meta.url)('../../schemas/config.schema.json') as {
      properties: { ldap: { properties: Record<string, { default: unknown }> } };
    };
    const configDefaults = Object.fromEntries(Object.entries(schema.properties.ldap.properties).map(([name, p]) => [name, p.default]));
    // What createLdapServer takes when LdapInit leaves these out (see LdapInit's comments).
    const filledIn = {
      idleTimeoutSeconds: IDLE_TIMEOUT_MS / 1000,
      boundIdleTimeoutSeconds: BOUND_IDLE_TIMEOUT_MS / 1000,
      maxConnections: MAX_SESSIONS,
      maxConnectionsPerAddress: MAX_SESSIONS_PER_ADDRESS,
      requestsPerSecond: REQUESTS_PER_SECOND,
      maxCandidates: MAX_LOOKUP_IDS,
    };
    const ours: Record<string, unknown> = { ...filledIn, ...DEFAULT_LDAP_INIT };
    for (const [name, value] of Object.entries(configDefaults)) assert.deepEqual(ours[name], value, name);
  });

  it('ldapInit applies the changes given and keeps every other default', () => {
    const init = ldapInit({ sizeLimit: 5, allowInsecureBind: true });
    assert.deepEqual(init, { ...DEFAULT_LDAP_INIT, sizeLimit: 5, allowInsecureBind: true });
    assert.equal(DEFAULT_LDAP_INIT.sizeLimit, 1000, 'the defaults themselves are not changed');
    assert.ok(Object.isFrozen(DEFAULT_LDAP_INIT));
  });
});
