// The four-role mesh of deploy/ on loopback: four real nodes (LevelDB, HKP, LDAP, libp2p
// sync) run as `ics serve` processes on ephemeral ports, trust example issuers generated
// for this mesh alone, and the whole lifecycle of the demonstration holds — with mosquitto
// beside infield admitting the enrolled device and dropping it once it is reported stolen.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as openpgp from 'openpgp';
import { parse } from 'yaml';
import { isIcsError } from '../../ics/errors.ts';
import { readPrivateKey } from '../../ics/record/index.ts';
import { lifecycle } from '../../deploy/demo.ts';
import { requireTool } from '../helpers/tools.ts';
import { EXAMPLE_ISSUERS, exampleIssuerKey, initMesh, ISSUERS_DIR, type Mesh, type MeshNode, ROLES, type RunningMesh, startMesh } from '../../deploy/mesh.ts';

/** Keys whose secret keys the repository publishes (test fixtures): never to be trusted by the mesh. */
async function publishedFingerprints(): Promise<Set<string>> {
  const dir = fileURLToPath(new URL('../policy/fixtures/keys/', import.meta.url));
  const found = new Set<string>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.asc'))) {
    found.add((await openpgp.readKey({ armoredKey: await readFile(join(dir, file), 'utf8') })).getFingerprint());
  }
  return found;
}

interface PolicyFile {
  trust: { issuers: Array<{ name: string; fingerprint: string }> };
  sync: { peers: Array<{ name: string; peerId: string; addresses: string[] }> };
}

const policyOf = async (mesh: Mesh, role: (typeof ROLES)[number]) => parse(await readFile(join(mesh.nodes[role].dir, 'policy.yaml'), 'utf8')) as PolicyFile;

describe('deploy: the four-role mesh', function () {
  this.timeout(180_000);
  let dir: string;
  let mesh: Mesh;
  let running: RunningMesh | undefined;

  before(async () => {
    // The broker beside infield is part of the lifecycle: never skipped silently here.
    requireTool('/usr/sbin/mosquitto', 'mosquitto');
    requireTool('mosquitto_sub', 'mosquitto-clients');
    dir = await mkdtemp(join(tmpdir(), 'ics-mesh-test-'));
    mesh = await initMesh(dir); // no base port: every listener binds port 0
    assert.ok(mesh.broker, 'initMesh sets up the MQTT broker beside infield when mosquitto is installed');
  });

  after(async () => {
    await running?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('generates its example issuers: secret keys 0600 and passphrase-protected, trusted by every node, none published', async () => {
    const published = await publishedFingerprints();
    assert.ok(published.size >= EXAMPLE_ISSUERS.length, 'the published fixture keys are found');
    assert.equal((await stat(join(dir, ISSUERS_DIR))).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, ISSUERS_DIR, 'passphrase'))).mode & 0o777, 0o600);
    for (const issuer of EXAMPLE_ISSUERS) {
      const secretFile = join(dir, ISSUERS_DIR, `${issuer.name}.secret.asc`);
      assert.equal((await stat(secretFile)).mode & 0o777, 0o600, secretFile);
      await assert.rejects(readPrivateKey(await readFile(secretFile, 'utf8')), (e: unknown) => isIcsError(e, 'KEY_UNUSABLE'), 'encrypted');
      const key = await exampleIssuerKey(dir, issuer.name);
      assert.equal(key.getFingerprint(), mesh.issuers[issuer.name]);
      assert.equal(key.getUserIDs()[0], issuer.userId);
      assert.ok(!published.has(mesh.issuers[issuer.name]), `${issuer.name} is not a published key`);
    }
    for (const role of ROLES) {
      const trusted = (await policyOf(mesh, role)).trust.issuers;
      for (const issuer of EXAMPLE_ISSUERS) assert.ok(trusted.some((t) => t.name === issuer.name && t.fingerprint === mesh.issuers[issuer.name]), `${role} trusts ${issuer.name}`);
      for (const t of trusted) assert.ok(!published.has(t.fingerprint), `${role} trusts published key ${t.fingerprint}`);
    }
    assert.equal((await stat(join(dir, 'operator.password'))).mode & 0o777, 0o600);
    // Before the nodes run no port is known: peers are named by id only.
    for (const role of ROLES) for (const peer of (await policyOf(mesh, role)).sync.peers) assert.deepEqual(peer.addresses, []);
  });

  it('binds port 0, wires the bound addresses into the peers, and the whole lifecycle holds', async () => {
    running = await startMesh(mesh, { logLevel: 'warn' });
    for (const role of ROLES) {
      const node = running.mesh.nodes[role];
      for (const address of [node.hkp, node.ldap]) assert.match(address, /^127\.0\.0\.1:[1-9]\d*$/);
      assert.match(node.p2p, /^\/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*$/);
      assert.equal(mesh.nodes[role].hkp, '127.0.0.1:0', 'the stored layout keeps port 0 for the next start');
    }
    for (const role of ROLES) {
      for (const peer of (await policyOf(mesh, role)).sync.peers) {
        const other: MeshNode = running.mesh.nodes[peer.name as (typeof ROLES)[number]];
        assert.deepEqual(peer.addresses, [`${other.p2p}/p2p/${other.peerId}`], `${role} → ${peer.name}`);
      }
    }
    const password = (await readFile(join(dir, 'operator.password'), 'utf8')).trim();
    await lifecycle(running.mesh, password);
  });
});
