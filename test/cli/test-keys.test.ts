// `ics serve` refuses a policy that trusts a key whose secret key is published (the
// repository's test keys), at start and on SIGHUP reload, unless --allow-test-keys is given.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDocument } from 'yaml';
import { EPHEMERAL as SERVE, ics as run, ServeProcess } from '../helpers/cli.ts';

const ACME_KEY = resolve('test/policy/fixtures/keys/acme-manufacturer.asc');
const ACME = 'b98c4e08638efcb2d3ac6540b797f9257df3a186';
const ADVICE = 'its secret key is published; use --allow-test-keys only for tests and demos';
/** Commands with their info log on stderr, which these tests read. */
const ics = (args: string[], cwd: string) => run(args, cwd, { env: { ICS_LOG_LEVEL: 'info' } });

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
  const servers: ServeProcess[] = [];
  const start = (args: string[]) => {
    const server = new ServeProcess(args, work);
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
