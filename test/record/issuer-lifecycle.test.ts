// The verdict under a trusted issuer's key state: statements made at or after the issuer's
// key was revoked or expired never count; earlier ones as the policy option and the
// revocation reason say.
import assert from 'node:assert/strict';
import { evaluateVerdict, type TrustedIssuer, type Verdict, type VerdictPolicy } from '../../ics/record/index.ts';
import { certifiedDevice, type Fixture, fixture } from '../helpers/identities.ts';

const HOUR = 3600_000;
const NOW = new Date('2025-01-01T00:00:00Z');
/** The device's certifications are made at this time (see certifiedDevice). */
const CERTIFIED = new Date(NOW.getTime() - 48 * HOUR);

const codes = (v: Verdict, severity: string) => v.reasons.filter((r) => r.severity === severity).map((r) => r.code);

describe('record/verdict: issuer key lifecycle', () => {
  let f: Fixture;
  let device: Awaited<ReturnType<typeof certifiedDevice>>['record'];

  before(async () => {
    f = await fixture();
    device = (await certifiedDevice(f, { at: CERTIFIED })).record;
  });

  const judge = (manufacturer: Partial<TrustedIssuer>, options: Partial<VerdictPolicy> = {}) => {
    const issuers = f.trusted.map((t) => (t.fingerprint === f.manufacturer.record.id ? { ...t, ...manufacturer } : t));
    return evaluateVerdict(device, { issuers, requiredRoles: ['manufacturer', 'integrator'], now: NOW, ...options });
  };

  it('a sound issuer: trusted, no lifecycle reason', () => {
    const v = judge({});
    assert.equal(v.trusted, true);
    assert.deepEqual(codes(v, 'info'), []);
  });

  it('revoked (compromised) after the statement, keep-earlier: still trusted, with info ISSUER_REVOKED', () => {
    const v = judge({ revokedAt: new Date(CERTIFIED.getTime() + HOUR), revocationReason: 'compromised' });
    assert.equal(v.trusted, true);
    assert.ok(codes(v, 'info').includes('ISSUER_REVOKED'));
    assert.equal(v.status, 'in-use');
  });

  it('revoked (compromised) after the statement, drop-all: the statement is ignored and the role is missing', () => {
    const v = judge({ revokedAt: new Date(CERTIFIED.getTime() + HOUR), revocationReason: 'compromised' }, { afterIssuerRevocation: 'drop-all' });
    assert.equal(v.trusted, false);
    assert.ok(codes(v, 'fail').includes('ROLE_MISSING'));
    assert.ok(codes(v, 'fail').includes('STATUS_MISSING'));
    assert.ok(codes(v, 'info').includes('ISSUER_REVOKED'));
  });

  it('no revocation reason counts as compromised under drop-all', () => {
    const v = judge({ revokedAt: new Date(CERTIFIED.getTime() + HOUR) }, { afterIssuerRevocation: 'drop-all' });
    assert.equal(v.trusted, false);
  });

  for (const reason of ['superseded', 'retired'] as const) {
    it(`revoked as ${reason}: earlier statements count even under drop-all`, () => {
      const v = judge({ revokedAt: new Date(CERTIFIED.getTime() + HOUR), revocationReason: reason }, { afterIssuerRevocation: 'drop-all' });
      assert.equal(v.trusted, true);
      assert.ok(codes(v, 'info').includes('ISSUER_REVOKED'));
    });
  }

  for (const option of ['keep-earlier', 'drop-all'] as const) {
    for (const reason of ['superseded', 'compromised'] as const) {
      it(`a statement made after the revocation never counts (${option}, ${reason})`, () => {
        const v = judge({ revokedAt: new Date(CERTIFIED.getTime() - HOUR), revocationReason: reason }, { afterIssuerRevocation: option });
        assert.equal(v.trusted, false);
        assert.ok(codes(v, 'fail').includes('ROLE_MISSING'));
        assert.ok(v.reasons.some((r) => r.code === 'ISSUER_REVOKED' && r.issuer === f.manufacturer.record.id));
      });
    }
  }

  it('a statement made in the very second of the revocation does not count', () => {
    const v = judge({ revokedAt: CERTIFIED, revocationReason: 'superseded' });
    assert.equal(v.trusted, false);
  });

  it('a revocation scheduled after now changes nothing yet', () => {
    const v = judge({ revokedAt: new Date(NOW.getTime() + HOUR), revocationReason: 'compromised' }, { afterIssuerRevocation: 'drop-all' });
    assert.equal(v.trusted, true);
    assert.deepEqual(codes(v, 'info'), []);
  });

  it('expired after the statement: kept with info ISSUER_EXPIRED by default, dropped under drop-all', () => {
    const expiresAt = new Date(CERTIFIED.getTime() + HOUR);
    const kept = judge({ expiresAt });
    assert.equal(kept.trusted, true);
    assert.ok(codes(kept, 'info').includes('ISSUER_EXPIRED'));
    const dropped = judge({ expiresAt }, { afterIssuerExpiry: 'drop-all' });
    assert.equal(dropped.trusted, false);
    assert.ok(codes(dropped, 'fail').includes('ROLE_MISSING'));
    // The revocation option does not govern expiry.
    assert.equal(judge({ expiresAt }, { afterIssuerRevocation: 'drop-all' }).trusted, true);
  });

  it('a statement made after the issuer key expired never counts', () => {
    const v = judge({ expiresAt: new Date(CERTIFIED.getTime() - HOUR) });
    assert.equal(v.trusted, false);
    assert.ok(v.reasons.some((r) => r.code === 'ISSUER_EXPIRED' && r.severity === 'info'));
  });

  it('an issuer key that expires after now changes nothing', () => {
    const v = judge({ expiresAt: new Date(NOW.getTime() + HOUR) }, { afterIssuerExpiry: 'drop-all' });
    assert.equal(v.trusted, true);
    assert.deepEqual(codes(v, 'info'), []);
  });
});
