// The policy engine computes each trusted issuer's key state from its key record (its own
// revocation, its expiry) and the policy entry (`revoked`, `expires`), and applies
// trust.afterIssuerRevocation / afterIssuerExpiry in the verdict.
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { PolicyEngine, policyFromObject } from '../../ics/policy/index.ts';
import { generateIdentity, keyLifecycle, type KeyRecord, type NewIdentity, parseKeyRecord } from '../../ics/record/index.ts';
import { acmeDeviceId, device, fileErrors, minutesAgo, type PolicyFixture, policyFixture, policyObject, rejection, testPolicyDraft } from './helpers.ts';

const HOUR = 3600_000;

/** A key revocation (0x20) made by the key itself at `date`, as `gpg --gen-revoke` makes one. */
async function selfRevoked(issuer: NewIdentity, date: Date, flag: openpgp.enums.reasonForRevocation, text = ''): Promise<KeyRecord> {
  const { publicKey } = await openpgp.revokeKey({ key: issuer.privateKey, reasonForRevocation: { flag, string: text }, date, format: 'binary' });
  return (await parseKeyRecord(publicKey)).record;
}

describe('policy/issuer lifecycle', () => {
  let f: PolicyFixture;
  /** A manufacturer of its own, made 3 hours ago, so that revocations can be dated before now. */
  let maker: NewIdentity;
  /** Certified (in-use) by `maker` about 2 hours ago. */
  let cam: KeyRecord;

  before(async () => {
    f = await policyFixture();
    maker = await generateIdentity({ userId: 'urn:cm4it:org:lifecycle-maker.example', created: minutesAgo(180) });
    cam = await device(acmeDeviceId(), [{ issuer: maker, role: 'manufacturer', status: 'in-use' }]);
  });

  const engine = async (edit: (doc: { acme: Record<string, unknown>; trust: Record<string, unknown> }) => void, makerRecord?: KeyRecord) => {
    const draft = testPolicyDraft(f);
    const doc = policyObject(draft) as { trust: Record<string, unknown> & { issuers: Array<Record<string, unknown>> } };
    const acme = doc.trust.issuers[0] as Record<string, unknown>;
    acme.fingerprint = maker.record.id;
    edit({ acme, trust: doc.trust });
    return PolicyEngine.create(policyFromObject(doc, 'lifecycle.yaml'), [makerRecord ?? maker.record, f.integrator.record, f.certifier.record]);
  };

  it('loads revoked/expires and the options, with defaults keep-earlier', async () => {
    const at = new Date(Date.now() - HOUR).toISOString();
    const e = await engine(({ acme }) => {
      acme.revoked = { at, comment: 'HSM lost' };
      acme.expires = '2030-01-01T00:00:00+01:00';
    });
    const entry = e.policy.trust.issuers[0];
    assert.equal(entry?.revoked?.at.toISOString(), at);
    assert.equal(entry?.revoked?.reason, 'unspecified');
    assert.equal(entry?.expires?.toISOString(), '2029-12-31T23:00:00.000Z');
    assert.equal(e.policy.trust.afterIssuerRevocation, 'keep-earlier');
    assert.equal(e.policy.trust.afterIssuerExpiry, 'keep-earlier');
    assert.deepEqual(e.issuerState(maker.record.id), { revokedAt: new Date(at), revocationReason: 'unspecified', revocationText: 'HSM lost', expiresAt: new Date('2029-12-31T23:00:00Z') });
  });

  it('refuses bad dates, reasons and option values, each at its path', async () => {
    const error = await rejection(
      () =>
        engine(({ acme, trust }) => {
          acme.revoked = { at: '2025-13-01T00:00:00Z', reason: 'lost' };
          acme.expires = 'tomorrow';
          trust.afterIssuerRevocation = 'keep';
        }),
      'CONFIG_INVALID',
    );
    const paths = fileErrors(error).map((e) => e.path);
    for (const p of ['/trust/issuers/0/revoked/at', '/trust/issuers/0/revoked/reason', '/trust/issuers/0/expires', '/trust/afterIssuerRevocation']) {
      assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    }
  });

  it('policy-marked revoked entry: earlier statements per the option, later ones never', async () => {
    const after = new Date(Date.now() - HOUR).toISOString();
    const keep = await engine(({ acme }) => {
      acme.revoked = { at: after, reason: 'compromised' };
    });
    const kept = keep.verdict(cam);
    assert.equal(kept.trusted, true);
    assert.ok(kept.reasons.some((r) => r.code === 'ISSUER_REVOKED' && r.severity === 'info'));

    const drop = await engine(({ acme, trust }) => {
      acme.revoked = { at: after, reason: 'compromised' };
      trust.afterIssuerRevocation = 'drop-all';
    });
    assert.equal(drop.verdict(cam).trusted, false);

    const before = await engine(({ acme }) => {
      acme.revoked = { at: minutesAgo(150).toISOString(), reason: 'superseded' };
    });
    const late = before.verdict(cam);
    assert.equal(late.trusted, false, 'the certification was made after the revocation');
    assert.ok(late.reasons.some((r) => r.code === 'ROLE_MISSING'));
  });

  it("the issuer key's own revocation (0x20, from its key record) counts like the policy's", async () => {
    const revoked = await selfRevoked(maker, minutesAgo(60), openpgp.enums.reasonForRevocation.keyCompromised, 'leaked');
    const keep = await engine(() => {}, revoked);
    assert.equal(keep.issuerState(maker.record.id)?.revocationReason, 'compromised');
    assert.equal(keep.issuerState(maker.record.id)?.revocationText, 'leaked');
    assert.equal(keep.verdict(cam).trusted, true);
    const drop = await engine(({ trust }) => {
      trust.afterIssuerRevocation = 'drop-all';
    }, revoked);
    const v = drop.verdict(cam);
    assert.equal(v.trusted, false);
    assert.ok(v.reasons.some((r) => r.code === 'ISSUER_REVOKED' && r.issuer === maker.record.id));

    const superseded = await selfRevoked(maker, minutesAgo(60), openpgp.enums.reasonForRevocation.keySuperseded);
    const retiredEngine = await engine(({ trust }) => {
      trust.afterIssuerRevocation = 'drop-all';
    }, superseded);
    assert.equal(retiredEngine.verdict(cam).trusted, true, 'superseded keeps earlier statements even under drop-all');
  });

  it('withIssuerRecords: a revocation arriving later makes a new engine; the old one is unchanged', async () => {
    const e = await engine(({ trust }) => {
      trust.afterIssuerRevocation = 'drop-all';
    });
    assert.equal(e.verdict(cam).trusted, true);
    const revoked = await selfRevoked(maker, minutesAgo(60), openpgp.enums.reasonForRevocation.noReason);
    const next = await e.withIssuerRecords([revoked]);
    assert.notEqual(next, e);
    assert.equal(next.verdict(cam).trusted, false);
    assert.equal(e.verdict(cam).trusted, true);
    assert.equal(next.issuerState(maker.record.id)?.revocationReason, 'unspecified');
  });

  it("expiry: the key's own (newest self-signature) and the policy's; the earlier one counts", async () => {
    const { publicKey } = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ name: 'urn:cm4it:org:expiring.example' }],
      keyExpirationTime: 7200,
      date: minutesAgo(180),
      format: 'binary',
    });
    const expiring = (await parseKeyRecord(publicKey)).record;
    assert.equal(keyLifecycle(expiring).expiresAt?.getTime(), expiring.primaryKey.created.getTime() + 7200_000);

    const e = await engine(({ acme }) => {
      acme.expires = minutesAgo(60).toISOString();
    });
    const kept = e.verdict(cam);
    assert.equal(kept.trusted, true);
    assert.ok(kept.reasons.some((r) => r.code === 'ISSUER_EXPIRED' && r.severity === 'info'));
    const drop = await engine(({ acme, trust }) => {
      acme.expires = minutesAgo(60).toISOString();
      trust.afterIssuerExpiry = 'drop-all';
    });
    assert.equal(drop.verdict(cam).trusted, false);
  });

  it('nextIssuerChange: the first revocation or expiry still ahead', async () => {
    const soon = new Date(Date.now() + HOUR);
    const later = new Date(Date.now() + 2 * HOUR);
    const e = await engine(({ acme }) => {
      acme.revoked = { at: later.toISOString() };
      acme.expires = soon.toISOString();
    });
    assert.equal(e.nextIssuerChange(Date.now()), soon.getTime());
    assert.equal(e.nextIssuerChange(soon.getTime()), later.getTime());
    assert.equal(e.nextIssuerChange(later.getTime()), Number.POSITIVE_INFINITY);
  });
});
