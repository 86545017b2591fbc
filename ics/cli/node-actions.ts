// What `ics init`, `ics key`, `ics user add` and `ics trust add` do (their definitions are in
// node-commands.ts): the data directory, its config and policy, and key files. Opens the
// data directory only, never the node's front ends.
import { chmod, copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { hashPassword } from '../auth/index.ts';
import { IcsError } from '../errors.ts';
import { checkConfig, DataDir, initDataDir, type NodeConfig, type NodeRole, withDataDirHeld } from '../node/offline.ts';
import { openPolicy } from '../policy/index.ts';
import { armor, armorPrivateKey, generateIdentity, type KeyRecord, parseKeyRecord, privateKeyPkcs8, readPrivateKey } from '../record/index.ts';
import { print } from './context.ts';
import type { GlobalOptions } from './options.ts';

export interface InitFlags extends GlobalOptions {
  role: string;
  name?: string;
  org?: string;
  passphraseFile?: string;
}

export async function init(flags: InitFlags) {
  const passphrase = flags.passphraseFile ? (await readFile(flags.passphraseFile, 'utf8')).trim() : process.env.ICS_PASSPHRASE;
  return initDataDir(flags.data, { role: flags.role as NodeRole, name: flags.name, org: flags.org, passphrase: passphrase || undefined });
}

export async function initCommand(flags: InitFlags): Promise<void> {
  const result = await init(flags);
  print(flags, result, () =>
    [
      `initialised ${result.root} (role ${flags.role})`,
      `  node issuer ${result.issuerFingerprint} ${result.issuerUserId} as ${result.issuerRoles.join(', ')}`,
      result.passphraseFile
        ? `  issuer key passphrase generated in ${result.passphraseFile} (mode 0600): move it to your secret store and set ICS_PASSPHRASE`
        : '  issuer key protected with the given passphrase',
      `  policy: ${new DataDir(result.root).resolve('policy.yaml')}`,
    ].join('\n'),
  );
}

export interface KeyGenerateFlags {
  urn: string;
  out: string;
  algorithm: string;
  json?: boolean;
}

export async function keyGenerate(flags: KeyGenerateFlags): Promise<void> {
  if (flags.algorithm !== 'ed25519' && flags.algorithm !== 'p256') throw new IcsError('BAD_REQUEST', '--algorithm is ed25519 or p256');
  const identity = await generateIdentity({ userId: flags.urn, algorithm: flags.algorithm });
  const publicFile = `${flags.out.replace(/(\.secret)?\.asc$/, '')}.asc`;
  if (publicFile === flags.out) throw new IcsError('BAD_REQUEST', '--out must end in .secret.asc');
  await writeFile(flags.out, await armorPrivateKey(identity.privateKey, process.env.ICS_KEY_PASSPHRASE), { mode: 0o600, flag: 'wx' });
  await writeFile(publicFile, armor('publicKey', identity.record.bytes), { flag: 'wx' });
  const result = { fingerprint: identity.record.id, userId: flags.urn, privateKey: flags.out, publicKey: publicFile };
  print(flags, result, () => `generated ${result.fingerprint} ${flags.urn}\n  private key ${flags.out} (mode 0600), public key ${publicFile}`);
}

export interface KeyPkcs8Flags {
  key: string;
  out: string;
  passphraseFile?: string;
  json?: boolean;
}

export async function keyPkcs8(flags: KeyPkcs8Flags): Promise<void> {
  const armored = await readFile(flags.key, 'utf8').catch((cause: unknown) => {
    throw new IcsError('KEY_UNUSABLE', `cannot read ${flags.key}`, { cause });
  });
  const passphrase = flags.passphraseFile ? (await readFile(flags.passphraseFile, 'utf8')).trim() : process.env.ICS_KEY_PASSPHRASE;
  const privateKey = await readPrivateKey(armored, passphrase);
  const pem = privateKeyPkcs8(privateKey);
  await writeFile(flags.out, pem, { mode: 0o600, flag: 'wx' }).catch((cause: NodeJS.ErrnoException) => {
    throw new IcsError('BAD_REQUEST', `cannot write ${flags.out} (${cause.code ?? 'error'}): it is never overwritten`, { cause });
  });
  await chmod(flags.out, 0o600);
  const result = { fingerprint: privateKey.getFingerprint(), privateKey: flags.out };
  print(flags, result, () => `wrote the private key of ${result.fingerprint} to ${flags.out} (PKCS#8 PEM, mode 0600)`);
}

/** Adds a user with its password hash to config.yaml (mode 0600 from then on: it holds hashes). */
async function addUser(dir: DataDir, name: string, password: string, write: boolean, groups: readonly string[]): Promise<void> {
  const doc = parseDocument(await readFile(dir.configFile, 'utf8'));
  const users = (doc.getIn(['auth', 'users']) as { toJSON(): Array<{ name: string }> } | undefined)?.toJSON() ?? [];
  if (users.some((u) => u.name === name)) throw new IcsError('BAD_REQUEST', `user ${name} exists`);
  const entry = { name, passwordHash: await hashPassword(password), write, ...(groups.length > 0 && { groups: [...new Set(groups)] }) };
  if (doc.hasIn(['auth', 'users'])) doc.addIn(['auth', 'users'], doc.createNode(entry));
  else doc.setIn(['auth', 'users'], doc.createNode([entry]));
  checkConfig(doc.toJSON(), dir.configFile);
  await writeFile(dir.configFile, doc.toString());
  await chmod(dir.configFile, 0o600);
}

export interface UserAddFlags extends GlobalOptions {
  name: string;
  passwordFile?: string;
  write?: boolean;
  group: string[];
}

export async function userAdd(flags: UserAddFlags): Promise<void> {
  const password = flags.passwordFile ? (await readFile(flags.passwordFile, 'utf8')).trim() : process.env.ICS_USER_PASSWORD;
  if (!password || password.length < 12) throw new IcsError('BAD_REQUEST', 'a password of at least 12 characters is needed (--password-file or ICS_USER_PASSWORD)');
  await withDataDirHeld(flags.data, (dir) => addUser(dir, flags.name, password, flags.write === true, flags.group));
  const groups = flags.group.length > 0 ? ` in ${[...new Set(flags.group)].join(', ')}` : '';
  process.stdout.write(`added user ${flags.name}${flags.write ? ' (write)' : ''}${groups}\n`);
}

export interface TrustFlags extends GlobalOptions {
  key: string;
  roles: string;
  name?: string;
  domains?: string;
}

/** Copies the issuer's key into keys/ and adds it to the policy; both undone if the policy no longer loads. */
async function addTrustedIssuer(dir: DataDir, config: NodeConfig, record: KeyRecord, flags: TrustFlags) {
  const fromUserId = (record.userIds[0]?.userId.split(':').pop() ?? '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  const name = flags.name ?? (fromUserId.slice(0, 63) || record.id.slice(-16));
  const policyFile = dir.resolve(config.policy);
  const original = await readFile(policyFile, 'utf8');
  const doc = parseDocument(original);
  const known = (doc.getIn(['trust', 'issuers']) as { toJSON(): Array<{ fingerprint: string }> } | undefined)?.toJSON() ?? [];
  if (known.some((i) => i.fingerprint.toLowerCase() === record.id)) throw new IcsError('BAD_REQUEST', `${record.id} is already trusted`);
  const keyPath = `keys/${record.id}.asc`;
  await copyFile(flags.key, dir.resolve(keyPath));
  const entry = {
    name,
    fingerprint: record.id,
    roles: flags.roles.split(',').map((r) => r.trim()),
    ...(flags.domains && { domains: flags.domains.split(',').map((d) => d.trim()) }),
    key: keyPath,
  };
  doc.addIn(['trust', 'issuers'], doc.createNode(entry));
  await writeFile(policyFile, doc.toString());
  try {
    await openPolicy(policyFile);
  } catch (error) {
    await writeFile(policyFile, original);
    await rm(dir.resolve(keyPath), { force: true });
    throw error;
  }
  return entry;
}

export async function trustAdd(flags: TrustFlags): Promise<void> {
  const { record } = await parseKeyRecord(await readFile(flags.key));
  const entry = await withDataDirHeld(flags.data, (dir, config) => addTrustedIssuer(dir, config, record, flags));
  print(flags, entry, () => `trusted ${record.id} (${entry.name}) as ${entry.roles.join(', ')}`);
}
