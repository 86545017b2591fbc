// Shared by the EST tests: curl and openssl as a device runs them, in a working directory.
import { execFile } from 'node:child_process';
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
