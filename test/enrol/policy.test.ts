// The policy's enrol section: validated and typed by the policy layer (defaults, every
// problem with its path), its birth CAs read by enrol/ (files relative to the policy, or
// inline PEM; CA certificates only).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueBirthCertificate, loadBirthCAs } from '../../ics/enrol/index.ts';
import { isIcsError } from '../../ics/errors.ts';
import { parsePolicy, type PolicyFileError } from '../../ics/policy/index.ts';
import { generateIdentity } from '../../ics/record/index.ts';
import { caChain, tempDirs } from './helpers.ts';

const BASE = 'version: 1\ndomains: [{ name: devices, read: public }]\n';

function problems(text: string): PolicyFileError[] {
  try {
    parsePolicy(text, 'node.yaml');
  } catch (error) {
    assert.ok(isIcsError(error, 'CONFIG_INVALID'), String(error));
    return (error.details?.errors ?? []) as PolicyFileError[];
  }
  assert.fail('the policy was accepted');
}

describe('enrol/policy: the enrol section', function () {
  this.timeout(60_000);
  const tmp = tempDirs('ics-enrol-policy-');
  before(() => tmp.make());
  after(() => tmp.clean());

  it('is absent unless written; an empty one has the documented defaults', () => {
    assert.equal(parsePolicy(BASE, 'node.yaml').enrol, undefined);
    const policy = parsePolicy(`${BASE}enrol: {}\n`, 'node.yaml');
    assert.deepEqual(policy.enrol, {
      birthCAs: [],
      requireRoles: [],
      profile: { lifetimeSeconds: 30 * 86_400, renewalWindowSeconds: 10 * 86_400, keyTypes: ['p256', 'ed25519'] },
      approval: 'auto',
      bootstrap: 'none',
      revocation: { crlValiditySeconds: 7 * 86_400, revokeOnRenewal: false },
    });
    assert.ok(Object.isFrozen(policy.enrol?.profile.keyTypes));
  });

  it('reads every setting', () => {
    const policy = parsePolicy(
      `${BASE}enrol:
  birthCAs: [birth-ca.pem]
  requireRoles: [manufacturer, integrator]
  profile: { lifetime: 7d, renewalWindow: 36h, keyTypes: [p256] }
  approval: manual
  bootstrap: record-key
  revocation: { crlValidity: 2d, revokeOnRenewal: true }
`,
      'node.yaml',
    );
    assert.deepEqual(policy.enrol, {
      birthCAs: ['birth-ca.pem'],
      requireRoles: ['manufacturer', 'integrator'],
      profile: { lifetimeSeconds: 7 * 86_400, renewalWindowSeconds: 36 * 3600, keyTypes: ['p256'] },
      approval: 'manual',
      bootstrap: 'record-key',
      revocation: { crlValiditySeconds: 2 * 86_400, revokeOnRenewal: true },
    });
  });

  it('refuses an invalid section at load, naming each path', () => {
    const found = problems(`${BASE}enrol:
  birthCAs: [""]
  requireRoles: [emperor]
  profile: { lifetime: 30 days, renewalWindow: 0d, keyTypes: [rsa], colour: blue }
  approval: sometimes
  bootstrap: anything
  revocation: { crlValidity: soon, revokeOnRenewal: maybe }
  extra: 1
`);
    assert.deepEqual([...new Set(found.map((p) => p.path))].sort(), [
      '/enrol/approval',
      '/enrol/birthCAs/0',
      '/enrol/bootstrap',
      '/enrol/extra',
      '/enrol/profile/colour',
      '/enrol/profile/keyTypes/0',
      '/enrol/profile/lifetime',
      '/enrol/profile/renewalWindow',
      '/enrol/requireRoles/0',
      '/enrol/revocation/crlValidity',
      '/enrol/revocation/revokeOnRenewal',
    ]);
    assert.ok(found.every((p) => p.file === 'node.yaml' && p.line !== undefined));
  });

  it('refuses a renewal window as long as the lifetime', () => {
    const found = problems(`${BASE}enrol: { profile: { lifetime: 10d, renewalWindow: 2w } }\n`);
    assert.deepEqual(
      found.map((p) => p.path),
      ['/enrol/profile/renewalWindow'],
    );
    assert.match(found[0]?.message ?? '', /shorter than the lifetime/);
  });

  it('birth CAs: a file relative to the policy and inline PEM, as certificates', async () => {
    const { root, issuing } = await caChain(tmp.path, 'ed25519');
    await writeFile(join(tmp.path, 'birth-ca.pem'), issuing.chainPem());
    const policy = parsePolicy(`${BASE}enrol:\n  birthCAs:\n    - birth-ca.pem\n    - |\n${root.chainPem().replace(/^/gm, '      ')}`, join(tmp.path, 'policy.yaml'));
    const certificates = await loadBirthCAs(policy);
    assert.deepEqual(
      certificates.map((c) => c.serialNumber),
      [issuing.certificate.serialNumber, root.certificate.serialNumber, root.certificate.serialNumber],
    );
    assert.deepEqual(await loadBirthCAs(parsePolicy(BASE, join(tmp.path, 'policy.yaml'))), []);
  });

  it('birth CAs: every unreadable file, non-certificate and end-entity certificate at once, as CONFIG_INVALID', async () => {
    const { issuing } = await caChain(join(tmp.path, 'bad'), 'p256');
    const device = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:cam-3:SN1' });
    const leaf = await issueBirthCertificate(issuing, device.record);
    await writeFile(join(tmp.path, 'leaf.pem'), leaf.pem);
    await writeFile(join(tmp.path, 'junk.pem'), 'not a certificate');
    const policy = parsePolicy(`${BASE}enrol: { birthCAs: [missing.pem, junk.pem, leaf.pem] }\n`, join(tmp.path, 'policy.yaml'));
    await assert.rejects(loadBirthCAs(policy), (error: unknown) => {
      assert.ok(isIcsError(error, 'CONFIG_INVALID'));
      const errors = error.details?.errors as PolicyFileError[];
      assert.deepEqual(
        errors.map((e) => e.path),
        ['/enrol/birthCAs/0', '/enrol/birthCAs/1', '/enrol/birthCAs/2'],
      );
      assert.match(errors[0]?.message ?? '', /cannot read .*missing\.pem \(ENOENT\)/);
      assert.match(errors[2]?.message ?? '', /is not a CA certificate/);
      return true;
    });
  });
});
