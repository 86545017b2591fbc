// `ics user add`: the user's entry in config.yaml, with the groups that policies name in
// `read.groups`.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ics, ok } from '../helpers/cli.ts';

const env = { ICS_USER_PASSWORD: 'correct horse battery' };

describe('cli: user add', function () {
  this.timeout(120_000);
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-users-'));
    await ok(['init', '--data', 'node', '--role', 'manufacturer'], work);
  });
  after(() => rm(work, { recursive: true, force: true }));

  const users = async () => (parse(await readFile(join(work, 'node/config.yaml'), 'utf8')) as { auth: { users: Array<Record<string, unknown>> } }).auth.users;

  it('--group (repeatable) writes the groups into the user entry', async () => {
    const run = await ok(['user', 'add', '--data', 'node', '--name', 'carol', '--group', 'fw-readers', '--group', 'ops', '--group', 'ops'], work, { env });
    assert.match(run.stdout, /added user carol in fw-readers, ops/);
    const carol = (await users()).find((u) => u.name === 'carol');
    assert.deepEqual(carol?.groups, ['fw-readers', 'ops']);
    assert.equal(carol?.write, false);
  });

  it('without --group the entry has no groups', async () => {
    await ok(['user', 'add', '--data', 'node', '--name', 'dave', '--write'], work, { env });
    const dave = (await users()).find((u) => u.name === 'dave');
    assert.equal(dave?.write, true);
    assert.equal('groups' in (dave ?? {}), false);
  });

  it('refuses a group name the configuration does not allow, and changes nothing', async () => {
    const before = await readFile(join(work, 'node/config.yaml'), 'utf8');
    const run = await ics(['user', 'add', '--data', 'node', '--name', 'erin', '--group', 'Bad Group'], work, { env });
    assert.equal(run.code, 2);
    assert.equal(await readFile(join(work, 'node/config.yaml'), 'utf8'), before);
  });
});
