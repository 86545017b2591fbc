// The data directory: layout, initialisation (`ics init`) and the node's secrets.
//   config.yaml            node configuration (schemas/config.schema.json)
//   policy.yaml            the node's policy (from policies/<role>.yaml)
//   keys/issuer.secret.asc the node's issuer key, passphrase-protected, mode 0600
//   keys/issuer.passphrase its passphrase when ICS_PASSPHRASE is not used, mode 0600
//   keys/*.asc             public keys of trusted issuers (`ics trust add` copies them here)
//   db/                    LevelDB
//   ca/                    the node's certificate authority, if it has one (node/ca.ts)
//   addresses.json         addresses the running node is bound to
//   format.json            the directory's format version (data-format.ts)
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, stringify } from 'yaml';
import { IcsError } from '../errors.ts';
import { parsePkcs11Uri, pkcs11Uri } from '../enrol/pkcs11.ts';
import { armor, armorPrivateKey, generateIdentity, type Role } from '../record/index.ts';
import type { NodeConfig, NodeRole } from './config.ts';
import { writeDataFormat } from './data-format.ts';
import { createTokenIdentity } from './issuer-key.ts';

export const NODE_ROLES: readonly NodeRole[] = ['manufacturer', 'developer', 'maintenance', 'infield', 'default'];

/** Roles the node's own issuer key signs in, by node role. */
const ISSUER_ROLES: Record<NodeRole, Role[]> = {
  manufacturer: ['manufacturer'],
  developer: ['developer'],
  maintenance: ['integrator', 'maintainer', 'owner'],
  infield: ['owner'],
  default: ['owner'],
};

/** The organisation domain the example policies name, replaced by `--org`. */
const EXAMPLE_ORG = 'acme.example';
const POLICY_TEMPLATES = fileURLToPath(new URL('../../policies/', import.meta.url));

export class DataDir {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get configFile(): string {
    return join(this.root, 'config.yaml');
  }

  get addressesFile(): string {
    return join(this.root, 'addresses.json');
  }

  /** The running node's local operator token (mode 0600), with which the CLI reaches its admin API. */
  get adminTokenFile(): string {
    return join(this.root, 'admin.token');
  }

  resolve(relative: string): string {
    return isAbsolute(relative) ? relative : join(this.root, relative);
  }

  /** The issuer key passphrase: ICS_PASSPHRASE, else the passphrase file. */
  async passphrase(config: NodeConfig): Promise<string> {
    const fromEnv = process.env.ICS_PASSPHRASE;
    if (fromEnv) return fromEnv;
    try {
      return (await readFile(this.resolve(config.issuer.passphraseFile), 'utf8')).trim();
    } catch (cause) {
      throw new IcsError('KEY_UNUSABLE', 'no passphrase for the node issuer key (set ICS_PASSPHRASE or restore the passphrase file)', { cause });
    }
  }

  /** What addresses.json says of the node serving this directory, if its process still lives. */
  async runningNode(): Promise<ServingNode | undefined> {
    let serving: ServingNode;
    try {
      serving = JSON.parse(await readFile(this.addressesFile, 'utf8')) as ServingNode;
    } catch {
      return undefined;
    }
    if (!Number.isInteger(serving.pid) || serving.pid === process.pid) return undefined;
    try {
      process.kill(serving.pid, 0);
    } catch (error) {
      // EPERM: the process lives but belongs to someone else.
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
    }
    return serving;
  }

  /** UNAVAILABLE naming the node that serves this directory (when addresses.json says which). */
  inUseError(serving: ServingNode | undefined, cause?: unknown): IcsError {
    const where = serving ? ` by a running node (pid ${serving.pid}${serving.hkp ? `, HKP ${serving.hkp}` : ''})` : ' by another process';
    return new IcsError('UNAVAILABLE', `data directory ${this.root} is in use${where}: stop it first, then run the command again`, {
      cause,
      details: { locked: true, ...(serving && { pid: serving.pid }) },
    });
  }

  async isInitialised(): Promise<boolean> {
    return stat(this.configFile).then(
      () => true,
      () => false,
    );
  }
}

/** The part of addresses.json (written by a serving node) that tells who serves a directory. */
export interface ServingNode {
  readonly pid: number;
  readonly hkp?: string | null;
}

export interface InitOptions {
  readonly role: NodeRole;
  /** Node name: `[a-z0-9][a-z0-9.-]*`; the issuer user ID is `urn:cm4it:org:<name>`. */
  readonly name?: string;
  /** Organisation domain the role's selectors name (default: the examples' acme.example). */
  readonly org?: string;
  /** Protects the issuer key; when absent a random one is generated into the passphrase file. */
  readonly passphrase?: string;
  /**
   * Make the issuer key in a PKCS#11 token (an RFC 7512 reference) instead of a file; the
   * module and PIN source go to the config's pkcs11 section. The passphrase still protects the
   * node's other key files (a CA key file, the log key).
   */
  readonly pkcs11?: { readonly uri: string; readonly module: string; readonly pinFile?: string; readonly pinEnv?: string };
}

export interface InitResult {
  readonly root: string;
  readonly issuerFingerprint: string;
  readonly issuerUserId: string;
  readonly issuerRoles: readonly Role[];
  readonly passphraseFile: string | undefined;
  /** Where the issuer's private key is: "file", or the token and object. */
  readonly issuerKeyLocation: string;
}

