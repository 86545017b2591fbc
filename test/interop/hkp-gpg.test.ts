// Stock GnuPG 2.2 as an HKP client of a node on an ephemeral loopback port: --send-keys,
// --recv-keys by fingerprint and by long key id, --search-keys (machine-readable index),
// --refresh-keys, and the integrator's flow — receive the device, --sign-key with
// --cert-notation role@cm4it.org=integrator, send it back — after which the node's verdict
// counts the countersignature; a signature by an issuer the policy does not trust is
// neither stored nor served. GnuPG ≥ 2.2.17 drops third-party signatures received from a
// keyserver unless told `no-self-sigs-only,no-import-clean`, as integrators and gateways
// must be (README). Skipped only when gpg is not installed.
import assert from 'node:assert/strict';
import { armor, certify, generateIdentity, type KeyRecord, parseKeyRecord, reviveRecord } from '../../ics/record/index.ts';
import { GnuPG, requireGpg, signatureRecords } from '../helpers/gpg.ts';
import { publicEngine, startNode, type TestNode } from '../hkp/helpers.ts';
import { minutesAgo, policyFixture } from '../policy/helpers.ts';

const KEYSERVER_OPTIONS = ['--keyserver-options', 'no-self-sigs-only,no-import-clean'];
const keyId = (fingerprint: string) => fingerprint.slice(-16);

