// `ics ca init | sign | install | rollover | show`: the node's certificate authority
// (ics/enrol/). An offline root at one node signs the issuing CAs of others; a rollover
// prepares the next CA beside the current one (--next) and then swaps them; each key is protected with its
// node's issuer key passphrase (ICS_PASSPHRASE or the passphrase file). Definitions only:
// each action loads ca-actions.ts when it runs.
import type { Command } from 'commander';
import type { CaInitFlags, CaInstallFlags, CaSignFlags } from './ca-actions.ts';
import { CA_KEY_ALGORITHMS, DEFAULT_DATA_DIR, type GlobalOptions } from './options.ts';

const actions = () => import('./ca-actions.ts');

export function registerCaCommands(program: Command): void {
  const ca = program.command('ca').description("the node's certificate authority: a root, or an issuing CA certified by a root");

  ca.command('init')
    .description('make the CA: a self-signed root, or (--issuing) a key and a request for a root to sign; the key is encrypted with the node passphrase, mode 0600')
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--issuing', 'an issuing CA: writes ca/ca.csr.pem for `ics ca sign` at the root')
    .option('--next', 'the next issuing CA of a rollover, in ca/next/, while the current one keeps issuing (then ics ca install --next, ics ca rollover)')
    .option('--algorithm <name>', `key algorithm (${CA_KEY_ALGORITHMS.join(', ')})`, 'p256')
    .option('--subject <dn>', 'subject, e.g. "CN=Acme devices CA,O=Acme" (default: CN=<node name> root CA / issuing CA)')
    .option('--days <n>', 'validity of a root in days (default 20 years)')
    .option('--pkcs11 <uri>', 'make the key in a PKCS#11 token instead of a file, e.g. "pkcs11:token=ics;object=ca" (module and PIN source from the config\'s pkcs11 section)')
    .option('--json', 'machine-readable output')
    .action(async (flags: CaInitFlags) => (await actions()).caInit(flags));

  ca.command('sign <request>')
    .description("a root certifies an issuing CA's request (PEM or DER): writes its certificate followed by this root's chain")
    .option('--data <dir>', 'data directory of the root', DEFAULT_DATA_DIR)
    .requiredOption('--out <file>', 'where the certificate and chain go (never overwritten)')
    .option('--days <n>', 'validity in days (default 10 years)')
    .option('--path-length <n>', 'CA certificates allowed below it (default 0: it signs devices only)')
    .option('--json', 'machine-readable output')
    .action(async (request: string, flags: CaSignFlags) => (await actions()).caSign(request, flags));

  ca.command('install <certificate>')
    .description("install a pending issuing CA's certificate: it must be for this CA's key and chain to a root")
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--chain <file>', 'issuer certificates up to the root, if the certificate file does not hold them')
    .option('--next', 'install the next CA of a rollover (ca/next/)')
    .option('--json', 'machine-readable output')
    .action(async (certificate: string, flags: CaInstallFlags) => (await actions()).caInstall(certificate, flags));

  ca.command('rollover')
    .description('the next CA (installed) becomes current and issues; the current one becomes previous: served in cacerts, its certificates renew onto the new one')
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (flags: GlobalOptions) => (await actions()).caRollover(flags));

  ca.command('show')
    .description("the CA's role, subject, issuer, serial, key algorithm, validity and fingerprint (never key material)")
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (flags: GlobalOptions) => (await actions()).caShow(flags));
}
