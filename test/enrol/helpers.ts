// Shared by the enrol tests: temporary directories, real openssl, a CA chain made once.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, type KeyAlgorithm, type UnlockedAuthority } from '../../ics/enrol/index.ts';
import { requireTool } from '../helpers/tools.ts';

export const PASSPHRASE = 'correct horse battery staple';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs openssl (failing the test, naming the package, when it is not installed). */
export function openssl(args: string[], cwd: string): Promise<Run> {
  requireTool('openssl', 'openssl');
  return new Promise((done) => {
    execFile('openssl', args, { cwd }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * One SoftHSM 2 token directory for the whole test process (removed when it exits), with every
 * suite's token made at once, before any of them is opened in this process: the PKCS#11
 * module reads SOFTHSM2_CONF and lists its tokens when it is first initialised, and a token
 * made after that may not be seen by the process (a suite that ran first would hide the next
 * suite's token — seen as "no token labelled …" in a full run only).
 */
const SOFTHSM_TOKENS: Readonly<Record<string, string>> = {
  // label: user PIN (SO PIN: PIN + "0"); one per suite that uses SoftHSM.
  'ics-test': '271828',
  'acme-system': '161803',
  'ics-issuer': '314159',
};

let softHsm: { readonly conf: string; readonly tokens: string } | undefined;

/** The token labelled `label` (one of SOFTHSM_TOKENS, with its PIN), in the process's SoftHSM directory. */
export async function softHsmToken(label: string, pin: string): Promise<{ readonly module: string; readonly tokens: string }> {
  requireTool('softhsm2-util', 'softhsm2');
  if (SOFTHSM_TOKENS[label] !== pin) throw new Error(`test/enrol/helpers.ts: add the SoftHSM token ${label} (PIN ${pin}) to SOFTHSM_TOKENS`);
  if (!softHsm) {
    const root = mkdtempSync(join(tmpdir(), 'ics-softhsm-'));
    const tokens = join(root, 'tokens');
    mkdirSync(tokens);
    const conf = join(root, 'softhsm2.conf');
    writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    process.env.SOFTHSM2_CONF = conf;
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    for (const [name, userPin] of Object.entries(SOFTHSM_TOKENS)) {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', name, '--pin', userPin, '--so-pin', `${userPin}0`], { stdio: 'ignore' });
    }
    softHsm = { conf, tokens };
  }
  return { module: '/usr/lib/softhsm/libsofthsm2.so', tokens: softHsm.tokens };
}

/** A temporary directory per suite: `before` makes it, `after` removes it. */
export function tempDirs(prefix: string): { readonly path: string; make(): Promise<void>; clean(): Promise<void> } {
  let path = '';
  return {
    get path() {
      return path;
    },
    async make() {
      path = await mkdtemp(join(tmpdir(), prefix));
    },
    async clean() {
      if (path) await rm(path, { recursive: true, force: true });
    },
  };
}

/** A root and an issuing CA under it (each in its own directory below `dir`), unlocked. */
export async function caChain(dir: string, algorithm: KeyAlgorithm): Promise<{ root: UnlockedAuthority; issuing: UnlockedAuthority; rootCa: CertificateAuthority; issuingCa: CertificateAuthority }> {
  const rootCa = new CertificateAuthority(join(dir, `root-${algorithm}`));
  await rootCa.initRoot({ passphrase: PASSPHRASE, subject: `CN=Test root ${algorithm},O=Acme`, algorithm });
  const root = await rootCa.unlock(PASSPHRASE);
  const issuingCa = new CertificateAuthority(join(dir, `issuing-${algorithm}`));
  const { requestPem } = await issuingCa.initIssuing({ passphrase: PASSPHRASE, subject: `CN=Test issuing ${algorithm},O=Acme`, algorithm });
  const signed = await root.signSubordinate(requestPem);
  await issuingCa.install(signed.pem + root.chainPem());
  return { root, issuing: await issuingCa.unlock(PASSPHRASE), rootCa, issuingCa };
}
