// Real mosquitto and its clients for the broker tests: the broker started with a generated
// configuration, clients run as devices and gateways run them, their output kept.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { freePort } from '../../deploy/free-port.ts';
import { accepting } from '../../deploy/mesh-broker.ts';
import { requireTool } from '../helpers/tools.ts';

export { freePort };

export const MOSQUITTO = '/usr/sbin/mosquitto';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A process whose output is kept, and whose exit can be awaited. */
export class Watched {
  readonly child: ChildProcess;
  output = '';
  exitCode: number | null | undefined;
  readonly exited: Promise<number | null>;

  constructor(command: string, args: readonly string[], cwd: string) {
    this.child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  /** Waits until the output matches, within `ms`. */
  async printed(pattern: RegExp, ms = 20_000): Promise<void> {
    for (const started = Date.now(); !pattern.test(this.output); await sleep(20)) {
      if (Date.now() - started > ms) throw new Error(`no ${pattern} within ${ms} ms; output:\n${this.output}`);
    }
  }

  async stop(): Promise<void> {
    if (this.exitCode === undefined) this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** mosquitto -c CONFIG, resolved once `port` accepts connections. */
export async function startMosquitto(config: string, port: number, cwd: string): Promise<Watched> {
  requireTool(MOSQUITTO, 'mosquitto');
  const broker = new Watched(MOSQUITTO, ['-c', config], cwd);
  for (const started = Date.now(); !(await accepting(`127.0.0.1:${port}`)); await sleep(50)) {
    if (broker.exitCode !== undefined) throw new Error(`mosquitto exited (${broker.exitCode}):\n${broker.output}`);
    if (Date.now() - started > 10_000) throw new Error(`mosquitto does not listen on ${port} within 10 s:\n${broker.output}`);
  }
  return broker;
}

export interface ClientRun {
  readonly code: number;
  readonly output: string;
}

/** mosquitto_pub / mosquitto_sub run to their end. */
export function mqttClient(command: 'mosquitto_pub' | 'mosquitto_sub', args: readonly string[], cwd: string): Promise<ClientRun> {
  requireTool(command, 'mosquitto-clients');
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

/** A long-running mosquitto_sub (a live session); line-buffered, since its output is read as it comes (stdbuf: coreutils). */
export function subscriber(args: readonly string[], cwd: string): Watched {
  requireTool('mosquitto_sub', 'mosquitto-clients');
  return new Watched('stdbuf', ['-oL', '-eL', 'mosquitto_sub', ...args], cwd);
}
