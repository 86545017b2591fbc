import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadIssuerKeys, loadPolicy, openPolicy, type PolicyEngine, trustGaps } from '../../ics/policy/index.ts';
import {
  certify,
  codeStatement,
  generateIdentity,
  type KeyRecord,
  parseKeyRecord,
  readPrivateKey,
  signCode,
} from '../../ics/record/index.ts';
import { type Example, EXAMPLE_TRUST, EXAMPLES, exampleFingerprint, exampleKeyFile, examplePolicyEngine, POLICIES } from './example-policies.ts';
import { fileErrors, minutesAgo, rejection } from './helpers.ts';

const privateKey = async (name: string) => readPrivateKey(await readFile(`test/policy/fixtures/keys/${name}.secret.asc`, 'utf8'));

// The shipped files trust no issuer; each test engine is a copy with the example test
// issuers added (example-policies.ts), so these tests show what the examples do with them.
describe('policies/ (examples)', () => {
  const engines = new Map<Example, PolicyEngine>();

  before(async () => {
    for (const name of EXAMPLES) engines.set(name, await examplePolicyEngine(name));
  });

  const engine = (name: Example) => engines.get(name) as PolicyEngine;

  it('every shipped policy loads as it is, trusting no issuer, and nothing else is under policies/', async () => {
    assert.deepEqual((await readdir(POLICIES)).sort(), EXAMPLES.map((n) => `${n}.yaml`).sort());
    for (const name of EXAMPLES) {
      const shipped = await openPolicy(join(POLICIES, `${name}.yaml`));
      assert.deepEqual(shipped.policy.trust.issuers, [], name);
      assert.deepEqual(shipped.syncPeers(), [], `${name}: the mesh script fills in sync peers`);
    }
  });

  it('a shipped policy reports the roles its domains lack until issuers are added', async () => {
    const gaps = (name: Example) => trustGaps(engine(name).policy);
    const shipped = async (name: Example) => trustGaps((await openPolicy(join(POLICIES, `${name}.yaml`))).policy);
    assert.deepEqual(
      (await shipped('maintenance')).map((g) => [g.domain, g.role, g.path]),
      [
        ['devices', 'manufacturer', '/domains/0/select/signedBy/role'],
        ['system', 'integrator', '/domains/1/select/signedBy/role'],
        ['firmware', 'developer', '/domains/2/select/signedBy/role'],
      ],
    );
    assert.deepEqual(await shipped('default'), [], 'the public keyserver needs no issuer');
    for (const name of EXAMPLES) assert.deepEqual(gaps(name), [], `${name} with the test issuers`);
  });

  it('with the test issuers, every example loads with a key for every issuer', async () => {
    for (const name of EXAMPLES) {
      assert.deepEqual(engine(name).missingIssuerKeys(), [], name);
      assert.equal(engine(name).issuerRing().size, EXAMPLE_TRUST[name].length, name);
      assert.deepEqual(engine(name).policy.trust.issuers.map((i) => i.name), EXAMPLE_TRUST[name], name);
    }
  });

  it('domains shared between nodes have equal definitions (sync would report a mismatch)', () => {
    const digests = new Map<string, Set<string>>();
    for (const name of EXAMPLES) {
      for (const domain of engine(name).domainNames()) {
        const set = digests.get(domain) ?? new Set();
        set.add(engine(name).domainDigest(domain));
        digests.set(domain, set);
      }
    }
    for (const [domain, set] of digests) assert.equal(set.size, 1, domain);
    assert.deepEqual(engine('maintenance').domainNames(), ['devices', 'system', 'firmware']);
  });

  it('a device travels: registered by the manufacturer, countersigned into the system, checked in the field', async () => {
    const acme = await privateKey('acme-manufacturer');
    const integrator = await privateKey('integrator');
    const { record: bare } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:cam-3:SN777', created: minutesAgo(100) });
    const registered = await certify(bare, acme, { role: 'manufacturer', status: 'in-use' }, { created: minutesAgo(90) });
    const atFactory = engine('manufacturer').admit(registered);
    assert.deepEqual(atFactory.domains, ['devices']);
    assert.equal(engine('manufacturer').verdict(atFactory.record).trusted, true);
    await rejection(() => engine('infield').admit(registered), 'POLICY_REJECTED');

    const countersigned = await certify(registered, integrator, { role: 'integrator' }, { created: minutesAgo(80) });
    // The manufacturer does not trust the integrator: its countersignature is dropped there.
    assert.deepEqual(engine('manufacturer').admit(countersigned).dropped.map((d) => d.reason), ['ISSUER_NOT_ALLOWED']);
    const inSystem = engine('maintenance').admit(countersigned);
    assert.deepEqual(inSystem.domains, ['devices', 'system']);
    assert.deepEqual(inSystem.dropped, []);
    assert.equal(engine('maintenance').verdict(inSystem.record).trusted, true);
    const inField = engine('infield').admit(inSystem.record);
    assert.deepEqual(inField.domains, ['system']);
    assert.equal(engine('infield').verdict(inField.record).trusted, true);
  });

  it('firmware: released by the developer, stored by developer, maintenance and infield', async () => {
    const developer = await privateKey('firmware-developer');
    const statement = codeStatement('acme-cam-fw', '3.2.1', { sha256: 'cd'.repeat(32) });
    const code = await signCode(statement, developer, { role: 'developer', status: 'released' }, { created: minutesAgo(60) });
    for (const name of ['developer', 'maintenance', 'infield'] as const) {
      assert.deepEqual(engine(name).admit(code).domains, ['firmware'], name);
      assert.equal(engine(name).verdict(code).trusted, true, name);
    }
    await rejection(() => engine('manufacturer').admit(code), 'POLICY_REJECTED');
  });

  it('default: any key with a valid self-signature, certifications only from trusted issuers', async () => {
    const stranger = await generateIdentity({ userId: 'urn:cm4it:org:stranger.example' });
    const acme = await privateKey('acme-manufacturer');
    const { record: alice } = await generateIdentity({ userId: 'Alice <alice@example.org>', created: minutesAgo(100) });
    let record: KeyRecord = await certify(alice, stranger.privateKey, { role: 'owner' }, { created: minutesAgo(90) });
    record = await certify(record, acme, { role: 'manufacturer' }, { created: minutesAgo(80) });
    const admitted = engine('default').admit(record);
    assert.deepEqual(admitted.domains, ['public-keys']);
    assert.deepEqual(admitted.dropped.map((d) => [d.reason, d.issuer]), [['ISSUER_NOT_ALLOWED', stranger.record.id]]);
    assert.deepEqual(engine('default').admit(alice).domains, ['public-keys']);
    // A key as a keyserver receives it, parsed with the policy's issuer ring: the stranger's
    // certification never reaches the policy, it is dropped unverified.
    const { dropped } = await parseKeyRecord(record.bytes, { issuers: engine('default').issuerRing() });
    assert.deepEqual(dropped.map((d) => d.reason), ['UNKNOWN_ISSUER']);
  });

  it('loadIssuerKeys refuses a missing key file and a key that is not the named one, at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ics-policy-keys-'));
    try {
      await copyFile(exampleKeyFile('integrator'), join(dir, 'acme.asc'));
      const fingerprint = await exampleFingerprint('acme-manufacturer');
      await writeFile(
        join(dir, 'p.yaml'),
        `version: 1
trust:
  issuers:
    - { name: acme-manufacturer, fingerprint: ${fingerprint}, roles: [manufacturer], key: acme.asc }
    - { name: gone, fingerprint: "${'0'.repeat(40)}", roles: [owner], key: keys/gone.asc }
domains: [{ name: all, read: public }]
`,
      );
      const policy = await loadPolicy(join(dir, 'p.yaml'));
      const error = await rejection(() => loadIssuerKeys(policy), 'CONFIG_INVALID');
      assert.deepEqual(fileErrors(error).map((e) => e.path), ['/trust/issuers/0/key', '/trust/issuers/1/key']);
      await rejection(() => openPolicy(join(dir, 'p.yaml')), 'CONFIG_INVALID');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
