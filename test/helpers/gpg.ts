// Running real GnuPG in tests: each GnuPG object is a throwaway home directory (mode 0700)
// whose agent and dirmngr are stopped and which is removed by `dispose`. gpg runs
// asynchronously, so that a server in the same process (HKP, LDAP) can answer it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './tools.ts';

/** The gpg binary; ICS_TEST_GPG can point at another one (or at nothing, to see the failure). */
export const GPG = process.env.ICS_TEST_GPG ?? 'gpg';
export const GPGCONF = process.env.ICS_TEST_GPGCONF ?? 'gpgconf';

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/** Runs a program; rejects with its stderr when it exits non-zero. */
export function run(file: string, args: readonly string[], input?: Uint8Array | string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANGUAGE: 'C' };
    delete env.GNUPGHOME;
    const child = execFile(file, [...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, env }, (error, stdout, stderr) => {
      if (error) {
        reject(Object.assign(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr.toString('utf8')}`), { cause: error }));
      } else {
        resolve({ stdout, stderr: stderr.toString('utf8') });
      }
    });
    child.stdin?.on('error', () => {}); // gpg may exit before reading all of stdin; the exit status tells.
    child.stdin?.end(input === undefined ? undefined : Buffer.from(input));
  });
}

/**
 * Fails the test unless GnuPG is installed: gpg, gpgconf (which stops a home's daemons) and,
 * with `keyserver`, dirmngr (which gpg runs for --recv-keys / --send-keys / --search-keys).
 */
export function requireGpg(options: { keyserver?: boolean } = {}): void {
  requireTool(GPG, 'gnupg');
  requireTool(GPGCONF, 'gpgconf');
  if (options.keyserver) requireTool('dirmngr', 'dirmngr');
}

/** A throwaway GnuPG home (mode 0700). `dispose` stops its agent and dirmngr and removes it. */
export class GnuPG {
  private constructor(
    readonly home: string,
    /** Arguments put before every command (e.g. `--keyserver hkp://…`). */
    readonly defaults: readonly string[],
  ) {}

  static async create(defaults: readonly string[] = []): Promise<GnuPG> {
    const home = await mkdtemp(join(tmpdir(), 'ics-gpg-'));
    await chmod(home, 0o700);
    return new GnuPG(home, defaults);
  }

  run(args: readonly string[], input?: Uint8Array | string): Promise<RunResult> {
    return run(
      GPG,
      ['--homedir', this.home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...this.defaults, ...args],
      input,
    );
  }

  async text(args: readonly string[], input?: Uint8Array | string): Promise<string> {
    return (await this.run(args, input)).stdout.toString('utf8');
  }

  async import(...blocks: Array<Uint8Array | string>): Promise<void> {
    for (const block of blocks) await this.run(['--import'], block);
  }

  async export(fingerprint: string): Promise<Buffer> {
    const { stdout } = await this.run(['--export', fingerprint.toUpperCase()]);
    assert.ok(stdout.length > 0, `gpg exported nothing for ${fingerprint}`);
    return stdout;
  }

  /** `gpg --quick-gen-key <uid> <algo> sign never`; returns the new key's fingerprint, lower-case. */
  async generateKey(userId: string, algorithm: string): Promise<string> {
    const out = await this.text(['--status-fd', '1', '--quick-gen-key', userId, algorithm, 'sign', 'never']);
    const match = /^\[GNUPG:\] KEY_CREATED [BP] ([0-9A-F]{40})$/m.exec(out);
    assert.ok(match?.[1], `no KEY_CREATED in gpg output:\n${out}`);
    return match[1].toLowerCase();
  }

  /** `--with-colons` records of one kind (`sig`, `rev`, …) for a listing. */
  async colons(args: readonly string[], kinds: readonly string[] = ['sig', 'rev']): Promise<string[][]> {
    const out = await this.text(['--with-colons', ...args]);
    return out
      .split('\n')
      .map((line) => line.split(':'))
      .filter((fields) => kinds.includes(fields[0] as string));
  }

  async dispose(): Promise<void> {
    await run(GPGCONF, ['--homedir', this.home, '--kill', 'all']).catch(() => undefined);
    await rm(this.home, { recursive: true, force: true });
  }
}

/** Runs `body` with a fresh GnuPG home and always removes it. */
export async function withGnuPG<T>(body: (gpg: GnuPG) => Promise<T>, defaults: readonly string[] = []): Promise<T> {
  const gpg = await GnuPG.create(defaults);
  try {
    return await body(gpg);
  } finally {
    await gpg.dispose();
  }
}

/** In a colon listing: signature records (`sig`/`rev`) as issuer key id, class and validity. */
export function signatureRecords(records: string[][]) {
  return records.map((f) => ({ kind: f[0], validity: f[1], keyId: (f[4] ?? '').toLowerCase(), created: Number(f[5]), class: f[10] }));
}
