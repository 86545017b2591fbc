// `ics serve` and stop signals: one that comes while the node starts — here the moment its HTTP
// host listens, before it says it is ready — stops it cleanly once it has started (exit 0,
// "stopping" logged), instead of killing it half-way, as SIGTERM did before the handlers were
// installed.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EPHEMERAL, ok, ServeProcess } from '../helpers/cli.ts';

describe('cli: serve and stop signals', function () {
  this.timeout(120_000);
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-serve-signals-'));
    await ok(['init', '--data', 'node'], work);
  });

  after(() => rm(work, { recursive: true, force: true }));

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} while the node starts stops it cleanly once it has started`, async () => {
      const server = new ServeProcess(['--data', 'node', ...EPHEMERAL], work);
      const exited = new Promise<number | null>((resolve) => server.child.once('exit', (exitCode) => resolve(exitCode)));
      let sent = false;
      // Sent from the data handler itself, the moment the line arrives: no polling delay.
      server.child.stderr?.on('data', () => {
        if (!sent && /"msg":"hkp listening"/.test(server.log)) {
          sent = true;
          server.child.kill(signal);
        }
      });
      const code = await exited;
      assert.ok(sent, 'the signal was sent while the node started');
      assert.equal(code, 0, `exit code (null: killed by ${signal}): ${server.log}`);
      assert.match(server.log, new RegExp(`"signal":"${signal}","msg":"stopping"`));
      assert.match(server.log, /"msg":"hkp stopped"/);
    });
  }
});
