// `ics backup` and `ics restore` as an operator runs them: of a stopped node from its data
// directory, of a running one through its admin API while it takes writes; the restored
// directory holds the same store (every key and value) and files, keys stay owner-only, the
// passphrase stays out unless asked for, and a restored node serves. Damaged, hostile or
// newer backups are refused with nothing left behind. And the data directory's format
// version: an unversioned directory is migrated, a newer one refused before anything opens.
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { extract, pack } from 'tar-stream';
import { isIcsError } from '../../ics/errors.ts';
import { restoreBackup, verifyBackup } from '../../ics/node/backup.ts';
import { DATA_FORMAT } from '../../ics/node/data-format.ts';
import { openNode } from '../../ics/node/offline.ts';
import { LevelStore } from '../../ics/store/level/index.ts';
import { ics, ok, serve } from '../helpers/cli.ts';

/** Every key and value of the store in a data directory, hex, in key order. */
async function storeEntries(dataDir: string): Promise<string[]> {
  const store = await LevelStore.open({ path: join(dataDir, 'db') });
  try {
    const out: string[] = [];
    for await (const batch of store.snapshot()) for (const [key, value] of batch) out.push(`${key.toString('hex')}=${value.toString('hex')}`);
    return out;
  } finally {
    await store.close();
  }
}

/** The backup's tar entries, each as its header and bytes. */
async function entriesOf(file: string): Promise<Array<{ name: string; mode: number; body: Buffer }>> {
  const out: Array<{ name: string; mode: number; body: Buffer }> = [];
  const tar = extract();
  const done = pipeline(createReadStream(file), createGunzip(), tar);
  for await (const entry of tar) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    out.push({ name: entry.header.name, mode: entry.header.mode ?? 0, body: Buffer.concat(chunks) });
  }
  await done;
  return out;
}

function flip(bytes: Buffer, at: number): void {
  bytes.writeUInt8(bytes.readUInt8(at) ^ 1, at);
}

/** A backup file made of `entries` (to build damaged and hostile ones from a good one). */
async function writeEntries(file: string, entries: Array<{ name: string; mode: number; body: Buffer }>): Promise<void> {
  const tar = pack();
  const written = pipeline(tar, createGzip(), createWriteStream(file));
  for (const e of entries) tar.entry({ name: e.name, mode: e.mode }, e.body);
  tar.finalize();
  await written;
}

