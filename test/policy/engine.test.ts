import assert from 'node:assert/strict';
import { PolicyEngine, parsePolicy, policyFromObject } from '../../ics/policy/index.ts';
import { DEFAULT_LIMITS, parseKeyRecord } from '../../ics/record/index.ts';
import { acmeDeviceId, device, type PolicyFixture, policyFixture, policyObject, testPolicyDraft } from './helpers.ts';

describe('policy/engine', () => {
  let f: PolicyFixture;

  before(async () => {
    f = await policyFixture();
  });

  it('rings only the trusted issuers’ keys and reports trusted issuers without a key', async () => {
    const policy = policyFromObject(policyObject(testPolicyDraft(f)), 'p.yaml');
    // The integrator's key is not given; the stranger's is, but the policy does not trust it.
    const engine = await PolicyEngine.create(policy, [f.manufacturer.record, f.certifier.record, f.developer.record, f.stranger.record]);
    assert.equal(engine.issuerRing().size, 3);
    assert.equal(engine.issuerRing().has(f.stranger.record.id), false);
    assert.deepEqual(engine.missingIssuerKeys().map((e) => e.name), ['integrator']);
    // Signatures by an issuer without a key cannot be verified, so parsing drops them.
    const record = await device(acmeDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    const { dropped } = await parseKeyRecord(record.bytes, { issuers: engine.issuerRing() });
    assert.deepEqual(dropped.map((d) => [d.reason, d.issuer]), [['UNKNOWN_ISSUER', f.integrator.record.id]]);
  });

  it('names issuers by their policy label', async () => {
    const engine = await PolicyEngine.create(policyFromObject(policyObject(testPolicyDraft(f)), 'p.yaml'));
    assert.equal(engine.issuerName(f.manufacturer.record.id), 'acme');
    assert.equal(engine.issuerName(f.stranger.record.id), undefined);
    assert.deepEqual(engine.domainNames(), ['devices', 'system', 'firmware']);
    assert.equal(engine.domain('system')?.accept.requireRoles[0], 'integrator');
  });

  it('gives the strictest limits of a set of domains, the parser’s own for none', async () => {
    const draft = testPolicyDraft(f);
    draft.devices.limits = { maxRecordBytes: 4096, maxSignaturesPerSigner: 8 };
    draft.system.limits = { maxSignaturesPerSigner: 4 };
    const engine = await PolicyEngine.create(policyFromObject(policyObject(draft), 'p.yaml'));
    assert.deepEqual(engine.limitsFor(['devices', 'system']), { maxRecordBytes: 4096, maxSignaturesPerSigner: 4 });
    assert.deepEqual(engine.limitsFor([]), {
      maxRecordBytes: DEFAULT_LIMITS.maxRecordBytes,
      maxSignaturesPerSigner: DEFAULT_LIMITS.maxSignaturesPerSigner,
    });
  });

  it('accepts a file with a byte-order mark and a $schema property', () => {
    const text = '\uFEFF{"$schema": "../schemas/policy.schema.json", "version": 1, "domains": [{"name": "all", "read": "public"}]}';
    assert.equal(parsePolicy(text, 'p.json').domains[0]?.name, 'all');
  });
});
