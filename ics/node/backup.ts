// Backups of a data directory (`ics backup`, `ics restore`; GET /ics/v1/admin/backup): one
// gzip'd tar that `tar tzf` lists —
//   ics-backup.json  the manifest: formats, node, every file's size and SHA-256, the store's
//   files/…          the directory's files (config, policy, keys as they are at rest, CA, logs)
//   store.kv         every key and value of the store as of one moment (LevelStore.snapshot):
//                    [u32 key length][key][u32 value length][value]…, big-endian
// The store part is read from a LevelDB snapshot, so a running node keeps serving and writing
// while it is taken and the copy is consistent. Left out: the store's own files (store.kv
// holds them), what a running node writes for itself (addresses.json, admin.token), and the
// issuer key's passphrase file unless asked for — a backup that holds it would open the
// encrypted keys beside it. Keys in a PKCS#11 token stay in the token (back it up by its means).
//
// Restore writes into a new or empty directory only, checks every file and the store against
// the manifest, and on any failure removes what it wrote.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { extract, pack } from 'tar-stream';
import { IcsError } from '../errors.ts';
import type { RecordStore } from '../store/index.ts';
import { LevelStore, loadSnapshot } from '../store/level/index.ts';
import { loadConfig, type NodeConfig } from './config.ts';
import { DATA_FORMAT, FORMAT_FILE } from './data-format.ts';
import type { DataDir } from './datadir.ts';

/** Format of the backup file itself. */
export const BACKUP_FORMAT = 1;
const MANIFEST = 'ics-backup.json';
const STORE_ENTRY = 'store.kv';
const FILES = 'files/';
/** Files a running node writes for itself, never restored. */
const RUNTIME_FILES = new Set(['addresses.json', 'admin.token']);
/** The manifest is read whole: this bounds what a damaged or hostile file can make restore hold. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** A data directory file (not the store) larger than this is not one ics wrote. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export interface BackupFile {
  /** Path inside the data directory, `/`-separated. */
  readonly path: string;
  readonly mode: number;
  readonly bytes: number;
  readonly sha256: string;
}

export interface BackupManifest {
  readonly backupFormat: number;
  readonly dataFormat: number;
  readonly createdAt: string;
  readonly node: { readonly name: string; readonly role: string };
  readonly store: { readonly backend: string; readonly entries: number; readonly bytes: number; readonly sha256: string };
  readonly files: readonly BackupFile[];
  readonly passphraseIncluded: boolean;
}

/** What a backup reads the store from: LevelStore.snapshot, or nothing for the memory store. */
export type StoreSnapshot = () => AsyncIterable<Array<[Buffer, Buffer]>>;

/** The store's snapshot reader: LevelDB's; none for the memory store, which keeps nothing across restarts. */
export function snapshotOf(store: RecordStore): StoreSnapshot | undefined {
  return store instanceof LevelStore ? () => store.snapshot() : undefined;
}

export interface BackupOptions {
  /** Put the issuer key's passphrase file in too (default: left out). */
  readonly includePassphrase?: boolean;
  readonly now?: Date;
}

function passphrasePath(dir: DataDir, config: NodeConfig): string | undefined {
  const file = config.issuer.passphraseFile;
  return file ? toPosix(relative(dir.root, dir.resolve(file))) : undefined;
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

/** The store directory inside the data directory (left out of files/), if it is inside. */
function storeDirOf(dir: DataDir, config: NodeConfig): string | undefined {
  if (config.store.backend !== 'level') return undefined;
  const path = toPosix(relative(dir.root, dir.resolve(config.store.level.path)));
  return path.startsWith('..') || path === '' ? undefined : path;
}

/** Regular files of the data directory that a backup holds, sorted. */
async function filesToSave(dir: DataDir, config: NodeConfig, includePassphrase: boolean): Promise<Array<{ path: string; mode: number; size: number }>> {
  const skip = new Set(RUNTIME_FILES);
  const storeDir = storeDirOf(dir, config);
  const passphrase = passphrasePath(dir, config);
  if (passphrase && !includePassphrase) skip.add(passphrase);
  const out: Array<{ path: string; mode: number; size: number }> = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of (await readdir(join(dir.root, at), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = at === '' ? entry.name : `${at}/${entry.name}`;
      if (path === storeDir || skip.has(path) || entry.name.startsWith('.backup-') || entry.name.endsWith('.new')) continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const s = await stat(join(dir.root, path));
        out.push({ path, mode: s.mode & 0o777, size: s.size });
      }
      // Sockets, pipes and symbolic links are the running node's or the operator's, not data.
    }
  };
  await walk('');
  return out;
}

