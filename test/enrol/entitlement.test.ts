// The one rule of issuance and revocation (enrol/entitlement.ts): what refuses a certificate,
// and the CRL reason each cause of lost trust maps to.
import assert from 'node:assert/strict';
import { entitlementRefusals, revocationReasonFor } from '../../ics/enrol/index.ts';
import type { EnrolPolicy, PolicyVerdict } from '../../ics/policy/index.ts';
type Reason = PolicyVerdict['reasons'][number];
type RoleHeld = PolicyVerdict['roles'][number];

const enrol: EnrolPolicy = {
  birthCAs: [],
  requireRoles: ['manufacturer', 'integrator'],
  profile: { lifetimeSeconds: 30 * 86_400, renewalWindowSeconds: 10 * 86_400, keyTypes: ['p256'] },
  approval: 'auto',
  bootstrap: 'none',
  revocation: { crlValiditySeconds: 7 * 86_400, revokeOnRenewal: false },
};

const held = (role: RoleHeld['role']): RoleHeld => ({ role, issuer: 'aa'.repeat(20), since: new Date(0), expires: undefined });
const fail = (code: Reason['code'], message = code): Reason => ({ code, severity: 'fail', message });

function verdict(over: Partial<PolicyVerdict>): PolicyVerdict {
  return {
    id: 'bb'.repeat(20),
    kind: 'device',
    trusted: true,
    status: 'in-use',
    statusSetBy: null,
    roles: [held('manufacturer'), held('integrator')],
    authorizations: { allow: [], deny: [] },
    endorsements: [],
    metadata: {},
    reasons: [],
    domains: ['system'],
    ...over,
  };
}

describe('enrol/entitlement: who may hold a certificate, and why one is revoked', () => {
  it('a trusted verdict with every required role: no refusal, nothing to revoke', () => {
    assert.deepEqual(entitlementRefusals(verdict({}), enrol), []);
    assert.equal(revocationReasonFor(verdict({}), enrol), undefined);
  });

  it('an EST label names a domain the record must be in', () => {
    assert.deepEqual(entitlementRefusals(verdict({}), enrol, 'system'), []);
    assert.match(entitlementRefusals(verdict({}), enrol, 'lab').join(), /not in domain lab/);
  });

  const cases: Array<[string, Partial<PolicyVerdict>, string]> = [
    ['stolen', { trusted: false, status: 'stolen', reasons: [fail('STATUS_UNTRUSTED')] }, 'keyCompromise'],
    ['the device key revoked by its owner', { trusted: false, reasons: [fail('KEY_REVOKED')] }, 'keyCompromise'],
    ['destroyed', { trusted: false, status: 'destroyed', reasons: [fail('STATUS_TERMINAL')] }, 'cessationOfOperation'],
    ['decommissioned', { trusted: false, status: 'decommissioned', reasons: [fail('STATUS_UNTRUSTED')] }, 'cessationOfOperation'],
    ['the integrator withdrew its countersignature (trusted, a required role gone)', { roles: [held('manufacturer')] }, 'affiliationChanged'],
    ['the manufacturer signature gone (untrusted: ROLE_MISSING)', { trusted: false, roles: [held('integrator')], reasons: [fail('ROLE_MISSING')] }, 'affiliationChanged'],
    ['inactive', { trusted: false, status: 'inactive', reasons: [fail('STATUS_UNTRUSTED')] }, 'privilegeWithdrawn'],
    ['the record key expired', { trusted: false, reasons: [fail('KEY_EXPIRED')] }, 'privilegeWithdrawn'],
    ['stolen and the countersignature gone: the stronger cause wins', { trusted: false, status: 'stolen', roles: [held('manufacturer')], reasons: [fail('STATUS_UNTRUSTED')] }, 'keyCompromise'],
  ];
  for (const [cause, over, reason] of cases) {
    it(`${cause} → ${reason}`, () => {
      assert.ok(entitlementRefusals(verdict(over), enrol).length > 0, 'refused for issuance too');
      assert.equal(revocationReasonFor(verdict(over), enrol), reason);
    });
  }
});
