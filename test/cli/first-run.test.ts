// A newcomer's first run: `ics init` keeps out of directories that are not its own, commands
// that edit a data directory refuse while a node serves it, and `ics serve` at a terminal
// says where it serves, whom it trusts and what to do next.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ICS, ics, ok, serve } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

describe('cli: first run', function () {
  this.timeout(120_000);
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-first-run-'));
  });

  after(() => rm(work, { recursive: true, force: true }));

  it('init refuses a non-empty directory that is not a data directory, and writes nothing into it', async () => {
    await mkdir(join(work, 'photos'));
    await writeFile(join(work, 'photos/cat.jpg'), 'not a data directory');
    const run = await ics(['init', '--data', 'photos'], work);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /BAD_REQUEST: .*photos is not empty and is not an ICS data directory/);
    assert.deepEqual(await readdir(join(work, 'photos')), ['cat.jpg']);
    // An empty directory is fine.
    await mkdir(join(work, 'empty'));
    await ok(['init', '--data', 'empty'], work);
  });

  it('trust add and remove go through a running node (applied at once); user add refuses while it serves, changing nothing', async () => {
    await ok(['init', '--data', 'busy', '--role', 'manufacturer'], work);
    await ok(['key', 'generate', '--urn', 'urn:cm4it:org:integrator.example', '--out', 'integrator.secret.asc'], work);
    const configBefore = await readFile(join(work, 'busy/config.yaml'), 'utf8');
    const node = await serve('busy', work);
    try {
      const trust = await ok(['trust', 'add', '--data', 'busy', '--key', 'integrator.asc', '--roles', 'integrator', '--json'], work);
      const entry = JSON.parse(trust.stdout) as { fingerprint: string; roles: string[]; name: string };
      assert.deepEqual(entry.roles, ['integrator']);
      assert.match(await readFile(join(work, 'busy/policy.yaml'), 'utf8'), new RegExp(`fingerprint: ${entry.fingerprint}`));
      assert.ok((await readdir(join(work, 'busy/keys'))).includes(`${entry.fingerprint}.asc`));
      // The running node applied it: its reload is logged and the status lists the issuer.
      await node.process.logged(/policy reloaded/);
      const again = await ics(['trust', 'add', '--data', 'busy', '--key', 'integrator.asc', '--roles', 'integrator'], work);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /already trusted/);
      const user = await ics(['user', 'add', '--data', 'busy', '--name', 'gateway'], work, { env: { ICS_USER_PASSWORD: 'correct horse battery' } });
      assert.equal(user.code, 2);
      assert.match(user.stderr, new RegExp(`UNAVAILABLE: data directory .*busy is in use by a running node \\(pid ${node.addresses.pid}, HKP http://127\\.0\\.0\\.1:\\d+\\)`));
      await ok(['trust', 'remove', entry.fingerprint, '--data', 'busy'], work);
      assert.doesNotMatch(await readFile(join(work, 'busy/policy.yaml'), 'utf8'), new RegExp(entry.fingerprint));
      assert.ok(!(await readdir(join(work, 'busy/keys'))).includes(`${entry.fingerprint}.asc`));
    } finally {
      assert.equal(await node.stop(), 0);
    }
    assert.equal(await readFile(join(work, 'busy/config.yaml'), 'utf8'), configBefore);
    // Once the node has stopped, the same commands work on the directory.
    await ok(['trust', 'add', '--data', 'busy', '--key', 'integrator.asc', '--roles', 'integrator'], work);
    await ok(['user', 'add', '--data', 'busy', '--name', 'gateway'], work, { env: { ICS_USER_PASSWORD: 'correct horse battery' } });
    assert.match(await readFile(join(work, 'busy/policy.yaml'), 'utf8'), /name: integrator/);
  });

  it('serve prints a summary for a person at a terminal, and nothing on stdout otherwise', async function () {
    requireTool('script', 'bsdutils');
    const init = JSON.parse((await ok(['init', '--data', 'fresh', '--name', 'first-node', '--json'], work)).stdout) as { issuerFingerprint: string };
    // Under a pseudo-terminal (util-linux `script`), stdout is a TTY.
    const command = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(ICS)} serve --data fresh --hkp 127.0.0.1:0 --ldap 127.0.0.1:0 --p2p off 2>/dev/null`;
    const atTerminal = serveUntil(['-qec', command, '/dev/null'], 'script', /Stop with Ctrl-C/);
    const text = await atTerminal;
    assert.match(text, /ICS node "first-node" \(role default\) is serving \.\/fresh/);
    assert.match(text, /HKP \/ JSON API {2}http:\/\/127\.0\.0\.1:\d+ {2}\(gpg --keyserver hkp:\/\/127\.0\.0\.1:\d+\)/);
    assert.match(text, /sync \(libp2p\) {3}off/);
    assert.ok(text.includes(`${init.issuerFingerprint}  first-node as owner (this node)`), text);
    assert.match(text, /no other issuer yet/);
    assert.match(text, /ics trust add --data \.\/fresh --key ISSUER\.asc --roles manufacturer/);
    // Piped: machines read the JSON log on stderr; stdout stays empty.
    const piped = await serve('fresh', work);
    const stdout: Buffer[] = [];
    piped.process.child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    await piped.stop();
    assert.equal(Buffer.concat(stdout).toString(), '');
  });

  /** Runs `file args` in `work` until its output matches `ready`, then stops it; resolves with the output. */
  function serveUntil(args: string[], file: string, ready: RegExp): Promise<string> {
    return new Promise((resolve, reject) => {
      let out = '';
      const child = execFile(file, args, { cwd: work }, () => (ready.test(out) ? resolve(out) : reject(new Error(`no summary: ${out}`))));
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        // Stop the node itself (not only `script`), so that it lets go of the data directory.
        if (ready.test(out)) {
          void readFile(join(work, 'fresh/addresses.json'), 'utf8').then((a) => process.kill((JSON.parse(a) as { pid: number }).pid, 'SIGTERM'));
        }
      });
    });
  }
});
