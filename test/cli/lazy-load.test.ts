// `ics --version` and `ics --help` load the command definitions only: not the node, the store
// or the front ends, which cost seconds of CPU on every command. import-trace.mjs records
// every module the command loads.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as options from '../../ics/cli/options.ts';
import { KEY_ALGORITHMS } from '../../ics/enrol/index.ts';
import { NODE_ROLES } from '../../ics/node/offline.ts';
import { ICS } from '../helpers/cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOOKS = fileURLToPath(new URL('./import-trace.mjs', import.meta.url));

/** Of ours, the definitions may load the cli folder, the error table and the record types (which import nothing). */
const OURS_ALLOWED = /^ics\/(cli\/[^/]+|errors|record\/types)\.ts$/;
/** Libraries of the node's layers and of the record model: none is needed to print help. */
const HEAVY_LIBRARIES = /^node_modules\/(libp2p|@libp2p|@chainsafe|fastify|ldapjs|@peculiar|classic-level|openpgp|pino|ajv)\//;

/** Runs `ics ARGS` under the hooks; its exit code, stdout and the project files it loaded. */
async function traced(args: string[], dir: string): Promise<{ code: number; stdout: string; loaded: string[] }> {
  const file = join(dir, `${args.join('_')}.trace`);
  const run = await new Promise<{ code: number; stdout: string }>((done) => {
    execFile(process.execPath, ['--import', HOOKS, ICS, ...args], { env: { ...process.env, IMPORT_TRACE_FILE: file } }, (error, stdout) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
  const urls = (await readFile(file, 'utf8')).split('\n').filter((u) => u.startsWith('file:'));
  return { ...run, loaded: [...new Set(urls.map((u) => relative(ROOT, fileURLToPath(u))))] };
}

describe('cli: lazy loading', function () {
  this.timeout(60_000);
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-lazy-load-'));
  });

  after(() => rm(work, { recursive: true, force: true }));

  it('--version and --help load no node, store or front-end code', async () => {
    const runs = await Promise.all([traced(['--version'], work), traced(['--help'], work)]);
    const [version, help] = runs;
    assert.equal(version?.code, 0);
    assert.match(version?.stdout ?? '', /^\d+\.\d+\.\d+\n$/);
    assert.equal(help?.code, 0);
    assert.match(help?.stdout ?? '', /^Usage: ics /);
    for (const run of runs) {
      // Not vacuous: the trace sees the command's own modules.
      assert.ok(run.loaded.includes('ics/cli/main.ts'), `trace holds ics/cli/main.ts: ${run.loaded.slice(0, 5).join(', ')}`);
      const ours = run.loaded.filter((p) => p.startsWith('ics/') && !OURS_ALLOWED.test(p));
      const libraries = run.loaded.filter((p) => HEAVY_LIBRARIES.test(p));
      assert.deepEqual([...ours, ...libraries], []);
    }
  });

  it('the value lists in help texts are those of node/ and enrol/', () => {
    assert.deepEqual(options.NODE_ROLES, NODE_ROLES);
    assert.deepEqual(options.CA_KEY_ALGORITHMS, KEY_ALGORITHMS);
  });
});