async function writePrivate(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
}

/** Creates a data directory for `role`: config, policy, issuer key. Refuses an existing one. */
export async function initDataDir(root: string, options: InitOptions): Promise<InitResult> {
  const dir = new DataDir(root);
  if (!NODE_ROLES.includes(options.role)) {
    throw new IcsError('BAD_REQUEST', `unknown role "${options.role}" (one of ${NODE_ROLES.join(', ')})`);
  }
  const name = options.name ?? `ics-${options.role}`;
  if (!/^[a-z0-9][a-z0-9.-]{0,62}$/.test(name)) throw new IcsError('BAD_REQUEST', `invalid node name "${name}"`);
  if (options.org !== undefined && !/^[a-z0-9][a-z0-9.-]{0,252}$/.test(options.org)) {
    throw new IcsError('BAD_REQUEST', `invalid organisation domain "${options.org}"`);
  }
  if (await dir.isInitialised()) throw new IcsError('BAD_REQUEST', `${dir.root} is already initialised`);
  // Never scatter a node's files (and later a database) among someone else's.
  const existing = await readdir(dir.root).catch(() => [] as string[]);
  if (existing.length > 0) {
    throw new IcsError('BAD_REQUEST', `${dir.root} is not empty and is not an ICS data directory (no config.yaml): choose a new or empty directory`);
  }
  const issuerUserId = `urn:cm4it:org:${name}`;
  const token = options.pkcs11;
  // The key first: a token that refuses (no binding, wrong PIN, a label in use) leaves nothing behind.
  const made = token
    ? await createTokenIdentity({ module: token.module, ...(token.pinFile && { pinFile: dir.resolve(token.pinFile) }), ...(token.pinEnv && { pinEnv: token.pinEnv }) }, parsePkcs11Uri(token.uri), issuerUserId)
    : await generateIdentity({ userId: issuerUserId });
  const issuer = { record: made.record };
  await mkdir(join(dir.root, 'keys'), { recursive: true, mode: 0o700 });
  await chmod(dir.root, 0o700);

  let passphraseFile: string | undefined;
  let passphrase = options.passphrase;
  if (!passphrase) {
    passphrase = randomBytes(32).toString('base64url');
    passphraseFile = dir.resolve('keys/issuer.passphrase');
    await writePrivate(passphraseFile, `${passphrase}\n`);
  }
  if ('privateKey' in made) await writePrivate(dir.resolve('keys/issuer.secret.asc'), await armorPrivateKey(made.privateKey, passphrase));
  await writeFile(dir.resolve('keys/issuer.asc'), armor('publicKey', issuer.record.bytes), { flag: 'wx' });

  const issuerRoles = ISSUER_ROLES[options.role];
  await writePolicy(dir, options, { name, fingerprint: issuer.record.id, roles: issuerRoles });
  const config = {
    version: 1,
    name,
    role: options.role,
    ...(token && {
      issuer: { secretKey: pkcs11Uri(parsePkcs11Uri(token.uri)) },
      pkcs11: { module: token.module, ...(token.pinFile && { pinFile: token.pinFile }), ...(token.pinEnv && { pinEnv: token.pinEnv }) },
    }),
  };
  await writeFile(dir.configFile, `# ICS node configuration: schemas/config.schema.json documents every setting.\n${stringify(config)}`, { flag: 'wx' });
  await writeDataFormat(dir.root);
  const issuerKeyLocation = 'signer' in made ? made.signer.location : 'file';
  return { root: dir.root, issuerFingerprint: issuer.record.id, issuerUserId, issuerRoles, passphraseFile, issuerKeyLocation };
}

/**
 * The role's policy template plus this node's own issuer. The shipped templates trust no
 * issuer, so a fresh node trusts only itself; a template that names `key:` files (an
 * organisation's own) gets them copied alongside.
 */
async function writePolicy(dir: DataDir, options: InitOptions, self: { name: string; fingerprint: string; roles: Role[] }): Promise<void> {
  let text = await readFile(join(POLICY_TEMPLATES, `${options.role}.yaml`), 'utf8');
  if (options.org) text = text.replaceAll(EXAMPLE_ORG, options.org);
  const doc = parseDocument(text);
  const issuers = doc.getIn(['trust', 'issuers']) as
    | { flow?: boolean; items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> }
    | undefined;
  // `issuers: []` in the template: write the entries as a block list, one field a line.
  if (issuers) issuers.flow = false;
  for (const entry of issuers?.items ?? []) {
    const key = entry.get('key');
    if (typeof key !== 'string') continue;
    const target = `keys/${basename(key)}`;
    await copyFile(resolve(POLICY_TEMPLATES, key), dir.resolve(target));
    entry.set('key', target);
  }
  doc.addIn(['trust', 'issuers'], doc.createNode({ name: self.name, fingerprint: self.fingerprint, roles: self.roles, key: 'keys/issuer.asc' }, { flow: false }));
  const header = `# Policy of ICS node "${self.name}" (role ${options.role}), from policies/${options.role}.yaml.\n# schemas/policy.schema.json documents every setting.\n`;
  await mkdir(dirname(dir.resolve('policy.yaml')), { recursive: true });
  await writeFile(dir.resolve('policy.yaml'), header + doc.toString(), { flag: 'wx' });
}
