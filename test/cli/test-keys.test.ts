// `ics serve` refuses a policy that trusts a key whose secret key is published (the
// repository's test keys), at start and on SIGHUP reload, unless --allow-test-keys is given.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';

const ICS = fileURLToPath(new URL('../../bin/ics.js', import.meta.url));
const ACME_KEY = resolve('test/policy/fixtures/keys/acme-manufacturer.asc');
const ACME = 'b98c4e08638efcb2d3ac6540b797f9257df3a186';
const ADVICE = 'its secret key is published; use --allow-test-keys only for tests and demos';
const SERVE = ['--hkp', '127.0.0.1:0', '--ldap', '127.0.0.1:0', '--p2p', 'off'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ics(args: string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [ICS, ...args], { cwd, env: { ...process.env, ICS_LOG_LEVEL: 'info' } }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A running `ics serve`, with its stderr (JSON log lines) collected. */
class Server {
  readonly child: ChildProcess;
  log = '';
  exitCode: number | null | undefined;
  private readonly exited: Promise<number | null>;

  constructor(args: string[], cwd: string) {
    this.child = spawn(process.execPath, [ICS, 'serve', ...args], {
      cwd,
      env: { ...process.env, ICS_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.log += chunk.toString();
    });
    this.exited = new Promise((done) =>
      this.child.once('exit', (code) => {
        this.exitCode = code;
        done(code);
      }),
    );
  }

  /** Waits (within the test's timeout) until a log line has `msg` matching `pattern`. */
  async logged(pattern: RegExp): Promise<Record<string, unknown>> {
    for (;;) {
      const line = this.log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => pattern.test(String(l.msg)));
      if (line) return line;
      if (this.exitCode !== undefined) throw new Error(`ics serve exited (${this.exitCode}) before logging ${pattern}: ${this.log}`);
      await sleep(50);
    }
  }

  async stop(): Promise<number | null> {
    if (this.exitCode === undefined) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Trusts the ACME test key by editing policy.yaml, as an operator does before a SIGHUP (`ics trust add` waits for the node to stop). */
async function trustAcmeInPlace(dataDir: string): Promise<void> {
  await copyFile(ACME_KEY, join(dataDir, 'keys/acme.asc'));
  const file = join(dataDir, 'policy.yaml');
  const doc = parseDocument(await readFile(file, 'utf8'));
  doc.addIn(['trust', 'issuers'], doc.createNode({ name: 'acme', fingerprint: ACME, roles: ['manufacturer'], key: 'keys/acme.asc' }));
  await writeFile(file, doc.toString());
}

describe('cli: serve refuses published test keys', function () {
  this.timeout(120_000);
  let work: string;
  const servers: Server[] = [];
  const start = (args: string[]) => {
    const server = new Server(args, work);
    servers.push(server);
    return server;
  };

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-cli-test-keys-'));
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await rm(work, { recursive: true, force: true });
  });

  it('trust add of a test key works, but serve then exits 2 naming it; --allow-test-keys starts with a warning', async () => {
    assert.equal((await ics(['init', '--data', 'data', '--role', 'manufacturer'], work)).code, 0);
    // Operators may trust a test key (tests, demos): the command itself does not refuse.
    const added = await ics(['trust', 'add', '--data', 'data', '--key', ACME_KEY, '--roles', 'manufacturer', '--name', 'acme'], work);
    assert.equal(added.code, 0, added.stderr);

    const refused = await ics(['serve', '--data', 'data', ...SERVE], work);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^ics: CONFIG_INVALID: policy trusts a key anyone can sign with:/);
    assert.ok(refused.stderr.includes(`/trust/issuers/1: issuer "acme" ${ACME}`), refused.stderr);
    assert.ok(refused.stderr.includes(ADVICE), refused.stderr);
    await assert.rejects(stat(join(work, 'data/addresses.json')), { code: 'ENOENT' }, 'it never listened');

    const server = start(['--data', 'data', ...SERVE, '--allow-test-keys']);
    const warning = await server.logged(/published test keys/);
    assert.equal(warning.level, 40);
    assert.deepEqual((warning.testKeys as Array<{ fingerprint: string }>).map((k) => k.fingerprint), [ACME]);
    await server.logged(/^ics node ready$/);
    const addresses = JSON.parse(await readFile(join(work, 'data/addresses.json'), 'utf8')) as { pid: number };
    assert.equal(addresses.pid, server.child.pid);
    assert.equal(await server.stop(), 0);
  });

  it('SIGHUP reload of a policy that now trusts a test key is refused; the node keeps its old policy and runs on', async () => {
    // `serve --init` as `npm start` does: a fresh node trusts only itself, so it starts.
    const server = start(['--data', 'data', '--init', 'default', ...SERVE]);
    await server.logged(/^ics node ready$/);
    // The HKP listener's URL, e.g. http://127.0.0.1:PORT.
    const { hkp } = JSON.parse(await readFile(join(work, 'data/addresses.json'), 'utf8')) as { hkp: string };
    await trustAcmeInPlace(join(work, 'data'));

    // Twice: a second SIGHUP must not kill the node either.
    for (let i = 0; i < 2; i++) {
      const before = server.log.length;
      server.child.kill('SIGHUP');
      for (;;) {
        if (server.log.slice(before).includes('policy reload failed')) break;
        assert.equal(server.exitCode, undefined, server.log);
        await sleep(50);
      }
    }
    const failure = await server.logged(/policy reload failed; keeping the old policy/);
    assert.equal(failure.level, 50);
    const err = failure.err as { message: string; code: string };
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.ok(err.message.includes(ACME) && err.message.includes(ADVICE), err.message);
    assert.ok(!/policy reloaded/.test(server.log), 'the refused policy never became the node’s');
    const stats = await fetch(new URL('/pks/lookup?op=stats&options=mr', hkp));
    assert.equal(stats.status, 200, 'still serving');
    assert.equal(await server.stop(), 0);
  });

  it('with --allow-test-keys, a SIGHUP reload takes the test key with a warning', async () => {
    const server = start(['--data', 'data', '--init', 'default', ...SERVE, '--allow-test-keys']);
    await server.logged(/^ics node ready$/);
    assert.ok(!/published test keys/.test(server.log), 'nothing to warn about yet');
    await trustAcmeInPlace(join(work, 'data'));
    server.child.kill('SIGHUP');
    await server.logged(/^policy reloaded$/);
    const warning = await server.logged(/published test keys/);
    assert.deepEqual((warning.testKeys as Array<{ fingerprint: string }>).map((k) => k.fingerprint), [ACME]);
    assert.equal(await server.stop(), 0);
  });
});
