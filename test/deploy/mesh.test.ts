// The four-role mesh of deploy/ on loopback: four real nodes (LevelDB, HKP, LDAP, libp2p
// sync) run as `ics serve` processes, and the whole lifecycle of the demonstration holds.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lifecycle } from '../../deploy/demo.ts';
import { initMesh, type RunningMesh, startMesh } from '../../deploy/mesh.ts';

describe('deploy: the four-role mesh', function () {
  this.timeout(180_000);
  let dir: string;
  let running: RunningMesh | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ics-mesh-test-'));
  });

  after(async () => {
    await running?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers, syncs, countersigns, reports stolen, publishes and deprecates firmware across four nodes', async () => {
    // A base port per run keeps parallel runs on one machine apart.
    const basePort = 20000 + (process.pid % 400) * 100;
    const mesh = await initMesh(dir, basePort);
    assert.equal((await stat(join(dir, 'operator.password'))).mode & 0o777, 0o600);
    running = await startMesh(mesh, { logLevel: 'warn' });
    const password = (await readFile(join(dir, 'operator.password'), 'utf8')).trim();
    await lifecycle(mesh, password);
  });
});