/** Writes the store's snapshot as store.kv frames to `path`; its entries, bytes and SHA-256. */
async function spoolStore(snapshot: StoreSnapshot | undefined, path: string): Promise<{ entries: number; bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const file = await open(path, 'wx', 0o600);
  let entries = 0;
  let bytes = 0;
  try {
    if (snapshot) {
      for await (const batch of snapshot()) {
        const chunks: Buffer[] = [];
        for (const [key, value] of batch) {
          const head = Buffer.allocUnsafe(4);
          head.writeUInt32BE(key.length);
          const mid = Buffer.allocUnsafe(4);
          mid.writeUInt32BE(value.length);
          chunks.push(head, key, mid, value);
        }
        const block = Buffer.concat(chunks);
        hash.update(block);
        await file.write(block);
        bytes += block.length;
        entries += batch.length;
      }
    }
    await file.sync();
  } finally {
    await file.close();
  }
  return { entries, bytes, sha256: hash.digest('hex') };
}

/**
 * Writes a backup of the data directory, its store read from `snapshot`, to `out` (gzip'd
 * tar). The store is spooled to a file in the data directory first (a tar entry states its
 * size before its bytes), removed afterwards. Returns the manifest.
 */
export async function writeBackup(dir: DataDir, config: NodeConfig, snapshot: StoreSnapshot | undefined, out: Writable, options: BackupOptions = {}): Promise<BackupManifest> {
  // The records live in the database, shared with other nodes: a backup of this directory would
  // look complete and hold none of them. PostgreSQL's own tools save the database consistently.
  if (config.store.backend === 'postgres') {
    throw new IcsError('NOT_IMPLEMENTED', 'the store is in PostgreSQL: back up the database with pg_dump (docs/postgres.md), and this data directory (keys, config, policy) with your file backups', {
      details: { backend: 'postgres' },
    });
  }
  const spool = join(dir.root, `.backup-${randomBytes(6).toString('hex')}.kv`);
  try {
    const store = await spoolStore(snapshot, spool);
    const files: BackupFile[] = [];
    const contents: Buffer[] = [];
    for (const f of await filesToSave(dir, config, options.includePassphrase === true)) {
      const body = await readFile(join(dir.root, f.path));
      files.push({ path: f.path, mode: f.mode, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
      contents.push(body);
    }
    const manifest: BackupManifest = {
      backupFormat: BACKUP_FORMAT,
      dataFormat: DATA_FORMAT,
      createdAt: (options.now ?? new Date()).toISOString(),
      node: { name: config.name, role: config.role },
      store: { backend: config.store.backend, ...store },
      files,
      passphraseIncluded: options.includePassphrase === true && passphrasePath(dir, config) !== undefined && files.some((f) => f.path === passphrasePath(dir, config)),
    };
    const tar = pack();
    const written = pipeline(tar, createGzip(), out);
    const mtime = new Date(manifest.createdAt);
    tar.entry({ name: MANIFEST, mode: 0o600, mtime }, `${JSON.stringify(manifest, null, 2)}\n`);
    files.forEach((f, i) => tar.entry({ name: `${FILES}${f.path}`, mode: f.mode, mtime }, contents[i] as Buffer));
    const sink = tar.entry({ name: STORE_ENTRY, size: store.bytes, mode: 0o600, mtime });
    await pipeline(createReadStream(spool), sink);
    tar.finalize();
    await written;
    return manifest;
  } finally {
    await rm(spool, { force: true });
  }
}

// ---- restore --------------------------------------------------------------------------------

function badBackup(message: string, cause?: unknown): IcsError {
  return new IcsError('BAD_REQUEST', `not a usable ics backup: ${message}`, { ...(cause !== undefined && { cause }) });
}

/** A file path of the manifest, checked: relative, plain names, nothing that climbs out. */
function checkedPath(path: unknown): string {
  if (typeof path !== 'string' || path.length > 1024 || !path.split('/').every((part) => NAME.test(part) && part !== '.' && part !== '..')) {
    throw badBackup(`file path ${JSON.stringify(path)} is not a plain relative path`);
  }
  return path;
}

function checkManifest(value: unknown): BackupManifest {
  const m = value as Partial<BackupManifest>;
  if (typeof m !== 'object' || m === null) throw badBackup('the manifest is not an object');
  if (m.backupFormat !== BACKUP_FORMAT) throw badBackup(`backup format ${String(m.backupFormat)} (this version reads ${BACKUP_FORMAT})`);
  if (!Number.isInteger(m.dataFormat)) throw badBackup('no data directory format');
  if ((m.dataFormat as number) > DATA_FORMAT) {
    throw new IcsError('UNAVAILABLE', `the backup is of data directory format ${m.dataFormat}, written by a newer ics; this version reads format ${DATA_FORMAT} and older: restore it with a newer ics`);
  }
  const store = m.store;
  if (!store || !Number.isInteger(store.entries) || !Number.isInteger(store.bytes) || typeof store.sha256 !== 'string' || typeof store.backend !== 'string') throw badBackup('no store summary');
  if (!Array.isArray(m.files)) throw badBackup('no file list');
  const seen = new Set<string>();
  for (const f of m.files) {
    checkedPath(f.path);
    if (seen.has(f.path)) throw badBackup(`file ${f.path} listed twice`);
    seen.add(f.path);
    if (!Number.isInteger(f.bytes) || f.bytes < 0 || f.bytes > MAX_FILE_BYTES || typeof f.sha256 !== 'string' || !Number.isInteger(f.mode)) throw badBackup(`file ${f.path}: bad size, mode or digest`);
  }
  if (!seen.has('config.yaml')) throw badBackup('it holds no config.yaml');
  return m as BackupManifest;
}

async function readWhole(stream: AsyncIterable<unknown>, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += (chunk as Buffer).length;
    if (length > limit) throw badBackup(`${what} is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** store.kv frames → batches of entries, hashing and counting as it reads. */
async function* frames(stream: AsyncIterable<unknown>, tally: { entries: number; bytes: number; hash: ReturnType<typeof createHash> }): AsyncGenerator<Array<[Buffer, Buffer]>> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of stream) {
    tally.hash.update(chunk as Buffer);
    tally.bytes += (chunk as Buffer).length;
    pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
    const batch: Array<[Buffer, Buffer]> = [];
    let at = 0;
    for (;;) {
      if (pending.length - at < 4) break;
      const keyLength = pending.readUInt32BE(at);
      if (pending.length - at < 8 + keyLength) break;
      const valueLength = pending.readUInt32BE(at + 4 + keyLength);
      const end = at + 8 + keyLength + valueLength;
      if (pending.length < end) break;
      batch.push([Buffer.from(pending.subarray(at + 4, at + 4 + keyLength)), Buffer.from(pending.subarray(at + 8 + keyLength, end))]);
      at = end;
    }
    pending = pending.subarray(at);
    tally.entries += batch.length;
    if (batch.length > 0) yield batch;
  }
  if (pending.length > 0) throw badBackup('store.kv ends inside an entry');
}

/** What reading a backup does with what it checked: restore writes it, verify only reads. */
interface BackupSink {
  file(path: string, body: Buffer, mode: number): Promise<void>;
  /** The store's entries, once every file is in; must read `batches` to the end. */
  store(batches: AsyncIterable<Array<[Buffer, Buffer]>>): Promise<void>;
}

/**
 * Reads a backup through, checking the manifest first, then every file and the store against
 * it, handing each to `sink`. Returns the manifest and the store's entry count.
 */
async function readBackup(file: string, sink: BackupSink): Promise<{ manifest: BackupManifest; storeEntries: number }> {
  await stat(file).catch((cause: unknown) => {
    throw new IcsError('NOT_FOUND', `no backup file ${file}`, { cause });
  });
  const tar = extract();
  const reading = pipeline(createReadStream(file), createGunzip(), tar).catch((cause: unknown) => {
    throw badBackup('the file is not a gzip tar, or it is cut short', cause);
  });
  // Awaited at the end; a failure surfaces first in the entry loop below.
  reading.catch(() => undefined);
  let manifest: BackupManifest | undefined;
  const seen = new Set<string>();
  let storeEntries: number | undefined;
  try {
    for await (const entry of tar) {
      const name = entry.header.name;
      if (name === MANIFEST) {
        if (manifest) throw badBackup('two manifests');
        const text = await readWhole(entry, MAX_MANIFEST_BYTES, 'the manifest');
        try {
          manifest = checkManifest(JSON.parse(text.toString('utf8')));
        } catch (error) {
          throw error instanceof IcsError ? error : badBackup('the manifest is not JSON', error);
        }
      } else if (!manifest) {
        throw badBackup(`${name} comes before the manifest`);
      } else if (name.startsWith(FILES)) {
        const path = checkedPath(name.slice(FILES.length));
        const listed = manifest.files.find((f) => f.path === path);
        if (!listed || seen.has(path)) throw badBackup(`${path} is not in the manifest, or comes twice`);
        const body = await readWhole(entry, MAX_FILE_BYTES, path);
        if (body.length !== listed.bytes || createHash('sha256').update(body).digest('hex') !== listed.sha256) throw badBackup(`${path} does not match its SHA-256 in the manifest`);
        await sink.file(path, body, listed.mode);
        seen.add(path);
      } else if (name === STORE_ENTRY && storeEntries === undefined) {
        const missing = manifest.files.filter((f) => !seen.has(f.path));
        if (missing.length > 0) throw badBackup(`files missing before the store: ${missing.map((f) => f.path).join(', ')}`);
        const tally = { entries: 0, bytes: 0, hash: createHash('sha256') };
        await sink.store(frames(entry, tally));
        if (tally.entries !== manifest.store.entries || tally.bytes !== manifest.store.bytes || tally.hash.digest('hex') !== manifest.store.sha256) {
          throw badBackup('store.kv does not match its entries, size or SHA-256 in the manifest');
        }
        storeEntries = tally.entries;
      } else {
        throw badBackup(`unexpected entry ${name}`);
      }
    }
    await reading;
  } catch (error) {
    tar.destroy();
    await reading.catch(() => undefined);
    throw error instanceof IcsError ? error : badBackup('the file is not a gzip tar, or it is cut short', error);
  }
  if (!manifest) throw badBackup('no manifest');
  if (storeEntries === undefined) throw badBackup('no store.kv');
  return { manifest, storeEntries };
}

/** Reads a backup through and checks it whole (what `ics backup` does before it keeps a file); its manifest. */
export async function verifyBackup(file: string): Promise<BackupManifest> {
  const drain = async (batches: AsyncIterable<unknown>) => {
    for await (const _ of batches);
  };
  return (await readBackup(file, { file: async () => undefined, store: drain })).manifest;
}

export interface RestoreResult {
  readonly manifest: BackupManifest;
  readonly root: string;
  readonly storeEntries: number;
}

/** Restores `file` into `root`, which must not exist or be empty; on failure removes what it wrote. */
export async function restoreBackup(file: string, rootGiven: string): Promise<RestoreResult> {
  const root = resolve(rootGiven);
  const existed = await lstat(root).then(
    (s) => {
      if (!s.isDirectory()) throw new IcsError('BAD_REQUEST', `${root} exists and is not a directory`);
      return true;
    },
    () => false,
  );
  if (existed && (await readdir(root)).length > 0) throw new IcsError('BAD_REQUEST', `${root} is not empty: restore into a new or empty directory`);
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  let outsideStore: string | undefined;
  try {
    const { manifest, storeEntries } = await readBackup(file, {
      async file(path, body, listedMode) {
        const target = join(root, ...path.split('/'));
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        // Keys stay owner-only; nothing restored is made more open than it was.
        const mode = listedMode & 0o644;
        await writeFile(target, body, { mode, flag: 'wx' });
        await chmod(target, mode);
      },
      async store(batches) {
        const config = await loadConfig(join(root, 'config.yaml'));
        if (config.store.backend !== 'level') {
          // A node on the memory store keeps nothing across restarts: its backup holds no entries.
          for await (const batch of batches) if (batch.length > 0) throw badBackup(`the store backend is ${config.store.backend} but the backup holds store entries`);
          return;
        }
        const path = resolve(root, config.store.level.path);
        if (relative(root, path).startsWith('..')) {
          if ((await readdir(path).catch(() => [] as string[])).length > 0) throw new IcsError('BAD_REQUEST', `the store path ${path} (config.yaml) is outside ${root} and not empty`);
          outsideStore = path;
        }
        await loadSnapshot(path, batches);
      },
    });
    if (!manifest.files.some((f) => f.path === FORMAT_FILE)) await writeFile(join(root, FORMAT_FILE), `${JSON.stringify({ format: manifest.dataFormat })}\n`);
    return { manifest, root, storeEntries };
  } catch (error) {
    // Nothing half-restored stays behind.
    if (outsideStore) await rm(outsideStore, { recursive: true, force: true });
    if (existed) for (const entry of await readdir(root)) await rm(join(root, entry), { recursive: true, force: true });
    else await rm(root, { recursive: true, force: true });
    throw error;
  }
}
