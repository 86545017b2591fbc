// `ics ca init | sign | install | show`: the node's certificate authority (ics/enrol/). An
// offline root at one node signs the issuing CAs of others; each key is protected with its
// node's issuer key passphrase (ICS_PASSPHRASE or the passphrase file).
import { access, readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { type CaInfo, checkAlgorithm, KEY_ALGORITHMS } from '../enrol/index.ts';
import { IcsError } from '../errors.ts';
import { caPassphrase, DataDir, loadConfig, nodeAuthority, unlockNodeAuthority, withDataDirHeld } from '../node/index.ts';
import { DEFAULT_DATA_DIR, type GlobalOptions, print } from './context.ts';

const ALGORITHM_NAMES = { p256: 'ECDSA P-256', ed25519: 'Ed25519' } as const;

function days(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(text)) throw new IcsError('BAD_REQUEST', `--days takes a whole number of days (got "${text}")`);
  return Number(text);
}

/** Writes a new file; an existing one is refused (BAD_REQUEST), never overwritten. */
export async function writeNewFile(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new IcsError('BAD_REQUEST', `${path} exists: it is never overwritten`);
    throw error;
  }
}

/** An input file's bytes; a missing or unreadable one is the caller's mistake (BAD_REQUEST). */
export async function readInputFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new IcsError('BAD_REQUEST', `cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})`, { cause });
  }
}

/** Refuses early, before anything is signed or registered, an output file that exists. */
export async function refuseExisting(path: string): Promise<void> {
  if (await access(path).then(() => true, () => false)) throw new IcsError('BAD_REQUEST', `${path} exists: it is never overwritten`);
}

export function describeCa(info: CaInfo): string {
  const lines = [`${info.role} CA ${info.subject}`, `  key: ${ALGORITHM_NAMES[info.keyAlgorithm]}`];
  if (info.role === 'pending') {
    lines.push(`  waiting for its certificate: take ${info.requestFile} to the root (ics ca sign), then run ics ca install`);
    return lines.join('\n');
  }
  lines.push(
    `  issuer: ${info.issuer}`,
    `  serial: ${info.serial}`,
    `  valid: ${info.notBefore?.toISOString()} to ${info.notAfter?.toISOString()}`,
    `  SHA-256 fingerprint: ${info.fingerprint}`,
  );
  if (info.pathLength !== undefined) lines.push(`  path length: ${info.pathLength}`);
  lines.push(`  chain: ${info.chainLength} certificate${info.chainLength === 1 ? '' : 's'} up to the root`);
  return lines.join('\n');
}

interface InitFlags extends GlobalOptions {
  issuing?: boolean;
  algorithm: string;
  subject?: string;
  days?: string;
}

export function registerCaCommands(program: Command): void {
  const ca = program.command('ca').description("the node's certificate authority: a root, or an issuing CA certified by a root");

  ca.command('init')
    .description('make the CA: a self-signed root, or (--issuing) a key and a request for a root to sign; the key is encrypted with the node passphrase, mode 0600')
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--issuing', 'an issuing CA: writes ca/ca.csr.pem for `ics ca sign` at the root')
    .option('--algorithm <name>', `key algorithm (${KEY_ALGORITHMS.join(', ')})`, 'p256')
    .option('--subject <dn>', 'subject, e.g. "CN=Acme devices CA,O=Acme" (default: CN=<node name> root CA / issuing CA)')
    .option('--days <n>', 'validity of a root in days (default 20 years)')
    .option('--json', 'machine-readable output')
    .action(async (flags: InitFlags) => {
      const algorithm = checkAlgorithm(flags.algorithm);
      const validity = days(flags.days);
      if (flags.issuing && validity !== undefined) throw new IcsError('BAD_REQUEST', "--days is for a root: an issuing CA's validity is chosen where its request is signed (ics ca sign --days)");
      const info = await withDataDirHeld(flags.data, async (dir, config) => {
        const passphrase = await caPassphrase(dir, config);
        const authority = nodeAuthority(dir);
        const subject = flags.subject ?? `CN=${config.name} ${flags.issuing ? 'issuing' : 'root'} CA`;
        if (flags.issuing) return (await authority.initIssuing({ passphrase, subject, algorithm })).info;
        return authority.initRoot({ passphrase, subject, algorithm, ...(validity !== undefined && { days: validity }) });
      });
      print(flags, info, () => describeCa(info));
    });

  ca.command('sign <request>')
    .description("a root certifies an issuing CA's request (PEM or DER): writes its certificate followed by this root's chain")
    .option('--data <dir>', 'data directory of the root', DEFAULT_DATA_DIR)
    .requiredOption('--out <file>', 'where the certificate and chain go (never overwritten)')
    .option('--days <n>', 'validity in days (default 10 years)')
    .option('--path-length <n>', 'CA certificates allowed below it (default 0: it signs devices only)')
    .option('--json', 'machine-readable output')
    .action(async (request: string, flags: GlobalOptions & { out: string; days?: string; pathLength?: string }) => {
      await refuseExisting(flags.out);
      const requestBytes = await readInputFile(request);
      const pathLength = flags.pathLength === undefined ? undefined : Number(flags.pathLength);
      // Reads the data directory only: a root that also serves need not stop for this.
      const dir = new DataDir(flags.data);
      const authority = await unlockNodeAuthority(dir, await loadConfig(dir.configFile));
      const validity = days(flags.days);
      const issued = await authority.signSubordinate(requestBytes, {
        ...(validity !== undefined && { days: validity }),
        ...(pathLength !== undefined && { pathLength }),
      });
      await writeNewFile(flags.out, issued.pem + authority.chainPem());
      const result = { file: flags.out, subject: issued.subject, serial: issued.serial, notAfter: issued.notAfter, fingerprint: issued.fingerprint };
      print(flags, result, () =>
        [`signed ${issued.subject}`, `  serial ${issued.serial}, valid to ${issued.notAfter.toISOString()}`, `  certificate and chain: ${flags.out} (install it with ics ca install)`].join('\n'),
      );
    });

  ca.command('install <certificate>')
    .description("install a pending issuing CA's certificate: it must be for this CA's key and chain to a root")
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--chain <file>', 'issuer certificates up to the root, if the certificate file does not hold them')
    .option('--json', 'machine-readable output')
    .action(async (certificate: string, flags: GlobalOptions & { chain?: string }) => {
      const certificateBytes = await readInputFile(certificate);
      const chainBytes = flags.chain === undefined ? undefined : await readInputFile(flags.chain);
      const info = await withDataDirHeld(flags.data, (dir) => nodeAuthority(dir).install(certificateBytes, chainBytes));
      print(flags, info, () => describeCa(info));
    });

  ca.command('show')
    .description("the CA's role, subject, issuer, serial, key algorithm, validity and fingerprint (never key material)")
    .option('--data <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--json', 'machine-readable output')
    .action(async (flags: GlobalOptions) => {
      const info = await nodeAuthority(new DataDir(flags.data)).show();
      print(flags, info, () => describeCa(info));
    });
}
