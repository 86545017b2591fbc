// Shared by the EST tests: curl and openssl as a device runs them, in a working directory.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.ts';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, debianPackage: string, args: string[], cwd: string): Promise<Run> {
  requireTool(command, debianPackage);
  return new Promise((done) => {
    execFile(command, args, { cwd, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export const openssl = (args: string[], cwd: string) => run('openssl', 'openssl', args, cwd);

/** An HTTP answer as curl saw it. */
export interface CurlAnswer {
  readonly status: number;
  /** Header names lower-cased; the last value wins. */
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly stderr: string;
}

/**
 * curl ARGS URL, writing the body to stdout and the headers to a dump that is parsed here.
 * `curl` fails only when it cannot talk HTTP at all (a status ≥ 400 is an answer).
 */
export async function curl(args: string[], url: string, cwd: string): Promise<CurlAnswer> {
  const result = await run('curl', 'curl', ['-sS', '-D', '-', '-o', '-', ...args, url], cwd);
  if (result.code !== 0) throw new Error(`curl ${args.join(' ')} ${url} failed (${result.code}): ${result.stderr}`);
  // The header block ends at the first blank line; the body follows.
  const split = result.stdout.indexOf('\r\n\r\n');
  const head = result.stdout.slice(0, split);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine?.split(' ')[1]), headers, body: result.stdout.slice(split + 4), stderr: result.stderr };
}

export interface CurlEnrolment {
  /** The EST listener's base URL. */
  readonly est: string;
  /** The working directory: holds the CA chain (`caFile`), the birth certificate `<serial>.pem` and its key. */
  readonly dir: string;
  readonly caFile: string;
  /** The device's URN, the new key's CN. */
  readonly urn: string;
  /** The birth certificate and key file names in `dir` (TLS client authentication). */
  readonly birthCert: string;
  readonly birthKey: string;
  /** Files made: <name>.key (new P-256 key), <name>.pem (the operational certificate). */
  readonly name: string;
}

/** Enrols as a device does with openssl and curl (simpleenroll); returns the new certificate's serial (lower-case hex). */
export async function enrolWithCurl(e: CurlEnrolment): Promise<string> {
  const { dir, name } = e;
  const made = await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${e.urn}`, '-outform', 'DER', '-out', `${name}.der`], dir);
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await openssl(['base64', '-in', `${name}.der`, '-out', `${name}.b64`], dir)).code, 0);
  const answer = await curl(['--cacert', e.caFile, '--cert', e.birthCert, '--key', e.birthKey, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${name}.b64`], `${e.est}/.well-known/est/simpleenroll`, dir);
  assert.equal(answer.status, 200, answer.body);
  await writeFile(join(dir, `${name}.p7.b64`), answer.body);
  assert.equal((await openssl(['base64', '-d', '-in', `${name}.p7.b64`, '-out', `${name}.p7`], dir)).code, 0);
  assert.equal((await openssl(['pkcs7', '-inform', 'DER', '-in', `${name}.p7`, '-print_certs', '-out', `${name}.pem`], dir)).code, 0);
  const printed = await openssl(['x509', '-in', `${name}.pem`, '-noout', '-serial'], dir);
  return (printed.stdout.trim().split('=')[1] ?? '').toLowerCase();
}
