// What `ics backup` and `ics restore` do (definitions in node-commands.ts). A backup of a
// running node comes from its admin API (a snapshot while it serves); of a stopped one, from
// the data directory itself. Either way the file is written beside its name, read through and
// checked against its manifest, and only then takes its name.
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { IcsError } from '../errors.ts';
import { type BackupManifest, restoreBackup, snapshotOf, verifyBackup, writeBackup } from '../node/backup.ts';
import { servingAdmin } from './admin-client.ts';
import { print, withNode } from './context.ts';
import type { GlobalOptions } from './options.ts';

export type BackupFlags = GlobalOptions & { out: string; includePassphrase?: boolean };

function summary(manifest: BackupManifest, file: string) {
  return {
    file,
    createdAt: manifest.createdAt,
    node: manifest.node,
    storeEntries: manifest.store.entries,
    storeBytes: manifest.store.bytes,
    files: manifest.files.map((f) => f.path),
    passphraseIncluded: manifest.passphraseIncluded,
  };
}

export async function backupCommand(flags: BackupFlags): Promise<void> {
  if (await stat(flags.out).then(() => true, () => false)) throw new IcsError('BAD_REQUEST', `${flags.out} exists: name a new file`);
  const partial = `${flags.out}.partial`;
  await rm(partial, { force: true });
  let from: string;
  try {
    const admin = await servingAdmin(flags.data);
    if (admin) {
      from = `the running node at ${admin.url}`;
      await admin.download(`/ics/v1/admin/backup?passphrase=${flags.includePassphrase ? 'include' : 'leave-out'}`, partial);
    } else {
      from = 'the data directory';
      await withNode(flags, (node) => writeBackup(node.dataDir, node.config, snapshotOf(node.store), createWriteStream(partial, { flags: 'wx', mode: 0o600 }), { includePassphrase: flags.includePassphrase === true }));
    }
    const manifest = await verifyBackup(partial);
    await rename(partial, flags.out);
    const shown = summary(manifest, flags.out);
    print(flags, shown, () =>
      [
        `backup of ${shown.node.name} (${shown.node.role}) from ${from}: ${flags.out}`,
        `  store: ${shown.storeEntries} entries, ${shown.storeBytes} bytes; files: ${shown.files.join(', ')}`,
        shown.passphraseIncluded ? '  the issuer key passphrase is in it: keep the file as you keep the key' : '  the issuer key passphrase is not in it: keep it apart (ICS_PASSPHRASE or keys/issuer.passphrase after restore)',
        '  checked: every file and the store match the manifest',
      ].join('\n'),
    );
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

export async function restoreCommand(file: string, flags: GlobalOptions): Promise<void> {
  const result = await restoreBackup(file, flags.data);
  const shown = { ...summary(result.manifest, file), restoredTo: result.root };
  print(flags, shown, () =>
    [
      `restored ${shown.node.name} (${shown.node.role}), backed up ${shown.createdAt}, into ${shown.restoredTo}`,
      `  store: ${result.storeEntries} entries; files: ${shown.files.join(', ')}`,
      ...(shown.passphraseIncluded ? [] : ['  the backup held no passphrase file: give the issuer key passphrase as ICS_PASSPHRASE, or write it to keys/issuer.passphrase (mode 0600)']),
    ].join('\n'),
  );
}
