// Runs the `ics` command as a user would: one-shot commands, and `ics serve` in the
// background (on ephemeral loopback ports unless told otherwise) with its JSON log collected.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const ICS = fileURLToPath(new URL('../../bin/ics.js', import.meta.url));

/** `ics serve` flags for ephemeral loopback ports and no sync. */
export const EPHEMERAL = ['--hkp', '127.0.0.1:0', '--ldap', '127.0.0.1:0', '--p2p', 'off'];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  readonly input?: string;
  /** Extra environment; ICS_LOG_LEVEL is `silent` unless given here. */
  readonly env?: Record<string, string>;
}

export function ics(args: string[], cwd: string, options: RunOptions = {}): Promise<Run> {
  return new Promise((done) => {
    const env = { ...process.env, ICS_LOG_LEVEL: 'silent', ...options.env };
    const child = execFile(process.execPath, [ICS, ...args], { cwd, env }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export async function ok(args: string[], cwd: string, options: RunOptions = {}): Promise<Run> {
  const run = await ics(args, cwd, options);
  assert.equal(run.code, 0, `ics ${args.join(' ')} failed: ${run.stderr}`);
  return run;
}

/** A running `ics serve ARGS` (log level info), with its stderr (JSON log lines) collected. */
export class ServeProcess {
  readonly child: ChildProcess;
  log = '';
  exitCode: number | null | undefined;
  readonly #exited: Promise<number | null>;

  constructor(args: string[], cwd: string) {
    this.child = spawn(process.execPath, [ICS, 'serve', ...args], {
      cwd,
      env: { ...process.env, ICS_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.log += chunk.toString();
    });
    this.#exited = new Promise((done) =>
      this.child.once('exit', (code) => {
        this.exitCode = code;
        done(code);
      }),
    );
  }

  /** Waits (within the test's timeout) until a log line has `msg` matching `pattern`. */
  async logged(pattern: RegExp): Promise<Record<string, unknown>> {
    for (;;) {
      const line = this.log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => pattern.test(String(l.msg)));
      if (line) return line;
      if (this.exitCode !== undefined) throw new Error(`ics serve exited (${this.exitCode}) before logging ${pattern}: ${this.log}`);
      await sleep(50);
    }
  }

  /** SIGTERM (unless it has exited), then its exit code. */
  async stop(): Promise<number | null> {
    if (this.exitCode === undefined) this.child.kill('SIGTERM');
    return this.#exited;
  }
}

export interface ServingNode {
  readonly process: ServeProcess;
  /** What the node wrote to its addresses.json. */
  readonly addresses: { pid: number; hkp: string | null; ldap: string | null };
  stop(): Promise<number | null>;
}

/** `ics serve --data DIR` on ephemeral ports (plus `args`); resolves once it is ready and has written addresses.json. */
export async function serve(dataDir: string, cwd: string, args: string[] = []): Promise<ServingNode> {
  const server = new ServeProcess(['--data', dataDir, ...EPHEMERAL, ...args], cwd);
  await server.logged(/^ics node ready$/);
  const addresses = JSON.parse(await readFile(resolve(cwd, dataDir, 'addresses.json'), 'utf8')) as ServingNode['addresses'];
  assert.equal(addresses.pid, server.child.pid, 'addresses.json names this process');
  return { process: server, addresses, stop: () => server.stop() };
}
