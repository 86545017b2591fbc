// `ics cert list | show | revoke`: the certificates the node's CA issued, as the certificate index in
// the store holds them (operational ones over EST, birth ones as they are indexed). Read from
// the data directory, so refused (UNAVAILABLE) while `ics serve` holds it. `ics cert pending |
// approve`: enrolments that wait for an operator; files beside the CA, so they work while the
// node runs. Definitions only:
// each action loads cert-actions.ts when it runs.
import type { Command } from 'commander';
import type { CertListFlags, CertRevokeFlags } from './cert-actions.ts';
import { DEFAULT_DATA_DIR, type GlobalOptions } from './options.ts';

const actions = () => import('./cert-actions.ts');

export function registerCertCommands(program: Command): void {
  const cert = program.command('cert').description("certificates the node's CA issued (the certificate index)");

  cert
    .command('list')
    .description('issued certificates: all, of one record, or expiring within a time; soonest expiry first')
    .option('--data <dir>', 'data directory of the node', DEFAULT_DATA_DIR)
    .option('--record <ref>', 'only those of this record (fingerprint, key id or URN)')
    .option('--expiring <duration>', 'only those expiring within this (e.g. 7d); expired ones included')
    .option('--json', 'machine-readable output')
    .action(async (flags: CertListFlags) => (await actions()).certList(flags));

  cert
    .command('show <serial>')
    .description('one issued certificate by its serial (hex): what the index holds, and the certificate as PEM')
    .option('--data <dir>', 'data directory of the node', DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (serial: string, flags: GlobalOptions) => (await actions()).certShow(serial, flags));

  cert
    .command('revoke <serial>')
    .description('revoke a certificate this node issued, for good: while the node runs it applies it within a second and its CRL lists it; otherwise at once, in the data directory')
    .option('--reason <reason>', 'CRL reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn', 'unspecified')
    .option('--data <dir>', 'data directory of the node', DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (serial: string, flags: CertRevokeFlags) => (await actions()).certRevoke(serial, flags));

  cert
    .command('pending')
    .description('enrolments waiting for approval (policy enrol.approval: manual); works while the node runs')
    .option('--data <dir>', 'data directory of the node', DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (flags: GlobalOptions & { data: string }) => (await actions()).certPending(flags));

  cert
    .command('approve <device>')
    .description("approve a waiting enrolment (record id or URN, from `ics cert pending`): the device's next request gets its certificate")
    .option('--data <dir>', 'data directory of the node', DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (device: string, flags: GlobalOptions & { data: string }) => (await actions()).certApprove(device, flags));
}
