import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { runDemo } from '../../ics/cli/demo.ts';

describe('cli/demo', () => {
  it('walks the lifecycle to the expected verdicts', async () => {
    const sink = new Writable({ write: (_chunk, _enc, done) => done() });
    const verdicts = await runDemo({ json: true, out: sink });
    assert.deepEqual(
      verdicts.map((v) => [v.kind, v.trusted, v.status]),
      [
        ['device', false, 'in-use'],
        ['device', true, 'in-use'],
        ['device', false, 'stolen'],
        ['code', true, 'released'],
        ['code', false, 'deprecated'],
      ],
    );
  });

  it('the ics launcher runs and exits non-zero on an unknown command', async () => {
    const run = promisify(execFile);
    const help = await run(process.execPath, ['bin/ics.js', '--help']);
    assert.match(help.stdout, /demo/);
    await assert.rejects(run(process.execPath, ['bin/ics.js', 'no-such-command']), (e: { code?: number }) => e.code !== 0);
  });
});
