// `ics` operations on records: register, import, certify, status, revoke, code, show,
// verify, export. Definitions only: each action loads operation-actions.ts when it runs, so
// that `--help` loads no node code.
import type { Command } from 'commander';
import { collect } from './args.ts';
import type { CodePublishFlags, ExportFlags, ImportFlags, RegisterFlags, StatementFlags } from './operation-actions.ts';
import { DEFAULT_DATA_DIR, type GlobalOptions, ROLES } from './options.ts';

const actions = () => import('./operation-actions.ts');

function withCommonOptions(command: Command): Command {
  return command.option('--data <dir>', 'data directory of the node', DEFAULT_DATA_DIR).option('--json', 'machine-readable output');
}

function withSignerOptions(command: Command): Command {
  return command
    .option('--key <file|uri>', 'sign with this private key instead of the node issuer key (passphrase: ICS_KEY_PASSPHRASE), or with a PKCS#11 token key "pkcs11:token=…;object=…" (module and PIN from the config\'s pkcs11 section)')
    .option('--passphrase-file <file>', 'passphrase of --key')
    .option('--key-public <file>', 'the OpenPGP public key of a token --key (what ics key generate --pkcs11 wrote)');
}

function withStatementOptions(command: Command): Command {
  return command
    .option('--allow <what>', 'authorization statement allow@cm4it.org (repeatable)', collect, [])
    .option('--deny <what>', 'authorization statement deny@cm4it.org (repeatable)', collect, [])
    .option('--meta <name=value>', 'metadata notation <name>@cm4it.org (repeatable)', collect, [])
    .option('--expires <duration>', 'the statement stops counting after this long (e.g. 365d)');
}

export function registerOperations(program: Command): void {
  const device = program.command('device').description('device identities');

  withStatementOptions(
    withSignerOptions(
      withCommonOptions(
        device
          .command('register')
          .description('register a device: a new key (or --public-key) certified by the node as manufacturer')
          .requiredOption('--urn <urn>', 'user ID, e.g. urn:cm4it:device:acme.example:cam-3:SN12345')
          .option('--public-key <file>', "the device's existing public key (armored or binary)")
          .option('--algorithm <ed25519|p256>', 'algorithm of a generated key', 'ed25519')
          .option('--key-out <file>', 'where to write a generated device private key (mode 0600)')
          .option('--role <role>', 'role of the registering signature (default: the node key’s first role)')
          .option('--status <status>', 'initial status', 'in-use')
          .option('--birth-cert <file>', "also write the device's birth certificate (PEM), signed by this node's CA (ics ca init)"),
      ),
    ),
  ).action(async (flags: RegisterFlags) => (await actions()).deviceRegister(flags));

  withCommonOptions(
    device
      .command('import [file]')
      .description('bulk import of records from a file or standard input (armored or binary), with a summary')
      .option('--progress', 'show a progress bar even when standard error is not a terminal')
      .option('--concurrency <n>', 'records verified at once', '32'),
  ).action(async (file: string | undefined, flags: ImportFlags) => (await actions()).deviceImport(file, flags));

  withStatementOptions(
    withSignerOptions(
      withCommonOptions(
        program
          .command('certify <record>')
          .description('countersign, endorse or state something about a device: a certification with notations')
          .requiredOption('--role <role>', `capacity of the signer (${ROLES.join(', ')})`)
          .option('--status <status>', 'status statement')
          .option('--user-id <userId>', 'user ID to certify (default: the first)'),
      ),
    ),
  ).action(async (reference: string, flags: StatementFlags) => (await actions()).certifyCommand(reference, flags));

  const status = program.command('status').description('device status');
  withStatementOptions(
    withSignerOptions(
      withCommonOptions(
        status
          .command('set <record> <status>')
          .description('state a device status (in-use, planned, inactive, destroyed, stolen, decommissioned)')
          .option('--role <role>', 'role of the statement (default: the node key’s first role)'),
      ),
    ),
  ).action(async (reference: string, value: string, flags: StatementFlags) => (await actions()).certifyCommand(reference, { ...flags, status: value }));

  withSignerOptions(
    withCommonOptions(
      program
        .command('revoke <record>')
        .description("withdraw the signer's earlier certifications of a device (e.g. a contract ended)")
        .option('--reason <text>', 'reason for the withdrawal')
        .option('--user-id <userId>', 'user ID (default: the first)'),
    ),
  ).action(async (reference: string, flags: StatementFlags & { reason?: string }) => (await actions()).certifyCommand(reference, { ...flags, status: flags.reason }, true));

  const code = program.command('code').description('code identities: signed, timestamped hashes');
  withStatementOptions(
    withSignerOptions(
      withCommonOptions(
        code
          .command('publish')
          .description('publish a code statement signed by the node (or --key) as developer')
          .requiredOption('--name <name>', 'artifact name')
          .requiredOption('--version <version>', 'artifact version')
          .option('--file <file>', 'the artifact: its sha256 and sha512 are computed')
          .option('--sha256 <hex>', 'the artifact sha256 digest')
          .option('--sha512 <hex>', 'the artifact sha512 digest')
          .option('--role <role>', 'role (default: the node key’s first role)')
          .option('--status <status>', 'code status', 'released'),
      ),
    ),
  ).action(async (flags: CodePublishFlags) => (await actions()).codePublish(flags));

  withStatementOptions(
    withSignerOptions(
      withCommonOptions(
        code
          .command('status <record> <status>')
          .description('state a code status (released, deprecated, revoked, vulnerable)')
          .option('--role <role>', 'role (default: the node key’s first role)'),
      ),
    ),
  ).action(async (reference: string, value: string, flags: StatementFlags) => (await actions()).codeStatus(reference, value, flags));

  withCommonOptions(program.command('show <record>').description('a record, its signatures and its history')).action(
    async (reference: string, flags: GlobalOptions) => (await actions()).show(reference, flags),
  );

  withCommonOptions(
    program.command('verify <record>').description('the verdict under this node’s policy; exit 0 trusted, 1 not trusted, 2 error'),
  ).action(async (reference: string, flags: GlobalOptions) => (await actions()).verify(reference, flags));

  withCommonOptions(
    program
      .command('export [records...]')
      .description('export records (default: all, or --domain), armored; binary with --binary')
      .option('--domain <name>', 'only this domain')
      .option('--binary', 'binary OpenPGP packets instead of armor')
      .option('--out <file>', 'write to a file instead of standard output'),
  ).action(async (references: string[], flags: ExportFlags) => (await actions()).exportRecords(references, flags));

  withCommonOptions(program.command('peers').description('the running node’s sync peers: connected, last reconciliation, state per domain')).action(
    async (flags: GlobalOptions) => (await actions()).peersCommand(flags),
  );
  withCommonOptions(
    program
      .command('sync')
      .description('sync with peers')
      .command('now')
      .description('the running node reconciles every domain it pulls, now (from one peer with --peer)')
      .option('--peer <peerId>', 'only this peer'),
  ).action(async (flags: GlobalOptions & { peer?: string }) => (await actions()).syncNowCommand(flags));
}
