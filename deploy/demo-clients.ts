// The outside clients of the demonstration, run as their users run them: mosquitto_pub and
// mosquitto_sub as a device (its operational certificate) and as a gateway (a password on
// the broker's control listener), and `openssl ocsp` as a gateway asks about a certificate.
import { type ChildProcess, execFile, spawn } from 'node:child_process';

export interface ClientRun {
  readonly code: number;
  readonly output: string;
}

export function runClient(command: string, args: readonly string[]): Promise<ClientRun> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

/** A long-running mosquitto_sub: what it printed so far, and whether it ended. */
export class Subscription {
  readonly #child: ChildProcess;
  output = '';
  ended = false;

  constructor(args: readonly string[]) {
    // Line-buffered (coreutils' stdbuf): its output is read as it comes.
    this.#child = spawn('stdbuf', ['-oL', '-eL', 'mosquitto_sub', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.#child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.#child.once('exit', () => (this.ended = true));
  }

  stop(): void {
    if (!this.ended) this.#child.kill('SIGTERM');
  }
}

/** Where a device connects, and with what. */
export interface DeviceTls {
  readonly broker: string;
  readonly caFile: string;
  readonly cert: string;
  readonly key: string;
}

export function deviceArgs(d: DeviceTls): string[] {
  const port = d.broker.slice(d.broker.lastIndexOf(':') + 1);
  return ['-h', '127.0.0.1', '-p', port, '--cafile', d.caFile, '--cert', d.cert, '--key', d.key];
}

export function gatewayArgs(control: string, password: string): string[] {
  return ['-h', '127.0.0.1', '-p', control.slice(control.lastIndexOf(':') + 1), '-u', 'gateway', '-P', password];
}

/** `openssl ocsp` for one certificate: good, revoked or unknown (undefined when it could not ask or verify). */
export async function ocspStatus(url: string, issuerFile: string, caFile: string, certFile: string): Promise<string | undefined> {
  const asked = await runClient('openssl', ['ocsp', '-issuer', issuerFile, '-cert', certFile, '-url', url, '-CAfile', caFile]);
  if (!/Response verify OK/.test(asked.output)) return undefined;
  return /: (good|revoked|unknown)\b/.exec(asked.output)?.[1];
}
