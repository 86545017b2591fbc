// `ics enrol`: the reference device client (RFC 7030 from the device's side). A device with
// a factory birth certificate gets its operational certificate over EST and, with --watch,
// renews it inside the renewal window for the rest of its life. Definition only: the action
// loads enrol-actions.ts when it runs.
import type { Command } from 'commander';
import type { EnrolFlags } from './enrol-actions.ts';
import { CA_KEY_ALGORITHMS } from './options.ts';

const actions = () => import('./enrol-actions.ts');

export function registerEnrolCommand(program: Command): void {
  program
    .command('enrol')
    .description('as a device: get (or renew) an operational certificate over EST with the birth certificate; --watch keeps it current. Exit 0: enrolled, renewed or current; 1: waiting for an operator’s approval; 2: refused or failed')
    .requiredOption('--server <url>', "the node's EST listener, https://HOST:PORT (its addresses.json says `est`)")
    .requiredOption('--ca <file>', "trust anchors for the server's TLS certificate: the CA chain the device was given (PEM)")
    .requiredOption('--birth-cert <file>', 'the birth certificate (PEM; the chain may follow it)')
    .requiredOption('--birth-key <file>', 'its private key, the device record key (PKCS#8 PEM, as `ics key pkcs8` writes)')
    .option('--dir <dir>', 'where operational.pem and operational.key.pem (mode 0600) are kept', '.')
    .option('--label <domain>', 'an EST label: the policy domain the device enrols under')
    .option('--algorithm <name>', `key type of each new operational key (${CA_KEY_ALGORITHMS.join(', ')})`, 'p256')
    .option('--passphrase-file <file>', 'passphrase of the birth key, which also encrypts each operational key at rest (or ICS_KEY_PASSPHRASE; without either, keys are unencrypted, mode 0600)')
    .option('--renew-before <duration>', 'renew this long before the end (e.g. 10d; default: with a third of the lifetime left)')
    .option('--watch', 'stay running: renew inside the renewal window, retry failures with growing waits, until SIGTERM or SIGINT')
    .option('--json', 'machine-readable output (one JSON object per line with --watch)')
    .action(async (flags: EnrolFlags) => (await actions()).enrol(flags));
}
