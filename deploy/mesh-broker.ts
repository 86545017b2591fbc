// The MQTT broker beside the infield node (Debian's mosquitto 2.0, when installed): set up
// once by `ics broker init` on infield's data directory, started after the nodes (it reads
// infield's CRL), stopped with them. mosquitto cannot bind port 0, so without a base port its
// two listeners get free loopback ports at each start, written into its configuration and
// into infield's config (broker.control.url) before infield starts.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { freePort } from './free-port.ts';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { findDynsecPlugin } from '../ics/broker/index.ts';

export const MOSQUITTO = '/usr/sbin/mosquitto';
const READY_MS = 10_000;

export interface MeshBroker {
  /** infield's data directory; the broker's files are in its broker/. */
  readonly dataDir: string;
  /** HOST:PORT of the devices' TLS listener and of the password (control) listener; port 0 until placed. */
  readonly devices: string;
  readonly control: string;
}

/** Whether mosquitto and its dynamic-security plugin are installed. */
export async function mosquittoInstalled(): Promise<boolean> {
  if (!(await access(MOSQUITTO).then(() => true, () => false))) return false;
  return findDynsecPlugin().then(() => true, () => false);
}


function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, (error, stdout, stderr) => (error ? reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)));
  });
}

/** `ics broker init` for infield: the broker's files and infield's broker section. `ports`: fixed ones (a base port), else placed at each start. */
export async function initBroker(ics: string, dataDir: string, ports?: { devices: number; control: number }): Promise<MeshBroker> {
  const devices = `127.0.0.1:${ports?.devices ?? 0}`;
  const control = `127.0.0.1:${ports?.control ?? 0}`;
  // Placeholders until placeBroker when the ports are ephemeral (init takes real ones).
  const initial = ports ?? { devices: await freePort(), control: await freePort() };
  const asRoot = process.getuid?.() === 0 ? ['--user', 'root'] : []; // as root, mosquitto would drop to its own user
  await run(process.execPath, [ics, 'broker', 'init', '--data', dataDir, '--devices', `127.0.0.1:${initial.devices}`, '--control', `127.0.0.1:${initial.control}`, ...asRoot, '--json']);
  return { dataDir, devices, control };
}

/** The broker with its ports for this start: fixed ones kept, port 0 replaced by free ports in its files and infield's config. */
export async function placeBroker(broker: MeshBroker): Promise<MeshBroker> {
  const port = async (address: string) => (address.endsWith(':0') ? freePort() : Number(address.split(':').pop()));
  const devices = await port(broker.devices);
  const control = await port(broker.control);
  const confFile = join(broker.dataDir, 'broker/mosquitto.conf');
  let listener = 0;
  const conf = (await readFile(confFile, 'utf8')).replace(/^listener \d+ (\S+)$/gm, (_, host: string) => `listener ${listener++ === 0 ? devices : control} ${host}`);
  await writeFile(confFile, conf);
  const configFile = join(broker.dataDir, 'config.yaml');
  const doc = parseDocument(await readFile(configFile, 'utf8'));
  doc.setIn(['broker', 'control', 'url'], `mqtt://127.0.0.1:${control}`);
  await writeFile(configFile, doc.toString());
  return { ...broker, devices: `127.0.0.1:${devices}`, control: `127.0.0.1:${control}` };
}

/** Whether HOST:PORT accepts a TCP connection now. */
export function accepting(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.connect(port, host);
  });
}

export interface RunningBroker {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** mosquitto -c broker/mosquitto.conf (infield must have written its CRL); resolves once both listeners accept. */
export async function startBroker(broker: MeshBroker, output?: (line: string) => void): Promise<RunningBroker> {
  const child = spawn(MOSQUITTO, ['-c', join(broker.dataDir, 'broker/mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    for (const line of chunk.toString().split('\n')) if (line) output?.(line);
  });
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  for (const started = Date.now(); !((await accepting(broker.devices)) && (await accepting(broker.control))); await new Promise((r) => setTimeout(r, 50))) {
    if (child.exitCode !== null || Date.now() - started > READY_MS) {
      await stop();
      throw new Error(`mosquitto did not start on ${broker.devices} and ${broker.control}:\n${log}`);
    }
  }
  return { child, stop };
}
