// `ics init`, `ics serve`, `ics backup`, `ics restore`, `ics key`, `ics user add` and `ics trust add`: the node's data
// directory and its life. Definitions only: each action loads node-actions.ts (serve:
// serve.ts, the whole node) when it runs.
import type { Command } from 'commander';
import type { InitFlags, KeyGenerateFlags, KeyPkcs8Flags, TrustFlags, UserAddFlags, UserTokenFlags } from './node-actions.ts';
import type { BackupFlags } from './backup-actions.ts';
import { DEFAULT_DATA_DIR, type GlobalOptions, NODE_ROLES, ROLES } from './options.ts';
import type { ServeFlags } from './serve.ts';

const actions = () => import('./node-actions.ts');

export function registerNodeCommands(program: Command): void {
  program
    .command('init')
    .description('create a data directory: config, policy for the role, the node issuer key (passphrase-protected, 0600)')
    .option('--data <dir>', 'data directory to create', DEFAULT_DATA_DIR)
    .option('--role <role>', `node role (${NODE_ROLES.join(', ')})`, 'default')
    .option('--name <name>', 'node name (issuer user ID urn:cm4it:org:<name>)')
    .option('--org <domain>', 'organisation domain named by the role policy selectors (default: acme.example)')
    .option('--passphrase-file <file>', 'passphrase for the issuer key (else ICS_PASSPHRASE, else a generated one in keys/issuer.passphrase)')
    .option('--pkcs11 <uri>', 'make the issuer key (ECDSA P-256) in a PKCS#11 token instead of a file, e.g. "pkcs11:token=acme-hsm;object=issuer"')
    .option('--pkcs11-module <path>', 'the PKCS#11 module for --pkcs11 (written to the config), e.g. /usr/lib/softhsm/libsofthsm2.so')
    .option('--pkcs11-pin-file <file>', 'a file holding the token PIN (else the environment variable of --pkcs11-pin-env)')
    .option('--pkcs11-pin-env <name>', 'the environment variable holding the token PIN', 'ICS_PKCS11_PIN')
    .option('--json', 'machine-readable output')
    .action(async (flags: InitFlags) => (await actions()).initCommand(flags));

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
    .action(async (flags: ServeFlags) => (await import('./serve.ts')).serve(flags));

  program
    .command('backup')
    .description("write a backup of the node (store, config, policy, keys as they are at rest) to a file: from a running node's admin API while it serves, else from the data directory")
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .requiredOption('--out <file>', 'the backup file to write (gzip tar, mode 0600; must not exist)')
    .option('--include-passphrase', "put the issuer key's passphrase file in too (by default it is left out, so that the file alone opens no key)")
    .option('--json', 'machine-readable output')
    .action(async (flags: BackupFlags) => (await import('./backup-actions.ts')).backupCommand(flags));

  program
    .command('restore <file>')
    .description('restore a backup into a new or empty data directory (checked against its manifest; nothing is left on failure)')
    .option('--data <dir>', 'data directory to create', DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (file: string, flags: GlobalOptions) => (await import('./backup-actions.ts')).restoreCommand(file, flags));

  const key = program.command('key').description('issuer and device keys');
  key
    .command('generate')
    .description('generate a key pair (e.g. for an integrator or certification body); private key mode 0600')
    .requiredOption('--urn <urn>', 'user ID, e.g. urn:cm4it:org:integrator.example')
    .requiredOption('--out <file>', 'private key file; the public key goes to <file without .secret.asc>.asc (with --pkcs11: the public key file, .asc)')
    .option('--algorithm <ed25519|p256>', 'key algorithm (a token key is p256)', 'ed25519')
    .option('--pkcs11 <uri>', 'make the key in a PKCS#11 token instead of a file, e.g. "pkcs11:token=acme-hsm;object=integrator"; sign with it by --key <uri> --key-public <out>')
    .option('--data <dir>', "with --pkcs11: the data directory whose config's pkcs11 section names the module and PIN source", DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (flags: KeyGenerateFlags) => (await actions()).keyGenerate(flags));

  key
    .command('pkcs8')
    .description("write a device's private key (OpenPGP) as PKCS#8 PEM for TLS clients such as curl --key; mode 0600, unencrypted")
    .requiredOption('--key <file>', 'the OpenPGP private key (e.g. from ics device register --key-out; passphrase: ICS_KEY_PASSPHRASE or --passphrase-file)')
    .requiredOption('--out <file>', 'the PKCS#8 PEM file to write (never overwritten)')
    .option('--passphrase-file <file>', 'passphrase of --key')
    .option('--json', 'machine-readable output')
    .action(async (flags: KeyPkcs8Flags) => (await actions()).keyPkcs8(flags));

  const user = program.command('user').description('local users for authenticated reads (private domains), writes over LDAP / HTTP, the admin API and the console');
  user
    .command('add')
    .description('add a user to config.yaml (password: --password-file or ICS_USER_PASSWORD; stored as an scrypt hash)')
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .requiredOption('--name <name>', 'user name (LDAP bind DN cn=<name>,ou=users,<base DN>)')
    .option('--password-file <file>', 'file holding the password')
    .option('--write', 'may submit records')
    .option('--group <name>', "a group the user is in (repeatable): domains open to it in the policy's read.groups", (value: string, previous: string[]) => [...previous, value], [])
    .option('--role <viewer|operator|admin>', 'what the admin API lets the user do (default: operator with --write, else viewer)')
    .option('--domain <name>', "the user's tenant: a domain the admin API shows and changes for them (repeatable; none: every domain)", (value: string, previous: string[]) => [...previous, value], [])
    .action(async (flags: UserAddFlags) => (await actions()).userAdd(flags));

  user
    .command('token')
    .description("make an API token for a user's scripts (Authorization: Bearer …, acting as the user): printed once, only its SHA-256 kept in config.yaml")
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .requiredOption('--name <name>', 'the user')
    .requiredOption('--label <label>', 'what the token is for, e.g. ci-deploy (unique per user)')
    .option('--json', 'machine-readable output')
    .action(async (flags: UserTokenFlags) => (await actions()).userToken(flags));

  const trust = program.command('trust').description('issuers this node trusts (the policy’s trust section)');
  trust
    .command('add')
    .description('trust an issuer key for roles: copies the key into the data directory and adds it to the policy (through the running node, which applies it at once, when one serves)')
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .requiredOption('--key <file>', "the issuer's public key (armored or binary)")
    .requiredOption('--roles <roles>', `comma-separated roles (${ROLES.join(', ')})`)
    .option('--name <name>', 'label for logs and reasons (default: from the user ID)')
    .option('--domains <domains>', 'comma-separated domains where the roles count (default: all)')
    .option('--json', 'machine-readable output')
    .action(async (flags: TrustFlags) => (await actions()).trustAdd(flags));

  trust
    .command('remove <fingerprint>')
    .description("stop trusting an issuer: its entry leaves the policy (and its key file, if trust add put it there); the node's own issuer key stays")
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (fingerprint: string, flags: GlobalOptions) => (await actions()).trustRemove(fingerprint, flags));
}
