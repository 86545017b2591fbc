// What `ics ca init | sign | install | show` do (their definitions are in ca-commands.ts):
// the node's CA in its data directory. Loads enrol/ (X.509), never the node's front ends.
import { type CaInfo, checkAlgorithm, parsePkcs11Uri } from '../enrol/index.ts';
import { IcsError } from '../errors.ts';
import { caPassphrase, nodeAuthority, nodeCaGenerations, pkcs11Settings, unlockNodeAuthority } from '../node/ca.ts';
import { keyLocation } from '../node/issuer-key.ts';
import { DataDir, loadConfig, withDataDirHeld } from '../node/offline.ts';
import { print } from './context.ts';
import { readInputFile, refuseExisting, writeNewFile } from './files.ts';
import type { GlobalOptions } from './options.ts';

const ALGORITHM_NAMES = { p256: 'ECDSA P-256', ed25519: 'Ed25519' } as const;

function days(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(text)) throw new IcsError('BAD_REQUEST', `--days takes a whole number of days (got "${text}")`);
  return Number(text);
}

export function describeCa(info: CaInfo): string {
  const lines = [`${info.role} CA ${info.subject}`, `  key: ${ALGORITHM_NAMES[info.keyAlgorithm]}, in ${info.keyLocation === 'file' ? 'a file (encrypted with the node passphrase)' : info.keyLocation}`];
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

export interface CaInitFlags extends GlobalOptions {
  issuing?: boolean;
  next?: boolean;
  algorithm: string;
  subject?: string;
  days?: string;
  pkcs11?: string;
}

export async function caInit(flags: CaInitFlags): Promise<void> {
  const algorithm = checkAlgorithm(flags.algorithm);
  const validity = days(flags.days);
  if (flags.issuing && validity !== undefined) throw new IcsError('BAD_REQUEST', "--days is for a root: an issuing CA's validity is chosen where its request is signed (ics ca sign --days)");
  if (flags.next && !flags.issuing) throw new IcsError('BAD_REQUEST', '--next makes the next issuing CA: give --issuing too');
  const reference = flags.pkcs11 === undefined ? undefined : parsePkcs11Uri(flags.pkcs11);
  const info = await withDataDirHeld(flags.data, async (dir, config) => {
    const passphrase = await caPassphrase(dir, config);
    const settings = pkcs11Settings(dir, config);
    if (reference && !settings && !reference.modulePath) throw new IcsError('BAD_REQUEST', "--pkcs11 needs the config's pkcs11 section (module, pinFile or pinEnv)");
    const token = reference && { token: { reference, settings: settings ?? { module: reference.modulePath as string } } };
    const generations = nodeCaGenerations(dir);
    if (flags.next) {
      const role = await generations.current.role();
      if (role !== 'issuing' && role !== 'root') throw new IcsError('BAD_REQUEST', 'a next CA replaces an installed one: this node has none yet (ics ca init --issuing)');
    }
    const authority = flags.next ? generations.next : nodeAuthority(dir);
    const subject = flags.subject ?? `CN=${config.name} ${flags.issuing ? 'issuing' : 'root'} CA`;
    if (flags.issuing) return (await authority.initIssuing({ passphrase, subject, algorithm, ...token })).info;
    return authority.initRoot({ passphrase, subject, algorithm, ...token, ...(validity !== undefined && { days: validity }) });
  });
  print(flags, info, () => describeCa(info));
}

export type CaSignFlags = GlobalOptions & { out: string; days?: string; pathLength?: string };

export async function caSign(request: string, flags: CaSignFlags): Promise<void> {
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
}

export type CaInstallFlags = GlobalOptions & { chain?: string; next?: boolean };

export async function caInstall(certificate: string, flags: CaInstallFlags): Promise<void> {
  const certificateBytes = await readInputFile(certificate);
  const chainBytes = flags.chain === undefined ? undefined : await readInputFile(flags.chain);
  const info = await withDataDirHeld(flags.data, (dir) => (flags.next ? nodeCaGenerations(dir).next : nodeAuthority(dir)).install(certificateBytes, chainBytes));
  print(flags, info, () => describeCa(info));
}

/** Swaps next and current (the node stopped: EST reads its CAs at start). */
export async function caRollover(flags: GlobalOptions): Promise<void> {
  const result = await withDataDirHeld(flags.data, (dir) => nodeCaGenerations(dir).rollOver());
  print(flags, result, () =>
    [
      `rolled over: the current CA issues from now on`,
      describeCa(result.current),
      'previous (served in cacerts; its certificates renew onto the current CA):',
      describeCa(result.previous),
      ...(result.retired ? [`the CA before it is kept in ${result.retired}`] : []),
    ].join('\n'),
  );
}

/** The current CA, and the next and previous ones when there are. */
export async function caShow(flags: GlobalOptions): Promise<void> {
  const dir = new DataDir(flags.data);
  const generations = nodeCaGenerations(dir);
  const info = await generations.current.show();
  const next = (await generations.next.role()) ? await generations.next.show() : undefined;
  const previous = (await generations.previous.role()) ? await generations.previous.show() : undefined;
  // The node's other signing key, beside the CA's: where it lives, never more.
  const issuerKey = keyLocation((await loadConfig(dir.configFile)).issuer.secretKey);
  const shown = { ...info, ...(next && { next }), ...(previous && { previous }), issuerKey };
  print(flags, shown, () =>
    [
      describeCa(info),
      ...(next ? ['next (ics ca rollover makes it current):', describeCa(next)] : []),
      ...(previous ? ['previous:', describeCa(previous)] : []),
      `node issuer key (OpenPGP): ${issuerKey === 'file' ? 'file' : `in ${issuerKey}`}`,
    ].join('\n'),
  );
}
