// `ics init`, `ics serve` and `ics trust add`: the node's data directory and its life.
import { chmod, copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseDocument } from 'yaml';
import { IcsError } from '../errors.ts';
import {
  checkConfig,
  DataDir,
  type IcsNode,
  initDataDir,
  loadConfig,
  NODE_ROLES,
  type NodeConfig,
  type NodeRole,
  openNode,
  type RunningServices,
  startServices,
  withDataDirHeld,
} from '../node/index.ts';
import { hashPassword } from '../auth/index.ts';
import { issuerKeyPath, openPolicy } from '../policy/index.ts';
import { armor, armorPrivateKey, generateIdentity, type KeyRecord, parseKeyRecord, privateKeyPkcs8, readPrivateKey, ROLES } from '../record/index.ts';
import { parseHostPort } from '../net/address.ts';
import { DEFAULT_DATA_DIR, type GlobalOptions, print } from './context.ts';
import { formatServeSummary, type ServeSummary } from './summary.ts';

/** How often a serving node logs its store figures (debug level). */
const HEARTBEAT_MS = 60_000;

interface InitFlags extends GlobalOptions {
  role: string;
  name?: string;
  org?: string;
  passphraseFile?: string;
}

async function init(flags: InitFlags) {
  const passphrase = flags.passphraseFile ? (await readFile(flags.passphraseFile, 'utf8')).trim() : process.env.ICS_PASSPHRASE;
  return initDataDir(flags.data, { role: flags.role as NodeRole, name: flags.name, org: flags.org, passphrase: passphrase || undefined });
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

interface TrustFlags {
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

function summaryOf(node: IcsNode, services: RunningServices, records: number): ServeSummary {
  const ownKey = node.dataDir.resolve(node.config.issuer.publicKey);
  const policy = node.policy.policy;
  return {
    name: node.config.name,
    role: node.config.role,
    dataDir: node.dataDir.root,
    ...services.addresses,
    records,
    domains: node.policy.domainNames(),
    issuers: policy.trust.issuers.map((e) => ({
      name: e.name,
      fingerprint: e.fingerprint,
      roles: e.roles,
      own: e.key !== undefined && issuerKeyPath(policy, e.key) === ownKey,
    })),
  };
}

export function registerNodeCommands(program: Command): void {
  program
    .command('init')
    .description('create a data directory: config, policy for the role, the node issuer key (passphrase-protected, 0600)')
    .option('--data <dir>', 'data directory to create', DEFAULT_DATA_DIR)
    .option('--role <role>', `node role (${NODE_ROLES.join(', ')})`, 'default')
    .option('--name <name>', 'node name (issuer user ID urn:cm4it:org:<name>)')
    .option('--org <domain>', 'organisation domain named by the role policy selectors (default: acme.example)')
    .option('--passphrase-file <file>', 'passphrase for the issuer key (else ICS_PASSPHRASE, else a generated one in keys/issuer.passphrase)')
    .option('--json', 'machine-readable output')
    .action(async (flags: InitFlags) => {
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
    });

  program
    .command('serve')
    .description('run the node on its data directory until SIGINT / SIGTERM')
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--init <role>', 'initialise the data directory with this role first if it is not initialised')
    .option('--hkp <host:port>', 'HKP / JSON API listener (port 0: ephemeral; off: none)')
    .option('--ldap <host:port>', 'LDAP listener (port 0: ephemeral; off: none)')
    .option('--p2p <multiaddr>', 'libp2p sync listener (off: none)')
    .option('--est <host:port>', 'EST listener, mutual TLS (port 0: ephemeral; off: none; default: listen.est, else none)')
    .option('--allow-test-keys', 'start even if the policy trusts a key whose secret key is published (tests and demos only)')
    .action(async (flags: GlobalOptions & { init?: string; hkp?: string; ldap?: string; p2p?: string; est?: string; allowTestKeys?: boolean }) => {
      const dir = new DataDir(flags.data);
      if (flags.init && !(await dir.isInitialised())) {
        await init({ data: flags.data, role: flags.init });
      }
      for (const value of [flags.hkp, flags.ldap, flags.est]) if (value && value !== 'off') parseHostPort(value);
      await loadConfig(dir.configFile);
      // A policy trusting a published test key is refused here and on every SIGHUP reload.
      // ICS_LOG_LEVEL overrides config.yaml's log.level, as for every other command.
      const logLevel = process.env.ICS_LOG_LEVEL;
      const node = await openNode(flags.data, { testKeys: flags.allowTestKeys ? 'allow' : 'refuse', ...(logLevel && { logLevel }) });
      let services: RunningServices;
      try {
        services = await startServices(node, { hkp: flags.hkp, ldap: flags.ldap, p2p: flags.p2p, est: flags.est });
      } catch (error) {
        await node.close();
        throw error;
      }
      const stats = await node.store.stats();
      node.logger.info(
        { data: dir.root, role: node.config.role, records: stats.records, domains: node.policy.domainNames(), addresses: services.addresses },
        'ics node ready',
      );
      if (process.stdout.isTTY) process.stdout.write(formatServeSummary(summaryOf(node, services, stats.records)));
      process.on('SIGUSR2', () => {
        services.sync
          ?.syncNow()
          .then((report) => node.logger.info({ report }, 'sync now: done'))
          .catch((error: unknown) => node.logger.error({ err: error }, 'sync now failed'));
      });
      // Signal handlers do not keep the event loop alive; this heartbeat does (and logs).
      const heartbeat = setInterval(() => {
        node.store.stats().then(
          (s) => node.logger.debug({ records: s.records, lastSeq: s.lastSeq }, 'heartbeat'),
          (error: unknown) => node.logger.error({ err: error }, 'store stats failed'),
        );
      }, HEARTBEAT_MS);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          node.logger.info({ signal }, 'stopping');
          clearInterval(heartbeat);
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
        // `on`, not `once`: after a first reload, a second SIGHUP would otherwise kill the node.
        process.on('SIGHUP', () => {
          node.reloadPolicy().catch((error: unknown) => node.logger.error({ err: error }, 'policy reload failed; keeping the old policy'));
        });
      });
      await services.stop();
      await node.close();
    });

  const key = program.command('key').description('issuer and device keys');
  key
    .command('generate')
    .description('generate a key pair (e.g. for an integrator or certification body); private key mode 0600')
    .requiredOption('--urn <urn>', 'user ID, e.g. urn:cm4it:org:integrator.example')
    .requiredOption('--out <file>', 'private key file; the public key goes to <file without .secret.asc>.asc')
    .option('--algorithm <ed25519|p256>', 'key algorithm', 'ed25519')
    .option('--json', 'machine-readable output')
    .action(async (flags: { urn: string; out: string; algorithm: string; json?: boolean }) => {
      if (flags.algorithm !== 'ed25519' && flags.algorithm !== 'p256') throw new IcsError('BAD_REQUEST', '--algorithm is ed25519 or p256');
      const identity = await generateIdentity({ userId: flags.urn, algorithm: flags.algorithm });
      const publicFile = `${flags.out.replace(/(\.secret)?\.asc$/, '')}.asc`;
      if (publicFile === flags.out) throw new IcsError('BAD_REQUEST', '--out must end in .secret.asc');
      await writeFile(flags.out, await armorPrivateKey(identity.privateKey, process.env.ICS_KEY_PASSPHRASE), { mode: 0o600, flag: 'wx' });
      await writeFile(publicFile, armor('publicKey', identity.record.bytes), { flag: 'wx' });
      const result = { fingerprint: identity.record.id, userId: flags.urn, privateKey: flags.out, publicKey: publicFile };
      print(flags, result, () => `generated ${result.fingerprint} ${flags.urn}\n  private key ${flags.out} (mode 0600), public key ${publicFile}`);
    });

  key
    .command('pkcs8')
    .description("write a device's private key (OpenPGP) as PKCS#8 PEM for TLS clients such as curl --key; mode 0600, unencrypted")
    .requiredOption('--key <file>', 'the OpenPGP private key (e.g. from ics device register --key-out; passphrase: ICS_KEY_PASSPHRASE or --passphrase-file)')
    .requiredOption('--out <file>', 'the PKCS#8 PEM file to write (never overwritten)')
    .option('--passphrase-file <file>', 'passphrase of --key')
    .option('--json', 'machine-readable output')
    .action(async (flags: { key: string; out: string; passphraseFile?: string; json?: boolean }) => {
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
    });

  program
    .command('user')
    .description('local users for authenticated reads (private domains) and writes over LDAP / HTTP')
    .command('add')
    .description('add a user to config.yaml (password: --password-file or ICS_USER_PASSWORD; stored as an scrypt hash)')
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .requiredOption('--name <name>', 'user name (LDAP bind DN cn=<name>,ou=users,<base DN>)')
    .option('--password-file <file>', 'file holding the password')
    .option('--write', 'may submit records')
    .option('--group <name>', "a group the user is in (repeatable): domains open to it in the policy's read.groups", (value: string, previous: string[]) => [...previous, value], [])
    .action(async (flags: GlobalOptions & { name: string; passwordFile?: string; write?: boolean; group: string[] }) => {
      const password = flags.passwordFile ? (await readFile(flags.passwordFile, 'utf8')).trim() : process.env.ICS_USER_PASSWORD;
      if (!password || password.length < 12) throw new IcsError('BAD_REQUEST', 'a password of at least 12 characters is needed (--password-file or ICS_USER_PASSWORD)');
      await withDataDirHeld(flags.data, (dir) => addUser(dir, flags.name, password, flags.write === true, flags.group));
      const groups = flags.group.length > 0 ? ` in ${[...new Set(flags.group)].join(', ')}` : '';
      process.stdout.write(`added user ${flags.name}${flags.write ? ' (write)' : ''}${groups}\n`);
    });

  const trust = program.command('trust').description('issuers this node trusts (the policy’s trust section)');
  trust
    .command('add')
    .description('trust an issuer key for roles: copies the key into the data directory and adds it to the policy')
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .requiredOption('--key <file>', "the issuer's public key (armored or binary)")
    .requiredOption('--roles <roles>', `comma-separated roles (${ROLES.join(', ')})`)
    .option('--name <name>', 'label for logs and reasons (default: from the user ID)')
    .option('--domains <domains>', 'comma-separated domains where the roles count (default: all)')
    .option('--json', 'machine-readable output')
    .action(async (flags: GlobalOptions & TrustFlags) => {
      const { record } = await parseKeyRecord(await readFile(flags.key));
      const entry = await withDataDirHeld(flags.data, (dir, config) => addTrustedIssuer(dir, config, record, flags));
      print(flags, entry, () => `trusted ${record.id} (${entry.name}) as ${entry.roles.join(', ')}`);
    });
}