describe('backup and restore of a data directory', function () {
  this.timeout(180_000);
  let work: string;
  let offline: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ics-backup-'));
    await ok(['init', '--data', 'node', '--role', 'manufacturer', '--name', 'acme-maker'], work);
    for (const n of [1, 2, 3]) await ok(['device', 'register', '--data', 'node', '--urn', `urn:cm4it:device:acme.example:cam-1:SN${n}`, '--key-out', `dev${n}.secret.asc`], work);
    await ok(['status', 'set', '--data', 'node', 'urn:cm4it:device:acme.example:cam-1:SN2', 'stolen'], work);
    offline = join(work, 'offline.tar.gz');
    await ok(['backup', '--data', 'node', '--out', offline], work);
  });

  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('a stopped node: the file is owner-only, holds store and files, and leaves the passphrase out', async () => {
    assert.equal((await stat(offline)).mode & 0o777, 0o600);
    const names = (await entriesOf(offline)).map((e) => e.name);
    assert.equal(names[0], 'ics-backup.json', 'the manifest comes first');
    for (const name of ['files/config.yaml', 'files/policy.yaml', 'files/format.json', 'files/keys/issuer.asc', 'files/keys/issuer.secret.asc', 'store.kv']) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    assert.ok(!names.includes('files/keys/issuer.passphrase'), 'the passphrase file stays out by default');
    assert.ok(!names.some((n) => n.startsWith('files/db/')), 'the store is in store.kv, not as LevelDB files');
    const manifest = await verifyBackup(offline);
    assert.equal(manifest.node.name, 'acme-maker');
    assert.equal(manifest.dataFormat, DATA_FORMAT);
    assert.equal(manifest.passphraseIncluded, false);
  });

  it('restores the same store and files; keys stay owner-only; the restored node reads its records', async () => {
    await ok(['restore', offline, '--data', 'restored'], work);
    assert.deepEqual(await storeEntries(join(work, 'restored')), await storeEntries(join(work, 'node')), 'every key and value, indexes and logs included');
    for (const file of ['config.yaml', 'policy.yaml', 'keys/issuer.asc', 'keys/issuer.secret.asc']) {
      assert.deepEqual(await readFile(join(work, 'restored', file)), await readFile(join(work, 'node', file)), file);
    }
    assert.equal((await stat(join(work, 'restored/keys/issuer.secret.asc'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(work, 'restored'))).mode & 0o777, 0o700);
    const shown = await ics(['verify', '--data', 'restored', 'urn:cm4it:device:acme.example:cam-1:SN2'], work);
    assert.match(shown.stdout, /NOT TRUSTED[\s\S]*stolen/);
  });

  it('a running node: a snapshot through the admin API while writes go on; the restored node serves', async () => {
    const node = await serve('node', work);
    try {
      const writes = (async () => {
        for (let n = 10; n < 14; n++) await ok(['device', 'register', '--data', 'node', '--urn', `urn:cm4it:device:acme.example:cam-1:SN${n}`, '--key-out', `dev${n}.secret.asc`], work);
      })();
      const taken = JSON.parse((await ok(['backup', '--data', 'node', '--out', 'online.tar.gz', '--include-passphrase', '--json'], work)).stdout) as { storeEntries: number; passphraseIncluded: boolean };
      await writes;
      assert.equal(taken.passphraseIncluded, true);
      assert.ok(node.process.log.includes('admin: backup taken'), 'the node logs who took a backup');
      assert.ok(!(await readdir(join(work, 'node'))).some((f) => f.startsWith('.backup-')), 'the spool file is removed');
    } finally {
      await node.stop();
    }
    await ok(['restore', 'online.tar.gz', '--data', 'online'], work);
    // Consistent: every record the copy lists is there whole, with its history.
    const restored = await openNode(join(work, 'online'), { logLevel: 'silent' });
    try {
      const ids = await restored.store.listDomain('devices', { limit: 100 });
      assert.ok(ids.length >= 3, `${ids.length} devices`);
      for (const id of ids) {
        assert.ok(await restored.store.get(id), id);
        assert.ok((await restored.store.history(id)).length > 0, `history of ${id}`);
      }
    } finally {
      await restored.close();
    }
    const again = await serve('online', work);
    try {
      const response = await fetch(`${again.addresses.hkp}/pks/lookup?op=index&options=mr&search=cam-1`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /SN1/);
    } finally {
      await again.stop();
    }
  });

  it('refuses to restore into a non-empty directory, or to write over a file', async () => {
    await mkdir(join(work, 'busy'));
    await writeFile(join(work, 'busy/notes.txt'), 'mine');
    const refused = await ics(['restore', offline, '--data', 'busy'], work);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /BAD_REQUEST.*not empty/);
    assert.deepEqual(await readdir(join(work, 'busy')), ['notes.txt']);
    const over = await ics(['backup', '--data', 'node', '--out', offline], work);
    assert.match(over.stderr, /exists/);
  });

  describe('damaged, hostile and newer backups are refused and leave nothing', () => {
    const refuse = async (name: string, change: (entries: Array<{ name: string; mode: number; body: Buffer }>) => void, code: string, message: RegExp) => {
      const entries = await entriesOf(offline);
      change(entries);
      const file = join(work, `${name}.tar.gz`);
      await writeEntries(file, entries);
      const target = join(work, `bad-${name}`);
      await assert.rejects(restoreBackup(file, target), (error: unknown) => isIcsError(error, code as never) && message.test((error as Error).message));
      await assert.rejects(stat(target), 'nothing is left behind');
    };

    it('a changed store entry', () =>
      refuse(
        'store',
        (entries) => {
          const store = entries.find((e) => e.name === 'store.kv') as { body: Buffer };
          flip(store.body, store.body.length - 1);
        },
        'BAD_REQUEST',
        /store\.kv does not match/,
      ));

    it('a changed key file', () =>
      refuse(
        'file',
        (entries) => {
          flip((entries.find((e) => e.name === 'files/keys/issuer.asc') as { body: Buffer }).body, 10);
        },
        'BAD_REQUEST',
        /issuer\.asc does not match/,
      ));

    it('a path that climbs out of the directory', () =>
      refuse(
        'climb',
        (entries) => {
          const manifest = entries[0] as { body: Buffer };
          const m = JSON.parse(manifest.body.toString()) as { files: Array<{ path: string }> };
          (m.files[0] as { path: string }).path = '../escaped.yaml';
          manifest.body = Buffer.from(JSON.stringify(m));
        },
        'BAD_REQUEST',
        /not a plain relative path/,
      ).then(async () => assert.rejects(stat(join(work, 'escaped.yaml')))));

    it('a backup of a newer data directory format', () =>
      refuse(
        'newer',
        (entries) => {
          const manifest = entries[0] as { body: Buffer };
          manifest.body = Buffer.from(JSON.stringify({ ...JSON.parse(manifest.body.toString()), dataFormat: DATA_FORMAT + 1 }));
        },
        'UNAVAILABLE',
        /newer ics/,
      ));

    it('a file cut short', async () => {
      const whole = await readFile(offline);
      const file = join(work, 'cut.tar.gz');
      await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
      await assert.rejects(restoreBackup(file, join(work, 'bad-cut')), (error: unknown) => isIcsError(error, 'BAD_REQUEST'));
      await assert.rejects(stat(join(work, 'bad-cut')));
    });
  });

  describe('the data directory format', () => {
    it('a directory from before formats were versioned is migrated on open', async () => {
      await ok(['restore', offline, '--data', 'old'], work);
      await rm(join(work, 'old/format.json'));
      await ok(['show', '--data', 'old', 'urn:cm4it:device:acme.example:cam-1:SN1'], work);
      assert.deepEqual(JSON.parse(await readFile(join(work, 'old/format.json'), 'utf8')), { format: DATA_FORMAT });
    });

    it('a directory a newer version wrote is refused before anything opens', async () => {
      await ok(['restore', offline, '--data', 'newer'], work);
      await writeFile(join(work, 'newer/format.json'), JSON.stringify({ format: DATA_FORMAT + 1 }));
      const refused = await ics(['serve', '--data', 'newer', '--hkp', '127.0.0.1:0', '--ldap', 'off', '--p2p', 'off'], work);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /format 2, written by a newer ics/);
      assert.deepEqual(JSON.parse(await readFile(join(work, 'newer/format.json'), 'utf8')), { format: DATA_FORMAT + 1 }, 'left as it was');
    });
  });
});