describe('interop/hkp-gpg (GnuPG 2.2 against the HKP server)', function () {
  this.timeout(120_000);

  let node: TestNode;
  let device: KeyRecord;
  let integratorFpr: string;
  let strangerFpr: string;
  const homes: GnuPG[] = [];
  /** A GnuPG home pointed at the node. */
  const home = async () => {
    const gpg = await GnuPG.create(['--keyserver', `hkp://127.0.0.1:${node.port}`, ...KEYSERVER_OPTIONS]);
    homes.push(gpg);
    return gpg;
  };
  let integrator: GnuPG;
  let stranger: GnuPG;
  const stored = async () => (await reviveRecord((await node.store.get(device.id))?.bytes as Uint8Array)) as KeyRecord;

  before(async function () {
    requireGpg({ keyserver: true });
    const f = await policyFixture();
    // The integrator's key is made by gpg, as an integrator would; the node's policy trusts it.
    const keys = await GnuPG.create();
    homes.push(keys);
    integratorFpr = await keys.generateKey('urn:cm4it:org:integrator.example', 'ed25519');
    strangerFpr = await keys.generateKey('urn:cm4it:org:stranger.example', 'ed25519');
    const integratorRecord = (await parseKeyRecord(await keys.export(integratorFpr))).record;
    node = await startNode({ engine: await publicEngine(f, [integratorRecord]), init: { metrics: 'public' } });
    integrator = await home();
    stranger = await home();
    const secret = async (fpr: string) => (await keys.run(['--export-secret-keys', fpr.toUpperCase()])).stdout;
    await integrator.import(await secret(integratorFpr));
    await stranger.import(await secret(strangerFpr));
    const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:cam-3:SN424242', created: minutesAgo(24 * 60) });
    device = await certify(record, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use', metadata: { model: 'cam-3' } }, { created: minutesAgo(60) });
  });

  after(async () => {
    for (const gpg of homes) await gpg.dispose();
    await node?.close();
  });

  it('gpg --send-keys: the node stores the key with its manufacturer certification', async () => {
    const sender = await home();
    await sender.import(armor('publicKey', device.bytes));
    await sender.run(['--send-keys', device.id.toUpperCase()]);
    assert.equal((await node.store.get(device.id))?.digest, device.digest);
    const [event] = await node.store.history(device.id);
    assert.equal(event?.source, 'hkp');
  });

  it('gpg --recv-keys by fingerprint and by long key id, third-party certification included', async () => {
    for (const spec of [device.id.toUpperCase(), `0x${keyId(device.id).toUpperCase()}`]) {
      const gpg = await home();
      const { stderr } = await gpg.run(['--recv-keys', spec]);
      assert.match(stderr, /imported: 1/, spec);
      const sigs = signatureRecords(await gpg.colons(['--list-sigs', device.id.toUpperCase()]));
      assert.deepEqual(
        sigs.map((s) => s.keyId),
        [keyId(device.id), keyId(node.f.manufacturer.record.id)],
        spec,
      );
    }
  });

  it('gpg --recv-keys of an unknown key fails cleanly (404)', async () => {
    const gpg = await home();
    await assert.rejects(gpg.run(['--recv-keys', 'AB'.repeat(20)]), /No data|not found/i);
  });

  it('gpg --search-keys reads the machine-readable index (by URN and by a word)', async () => {
    for (const pattern of ['urn:cm4it:device:acme.example:cam-3:SN424242', 'SN424242']) {
      const gpg = await home();
      const out = await gpg.text(['--with-colons', '--search-keys', pattern]);
      assert.match(out, new RegExp(`^pub:${device.id.toUpperCase()}:22:256:`, 'm'), pattern);
      assert.match(out, /^uid:urn%3Acm4it%3Adevice%3Aacme\.example%3Acam-3%3ASN424242:/m, pattern);
    }
  });

  it('gpg --refresh-keys fetches a newer status statement', async () => {
    const gpg = await home();
    await gpg.run(['--recv-keys', device.id.toUpperCase()]);
    const f = node.f;
    const inactive = await certify(device, f.manufacturer.privateKey, { role: 'manufacturer', status: 'inactive' }, { created: minutesAgo(10) });
    await node.ingest.submit(inactive.bytes, { source: 'cli' });
    await gpg.run(['--refresh-keys']);
    const sigs = signatureRecords(await gpg.colons(['--list-sigs', device.id.toUpperCase()]));
    assert.equal(sigs.filter((s) => s.keyId === keyId(f.manufacturer.record.id)).length, 2);
    // Back to in-use for the tests that follow.
    const inUse = await certify(inactive, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: minutesAgo(5) });
    await node.ingest.submit(inUse.bytes, { source: 'cli' });
  });

  it('the integrator flow: --recv-keys, --sign-key with --cert-notation, --send-keys; the verdict counts it', async () => {
    const before = node.engine.verdict(await stored());
    assert.ok(!before.roles.some((r) => r.role === 'integrator'));
    await integrator.run(['--recv-keys', device.id.toUpperCase()]);
    await integrator.run([
      '--yes',
      '--local-user',
      integratorFpr.toUpperCase(),
      '--cert-notation',
      'role@cm4it.org=integrator',
      '--sign-key',
      device.id.toUpperCase(),
    ]);
    await integrator.run(['--send-keys', device.id.toUpperCase()]);
    const res = await node.fetch(`/ics/v1/verify/${device.id}`);
    assert.equal(res.status, 200);
    const verdict = (await res.json()) as { trusted: boolean; status: string; roles: Array<{ role: string; issuer: string; issuerName: string | null }> };
    assert.deepEqual(
      verdict.roles.map((r) => [r.role, r.issuer]).sort(),
      [
        ['integrator', integratorFpr],
        ['manufacturer', node.f.manufacturer.record.id],
      ].sort(),
    );
    assert.equal(verdict.status, 'in-use');
    assert.equal(verdict.trusted, true);
    // And a gateway receiving the key from the node gets the countersignature too.
    const gateway = await home();
    await gateway.run(['--recv-keys', device.id.toUpperCase()]);
    const sigs = signatureRecords(await gateway.colons(['--list-sigs', device.id.toUpperCase()]));
    assert.ok(sigs.some((s) => s.keyId === keyId(integratorFpr)));
  });

  it('a certification by an issuer the policy does not trust is neither stored nor served', async () => {
    const digest = (await node.store.get(device.id))?.digest;
    await stranger.run(['--recv-keys', device.id.toUpperCase()]);
    await stranger.run([
      '--yes',
      '--local-user',
      strangerFpr.toUpperCase(),
      '--cert-notation',
      'role@cm4it.org=integrator',
      '--sign-key',
      device.id.toUpperCase(),
    ]);
    const local = signatureRecords(await stranger.colons(['--list-sigs', device.id.toUpperCase()]));
    assert.ok(local.some((s) => s.keyId === keyId(strangerFpr)), 'gpg made the certification');
    await stranger.run(['--send-keys', device.id.toUpperCase()]);
    assert.equal((await node.store.get(device.id))?.digest, digest, 'the stored record did not change');
    const kept = await stored();
    assert.ok(!kept.userIds.some((u) => u.signatures.some((s) => s.issuer === strangerFpr)));
    const fresh = await home();
    await fresh.run(['--recv-keys', device.id.toUpperCase()]);
    const served = signatureRecords(await fresh.colons(['--list-sigs', device.id.toUpperCase()]));
    assert.ok(!served.some((s) => s.keyId === keyId(strangerFpr)));
    const metrics = await (await node.fetch('/metrics')).text();
    assert.match(metrics, /^ics_hkp_signatures_dropped_total\{reason="UNKNOWN_ISSUER"\} [1-9]/m);
  });
});
