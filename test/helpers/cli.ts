// Runs the `ics` command as a user would: one-shot commands, and `ics serve` in the
// background on ephemeral loopback ports until stopped.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const ICS = fileURLToPath(new URL('../../bin/ics.js', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function ics(args: string[], cwd: string, options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const env = { ...process.env, ICS_LOG_LEVEL: 'silent', ...options.env };
    const child = execFile(process.execPath, [ICS, ...args], { cwd, env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export async function ok(args: string[], cwd: string, options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const run = await ics(args, cwd, options);
  assert.equal(run.code, 0, `ics ${args.join(' ')} failed: ${run.stderr}`);
  return run;
}

export interface ServingNode {
  readonly child: ChildProcess;
  readonly addresses: { pid: number; hkp: string | null; ldap: string | null };
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** `ics serve` on ports 0 (sync off unless `args` say otherwise); resolves once addresses.json names this process. */
export async function serve(dataDir: string, cwd: string, args: string[] = []): Promise<ServingNode> {
  const child = spawn(process.execPath, [ICS, 'serve', '--data', dataDir, '--hkp', '127.0.0.1:0', '--ldap', '127.0.0.1:0', '--p2p', 'off', ...args], {
    cwd,
    env: { ...process.env, ICS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  for (;;) {
    if (done) throw new Error(`ics serve exited before it was ready: ${stderr}`);
    const text = await readFile(resolve(cwd, dataDir, 'addresses.json'), 'utf8').catch(() => undefined);
    const addresses = text === undefined ? undefined : (JSON.parse(text) as ServingNode['addresses']);
    if (addresses !== undefined && addresses.pid === child.pid) {
      return {
        child,
        addresses,
        stop: async () => {
          if (!done) child.kill('SIGTERM');
          return exited;
        },
      };
    }
    await sleep(50);
  }
}
