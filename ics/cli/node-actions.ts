// What `ics init`, `ics key`, `ics user add` and `ics trust add` do (their definitions are in
// node-commands.ts): the data directory, its config and policy, and key files. Opens the
// data directory only, never the node's front ends.
import { randomBytes } from 'node:crypto';
import { access, chmod, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { type AdminRole, adminRoleOf, hashPassword, tokenDigest } from '../auth/index.ts';
import { IcsError } from '../errors.ts';
import { parsePkcs11Uri } from '../enrol/pkcs11.ts';
import { pkcs11Settings } from '../node/ca.ts';
import { createTokenIdentity } from '../node/issuer-key.ts';
import { checkConfig, DataDir, initDataDir, loadConfig, type NodeRole, withDataDirHeld } from '../node/offline.ts';
import { armor, armorPrivateKey, generateIdentity, parseKeyRecord, privateKeyPkcs8, readPrivateKey } from '../record/index.ts';
import { addTrustedIssuer, removeTrustedIssuer, type TrustEntry, type TrustRequest } from '../node/trust.ts';
import { servingAdmin } from './admin-client.ts';
import { print } from './context.ts';
import type { GlobalOptions } from './options.ts';

export interface InitFlags extends GlobalOptions {
  role: string;
  name?: string;
  org?: string;
  passphraseFile?: string;
  pkcs11?: string;
  pkcs11Module?: string;
  pkcs11PinFile?: string;
  pkcs11PinEnv?: string;
}

export async function init(flags: InitFlags) {
  const passphrase = flags.passphraseFile ? (await readFile(flags.passphraseFile, 'utf8')).trim() : process.env.ICS_PASSPHRASE;
  if (flags.pkcs11 !== undefined && !flags.pkcs11Module) throw new IcsError('BAD_REQUEST', '--pkcs11 needs --pkcs11-module (the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so)');
  const pkcs11 = flags.pkcs11 === undefined
    ? undefined
    : { uri: flags.pkcs11, module: flags.pkcs11Module as string, ...(flags.pkcs11PinFile ? { pinFile: resolve(flags.pkcs11PinFile) } : { pinEnv: flags.pkcs11PinEnv ?? 'ICS_PKCS11_PIN' }) };
  return initDataDir(flags.data, { role: flags.role as NodeRole, name: flags.name, org: flags.org, passphrase: passphrase || undefined, ...(pkcs11 && { pkcs11 }) });
}

export async function initCommand(flags: InitFlags): Promise<void> {
  const result = await init(flags);
  print(flags, result, () =>
    [
      `initialised ${result.root} (role ${flags.role})`,
      `  node issuer ${result.issuerFingerprint} ${result.issuerUserId} as ${result.issuerRoles.join(', ')}`,
      `  issuer key: ${result.issuerKeyLocation === 'file' ? 'keys/issuer.secret.asc' : `in ${result.issuerKeyLocation}`}`,
      result.passphraseFile
        ? `  ${result.issuerKeyLocation === 'file' ? 'issuer key passphrase' : "passphrase of the node's key files (a CA key, the log key)"} generated in ${result.passphraseFile} (mode 0600): move it to your secret store and set ICS_PASSPHRASE`
        : `  ${result.issuerKeyLocation === 'file' ? 'issuer key' : "the node's key files"} protected with the given passphrase`,
      `  policy: ${new DataDir(result.root).resolve('policy.yaml')}`,
    ].join('\n'),
  );
}

export interface KeyGenerateFlags {
  urn: string;
  out: string;
  algorithm: string;
  pkcs11?: string;
  data: string;
  json?: boolean;
}

export async function keyGenerate(flags: KeyGenerateFlags): Promise<void> {
  if (flags.algorithm !== 'ed25519' && flags.algorithm !== 'p256') throw new IcsError('BAD_REQUEST', '--algorithm is ed25519 or p256');
  if (flags.pkcs11 !== undefined) return tokenKeyGenerate(flags, flags.pkcs11);
  const identity = await generateIdentity({ userId: flags.urn, algorithm: flags.algorithm });
  const publicFile = `${flags.out.replace(/(\.secret)?\.asc$/, '')}.asc`;
  if (publicFile === flags.out) throw new IcsError('BAD_REQUEST', '--out must end in .secret.asc');
  await writeFile(flags.out, await armorPrivateKey(identity.privateKey, process.env.ICS_KEY_PASSPHRASE), { mode: 0o600, flag: 'wx' });
  await writeFile(publicFile, armor('publicKey', identity.record.bytes), { flag: 'wx' });
  const result = { fingerprint: identity.record.id, userId: flags.urn, privateKey: flags.out, publicKey: publicFile };
  print(flags, result, () => `generated ${result.fingerprint} ${flags.urn}\n  private key ${flags.out} (mode 0600), public key ${publicFile}`);
}

/** `ics key generate --pkcs11 URI`: the key on the token, its OpenPGP public key to --out. */
async function tokenKeyGenerate(flags: KeyGenerateFlags, uri: string): Promise<void> {
  if (!flags.out.endsWith('.asc') || flags.out.endsWith('.secret.asc')) throw new IcsError('BAD_REQUEST', '--out names the public key file (.asc) of a token key: its private key stays in the token');
  const dir = new DataDir(flags.data);
  const settings = pkcs11Settings(dir, await loadConfig(dir.configFile));
  if (!settings) throw new IcsError('BAD_REQUEST', `--pkcs11 needs the pkcs11 section (module, pinFile or pinEnv) in ${dir.configFile}`);
  // Refused before the token is touched: a key made and never written down is lost to the operator.
  await access(flags.out).then(
    () => {
      throw new IcsError('BAD_REQUEST', `${flags.out} exists: it is never overwritten`);
    },
    () => undefined,
  );
  const { record, signer } = await createTokenIdentity(settings, parsePkcs11Uri(uri), flags.urn);
  await writeFile(flags.out, armor('publicKey', record.bytes), { flag: 'wx' });
  const result = { fingerprint: record.id, userId: flags.urn, key: signer.location, publicKey: flags.out };
  print(flags, result, () => `generated ${result.fingerprint} ${flags.urn}\n  private key in the ${signer.location}, public key ${flags.out}`);
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
async function addUser(dir: DataDir, name: string, password: string, write: boolean, groups: readonly string[], admin: { role?: string; domains: readonly string[] }): Promise<void> {
  const doc = parseDocument(await readFile(dir.configFile, 'utf8'));
  const users = (doc.getIn(['auth', 'users']) as { toJSON(): Array<{ name: string }> } | undefined)?.toJSON() ?? [];
  if (users.some((u) => u.name === name)) throw new IcsError('BAD_REQUEST', `user ${name} exists`);
  const entry = {
    name,
    passwordHash: await hashPassword(password),
    write,
    ...(groups.length > 0 && { groups: [...new Set(groups)] }),
    ...(admin.role !== undefined && { role: admin.role }),
    ...(admin.domains.length > 0 && { domains: [...new Set(admin.domains)] }),
  };
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
  role?: string;
  domain?: string[];
}

export async function userAdd(flags: UserAddFlags): Promise<void> {
  const password = flags.passwordFile ? (await readFile(flags.passwordFile, 'utf8')).trim() : process.env.ICS_USER_PASSWORD;
  if (!password || password.length < 12) throw new IcsError('BAD_REQUEST', 'a password of at least 12 characters is needed (--password-file or ICS_USER_PASSWORD)');
  await withDataDirHeld(flags.data, (dir) => addUser(dir, flags.name, password, flags.write === true, flags.group, { ...(flags.role !== undefined && { role: flags.role }), domains: flags.domain ?? [] }));
  const groups = flags.group.length > 0 ? ` in ${[...new Set(flags.group)].join(', ')}` : '';
  const role = adminRoleOf({ write: flags.write === true, ...(flags.role !== undefined && { role: flags.role as AdminRole }) });
  const tenant = (flags.domain ?? []).length > 0 ? ` for domains ${[...new Set(flags.domain)].join(', ')}` : '';
  process.stdout.write(`added user ${flags.name}${flags.write ? ' (write)' : ''}${groups}, admin API role ${role}${tenant}\n`);
}

export interface UserTokenFlags extends GlobalOptions {
  name: string;
  label: string;
  json?: boolean;
}

/** `ics user token`: a random API token for the user, shown once; config.yaml keeps its SHA-256 only. */
export async function userToken(flags: UserTokenFlags): Promise<void> {
  const token = `ics_${randomBytes(32).toString('base64url')}`;
  await withDataDirHeld(flags.data, async (dir) => {
    const doc = parseDocument(await readFile(dir.configFile, 'utf8'));
    const users = (doc.getIn(['auth', 'users']) as { toJSON(): Array<{ name: string; tokens?: Array<{ label: string }> }> } | undefined)?.toJSON() ?? [];
    const index = users.findIndex((u) => u.name === flags.name);
    if (index < 0) throw new IcsError('NOT_FOUND', `no user ${flags.name} (ics user add first)`);
    if ((users[index]?.tokens ?? []).some((t) => t.label === flags.label)) throw new IcsError('BAD_REQUEST', `user ${flags.name} has a token labelled ${flags.label}`);
    const entry = doc.createNode({ label: flags.label, sha256: tokenDigest(token), created: new Date().toISOString() });
    if (doc.hasIn(['auth', 'users', index, 'tokens'])) doc.addIn(['auth', 'users', index, 'tokens'], entry);
    else doc.setIn(['auth', 'users', index, 'tokens'], doc.createNode([entry.toJSON()]));
    checkConfig(doc.toJSON(), dir.configFile);
    await writeFile(dir.configFile, doc.toString());
    await chmod(dir.configFile, 0o600);
  });
  print(flags, { user: flags.name, label: flags.label, token }, () => `API token for ${flags.name} (${flags.label}); shown once, keep it secret:\n${token}`);
}

export interface TrustFlags extends GlobalOptions {
  key: string;
  roles: string;
  name?: string;
  domains?: string;
}

function trustRequest(flags: TrustFlags): TrustRequest {
  return {
    roles: flags.roles.split(',').map((r) => r.trim()),
    ...(flags.name !== undefined && { name: flags.name }),
    ...(flags.domains !== undefined && { domains: flags.domains.split(',').map((d) => d.trim()) }),
  };
}

/** `ics trust add`: through the running node's admin API (applied at once), else in the data directory. */
export async function trustAdd(flags: TrustFlags): Promise<void> {
  const keyBytes = await readFile(flags.key);
  const { record } = await parseKeyRecord(keyBytes);
  const admin = await servingAdmin(flags.data);
  const entry = admin
    ? await admin.call<TrustEntry>('POST', '/ics/v1/admin/trust', { publicKey: armor('publicKey', record.bytes), ...trustRequest(flags) })
    : (await withDataDirHeld(flags.data, (dir, config) => addTrustedIssuer(dir, config, record, trustRequest(flags)))).result;
  print(flags, entry, () => `trusted ${record.id} (${entry.name}) as ${entry.roles.join(', ')}${admin ? ' (the running node applied it)' : ''}`);
}

/** `ics trust remove`: the issuer leaves the policy (its statements stop counting); through the running node when one serves. */
export async function trustRemove(fingerprint: string, flags: GlobalOptions): Promise<void> {
  const admin = await servingAdmin(flags.data);
  const removed = admin
    ? await admin.call<{ fingerprint: string; name?: string }>('POST', `/ics/v1/admin/trust/${encodeURIComponent(fingerprint)}/removal`)
    : (
        await withDataDirHeld(flags.data, (dir, config) => removeTrustedIssuer(dir, config, fingerprint))
      ).result;
  print(flags, removed, () => `no longer trusted: ${removed.fingerprint}${removed.name ? ` (${removed.name})` : ''}${admin ? ' (the running node applied it)' : ''}`);
}
