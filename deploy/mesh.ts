// The four-role mesh on one machine (DESIGN §1, §6): manufacturer, developer, maintenance
// and infield nodes, each with its own data directory, policy from policies/, and HKP, LDAP
// and libp2p listeners on loopback, wired as in the paper:
//   manufacturer ⇄ maintenance (devices)      developer → maintenance (firmware)
//   maintenance → infield (system, firmware; `system` is readable by the infield node only)
// The example issuers every node trusts are generated here, at init: no key whose secret
// has been published is ever trusted. Every listener binds port 0 unless --base-port is
// given; the nodes' bound addresses are read from their addresses.json once they run, and
// only then written into the peers' policies (which the nodes reload on SIGHUP).
// Certificate authorities as the PKI of the program has them: an offline root at
// maintenance certifies the manufacturer's birth CA (birth certificates at the factory) and
// infield's issuing CA, which issues devices' operational certificates over EST to devices
// whose records it trusts (manufacturer and integrator). Beside infield, when Debian's
// mosquitto is installed, an MQTT broker admits those devices by their certificates and
// refuses them once revoked (deploy/mesh-broker.ts).
//
//   node --import ./bin/ts-loader.mjs deploy/mesh.ts up   [--dir mesh] [--base-port N]   initialise (once) and run until Ctrl-C
//   node --import ./bin/ts-loader.mjs deploy/mesh.ts init [--dir mesh] [--base-port N]   only initialise the data directories
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as openpgp from 'openpgp';
import { parseDocument } from 'yaml';
import { hashPassword } from '../ics/auth/index.ts';
import { CA_FILES, CertificateAuthority, type UnlockedAuthority } from '../ics/enrol/index.ts';
import { type BoundAddresses, DataDir, initDataDir } from '../ics/node/index.ts';
import { armor, armorPrivateKey, generateIdentity, readPrivateKey } from '../ics/record/index.ts';
import { loadOrCreatePeerKey } from '../ics/sync/index.ts';
import { initBroker, type MeshBroker, mosquittoInstalled, placeBroker, type RunningBroker, startBroker } from './mesh-broker.ts';

export const ROLES = ['manufacturer', 'developer', 'maintenance', 'infield'] as const;
export type MeshRole = (typeof ROLES)[number];

const ICS = fileURLToPath(new URL('../bin/ics.js', import.meta.url));

/**
 * Example issuers every node trusts, so that shared domains have equal definitions. Their
 * keys are made at init, per mesh: the secret keys stay in the mesh root, `issuers/`.
 */
export const EXAMPLE_ISSUERS = [
  { name: 'acme-manufacturer', userId: 'urn:cm4it:org:acme.example', algorithm: 'ed25519', roles: ['manufacturer'] },
  { name: 'integrator', userId: 'urn:cm4it:org:integrator.example', algorithm: 'p256', roles: ['integrator', 'maintainer'] },
  { name: 'firmware-developer', userId: 'urn:cm4it:org:firmware.acme.example', algorithm: 'ed25519', roles: ['developer'] },
  { name: 'notified-body', userId: 'urn:cm4it:org:notified-body.example', algorithm: 'ed25519', roles: ['certifier'] },
] as const;
export type ExampleIssuer = (typeof EXAMPLE_ISSUERS)[number]['name'];

/** Where the example issuers' keys live in the mesh root. */
export const ISSUERS_DIR = 'issuers';
const issuerFiles = (root: string, name: string) => ({
  public: join(root, ISSUERS_DIR, `${name}.asc`),
  secret: join(root, ISSUERS_DIR, `${name}.secret.asc`),
});
const issuersPassphraseFile = (root: string) => join(root, ISSUERS_DIR, 'passphrase');

/** pino's numeric levels: the lines passed to startMesh's `output` are those at or above `logLevel`. */
const PINO_LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** How long a node may take to start, or to reload its policy, before the mesh gives up. */
const NODE_READY_MS = 60_000;

export interface MeshNode {
  readonly role: MeshRole;
  readonly dir: string;
  /** HOST:PORT the HKP / JSON API listens on (port 0 until the node runs). */
  readonly hkp: string;
  /** HOST:PORT of LDAP (port 0 until the node runs). */
  readonly ldap: string;
  /** libp2p listen multiaddr (tcp/0 until the node runs). */
  readonly p2p: string;
  readonly peerId: string;
  readonly issuer: string;
  /** HOST:PORT of the EST listener (infield only; port 0 until the node runs). */
  readonly est?: string;
}

export interface Mesh {
  readonly root: string;
  readonly nodes: Record<MeshRole, MeshNode>;
  /** Fingerprints of the example issuers, by name. */
  readonly issuers: Record<ExampleIssuer, string>;
  /** The MQTT broker beside infield (mosquitto), when it was installed at init. */
  readonly broker?: MeshBroker;
}

function listeners(basePort: number | undefined, index: number, role: MeshRole) {
  const base = basePort === undefined ? undefined : basePort + index * 10;
  const at = (offset: number) => (base === undefined ? 0 : base + offset);
  return {
    hkp: `127.0.0.1:${at(0)}`,
    ldap: `127.0.0.1:${at(1)}`,
    p2p: `/ip4/127.0.0.1/tcp/${at(2)}`,
    // The system's ICS is where devices in the field enrol.
    ...(role === 'infield' && { est: `127.0.0.1:${at(3)}` }),
  };
}

/** The node's passphrase, which protects its issuer key and its CA key alike. */
const nodePassphrase = async (node: MeshNode) => (await readFile(join(node.dir, 'keys/issuer.passphrase'), 'utf8')).trim();

/** Where the mesh keeps the manufacturer's birth CA certificate in infield's data directory. */
const BIRTH_CA_FILE = 'keys/acme-birth-ca.pem';

/**
 * The CAs: maintenance's root (offline in a real program: it signs two requests here and
 * nothing after), the manufacturer's Ed25519 birth CA and infield's P-256 issuing CA under it;
 * infield's policy trusts the birth CA and issues to devices the manufacturer registered and
 * an integrator countersigned.
 */
async function initCertificateAuthorities(nodes: Record<MeshRole, MeshNode>): Promise<void> {
  const rootCa = new CertificateAuthority(join(nodes.maintenance.dir, 'ca'));
  await rootCa.initRoot({ passphrase: await nodePassphrase(nodes.maintenance), subject: 'CN=Acme program root CA,O=Acme' });
  const root: UnlockedAuthority = await rootCa.unlock(await nodePassphrase(nodes.maintenance));
  const issuing = [
    { role: 'manufacturer', subject: 'CN=Acme factory birth CA,O=Acme', algorithm: 'ed25519' },
    { role: 'infield', subject: 'CN=Acme field issuing CA,O=Acme', algorithm: 'p256' },
  ] as const;
  for (const { role, subject, algorithm } of issuing) {
    const ca = new CertificateAuthority(join(nodes[role].dir, 'ca'));
    const { requestPem } = await ca.initIssuing({ passphrase: await nodePassphrase(nodes[role]), subject, algorithm });
    const signed = await root.signSubordinate(requestPem);
    await ca.install(signed.pem + root.chainPem());
  }
  await copyFile(join(nodes.manufacturer.dir, 'ca', CA_FILES.certificate), join(nodes.infield.dir, BIRTH_CA_FILE));
  const file = join(nodes.infield.dir, 'policy.yaml');
  const doc = parseDocument(await readFile(file, 'utf8'));
  doc.set('enrol', doc.createNode({ birthCAs: [BIRTH_CA_FILE], requireRoles: ['manufacturer', 'integrator'] }));
  await writeFile(file, doc.toString());
}

/** The trust anchors a device is given for the EST server at `role`: that node's CA chain up to the root. */
export const caChainFile = (node: MeshNode) => join(node.dir, 'ca', CA_FILES.chain);

/** Sync wiring: which domains each node pulls from / pushes to which peer. */
const WIRING: Record<MeshRole, Array<{ peer: MeshRole; pull: string[]; push: string[] }>> = {
  manufacturer: [{ peer: 'maintenance', pull: ['devices'], push: ['devices'] }],
  developer: [{ peer: 'maintenance', pull: [], push: ['firmware'] }],
  maintenance: [
    { peer: 'manufacturer', pull: ['devices'], push: ['devices'] },
    { peer: 'developer', pull: ['firmware'], push: [] },
    { peer: 'infield', pull: [], push: ['system', 'firmware'] },
  ],
  infield: [{ peer: 'maintenance', pull: ['system', 'firmware'], push: [] }],
};

async function readIfExists(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

/**
 * Generates the example issuers into `<root>/issuers/`: public keys, secret keys encrypted
 * with one generated passphrase, secret files and passphrase mode 0600 in a 0700 directory.
 */
async function generateExampleIssuers(root: string): Promise<Record<ExampleIssuer, string>> {
  const dir = join(root, ISSUERS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700); // mkdir's mode is masked by the umask
  const passphrase = randomBytes(32).toString('base64url');
  await writeFile(issuersPassphraseFile(root), `${passphrase}\n`, { mode: 0o600, flag: 'wx' });
  const fingerprints = {} as Record<ExampleIssuer, string>;
  for (const issuer of EXAMPLE_ISSUERS) {
    const { record, privateKey } = await generateIdentity({ userId: issuer.userId, algorithm: issuer.algorithm });
    const files = issuerFiles(root, issuer.name);
    await writeFile(files.secret, await armorPrivateKey(privateKey, passphrase), { mode: 0o600, flag: 'wx' });
    await writeFile(files.public, armor('publicKey', record.bytes), { flag: 'wx' });
    fingerprints[issuer.name] = record.id;
  }
  return fingerprints;
}

/** An example issuer's private key, decrypted with the mesh's issuer passphrase. */
export async function exampleIssuerKey(root: string, name: ExampleIssuer): Promise<openpgp.PrivateKey> {
  const passphrase = (await readFile(issuersPassphraseFile(root), 'utf8')).trim();
  return readPrivateKey(await readFile(issuerFiles(root, name).secret, 'utf8'), passphrase);
}

/**
 * Creates the four data directories (once) and wires their policies; returns the layout.
 * Without `basePort` every listener binds port 0 (ephemeral); peers' addresses are then
 * filled in by startMesh.
 */
export async function initMesh(root: string, basePort?: number): Promise<Mesh> {
  const saved = await readIfExists(join(root, 'mesh.json'));
  if (saved) {
    const mesh = JSON.parse(saved) as Partial<Mesh>;
    // Meshes made before the example issuers were generated trust published test keys.
    if (!mesh.issuers || !mesh.root) throw new Error(`${root} holds a mesh of an earlier layout (it trusts published example keys): remove it and run init again`);
    if (!mesh.nodes?.infield.est) throw new Error(`${root} holds a mesh of an earlier layout (no certificate authorities, no EST): remove it and run init again`);
    return mesh as Mesh;
  }
  root = resolve(root);
  const issuers = await generateExampleIssuers(root);
  const nodes = {} as Record<MeshRole, MeshNode>;
  for (const [index, role] of ROLES.entries()) {
    const dir = resolve(root, role);
    const init = await initDataDir(dir, { role, name: `acme-${role}` });
    const key = await loadOrCreatePeerKey(new DataDir(dir).resolve('keys/libp2p.key'));
    nodes[role] = { role, dir, ...listeners(basePort, index, role), peerId: key.peerId, issuer: init.issuerFingerprint };
  }
  const nodeRoles: Record<MeshRole, string[]> = {
    manufacturer: ['manufacturer'],
    developer: ['developer'],
    maintenance: ['integrator', 'maintainer', 'owner'],
    infield: ['owner'],
  };
  for (const role of ROLES) {
    const node = nodes[role];
    const file = join(node.dir, 'policy.yaml');
    const doc = parseDocument(await readFile(file, 'utf8'));
    // The role policy's own trust list names the published example keys: replaced whole.
    const trust = [];
    for (const example of EXAMPLE_ISSUERS) {
      const key = `keys/${example.name}.asc`;
      await copyFile(issuerFiles(root, example.name).public, join(node.dir, key));
      trust.push({ name: example.name, fingerprint: issuers[example.name], roles: [...example.roles], key });
    }
    for (const other of ROLES) {
      const key = `keys/node-${other}.asc`;
      await copyFile(join(nodes[other].dir, 'keys/issuer.asc'), join(node.dir, key));
      trust.push({ name: `node-${other}`, fingerprint: nodes[other].issuer, roles: nodeRoles[other], key });
    }
    doc.setIn(['trust', 'issuers'], doc.createNode(trust));
    if (role === 'maintenance') {
      const domains = doc.get('domains') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
      const byName = (name: string) => domains.items.find((d) => d.get('name') === name);
      // `system` is private: only the infield node (and authenticated users) may read it;
      // `devices` flows back to the manufacturer (countersignatures, maintainers' statuses).
      byName('system')?.set('read', doc.createNode({ peers: [nodes.infield.peerId], authenticated: true }));
      byName('devices')?.set('read', doc.createNode({ peers: [nodes.manufacturer.peerId], authenticated: true }));
    }
    await writeFile(file, doc.toString());
  }
  await initCertificateAuthorities(nodes);
  // Peers by id only until their addresses are known (startMesh); a peer may still dial in.
  await writePeerAddresses(nodes, undefined);
  // An operator account on every node, for authenticated reads of private domains.
  const password = randomBytes(18).toString('base64url');
  await writeFile(join(root, 'operator.password'), `${password}\n`, { mode: 0o600 });
  const passwordHash = await hashPassword(password);
  for (const role of ROLES) {
    const file = join(nodes[role].dir, 'config.yaml');
    const doc = parseDocument(await readFile(file, 'utf8'));
    doc.setIn(['auth', 'users'], doc.createNode([{ name: 'operator', passwordHash, write: false }]));
    // Loopback only: basic auth over plain HTTP is otherwise refused.
    doc.setIn(['hkp', 'allowInsecureAuth'], true);
    await writeFile(file, doc.toString(), { mode: 0o600 });
  }
  // The broker beside infield's gateway: devices connect with the certificates infield issues.
  const brokerPorts = basePort === undefined ? undefined : { devices: basePort + 3 * 10 + 4, control: basePort + 3 * 10 + 5 };
  const broker = (await mosquittoInstalled()) ? await initBroker(ICS, nodes.infield.dir, brokerPorts) : undefined;
  const mesh: Mesh = { root, nodes, issuers, ...(broker && { broker }) };
  await writeFile(join(root, 'mesh.json'), `${JSON.stringify(mesh, null, 2)}\n`);
  return mesh;
}

/**
 * Writes each node's sync peers (WIRING) into its policy, with the peers' libp2p addresses
 * when known; without them a node does not dial and waits for its peers to dial in.
 */
async function writePeerAddresses(nodes: Record<MeshRole, MeshNode>, p2p: Record<MeshRole, readonly string[]> | undefined): Promise<void> {
  for (const role of ROLES) {
    const file = join(nodes[role].dir, 'policy.yaml');
    const doc = parseDocument(await readFile(file, 'utf8'));
    doc.setIn(
      ['sync', 'peers'],
      doc.createNode(
        WIRING[role].map((w) => ({
          name: w.peer,
          peerId: nodes[w.peer].peerId,
          addresses: (p2p?.[w.peer] ?? []).map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${nodes[w.peer].peerId}`)),
          pull: w.pull,
          push: w.push,
          intervalSeconds: 30,
        })),
      ),
    );
    await writeFile(file, doc.toString());
  }
}

/**
 * Exempts 127.0.0.1 from every node's per-address limits (clientLimits.exempt): for load from
 * one machine, as from gateways behind one NAT, where a 429 would be the load's own doing.
 * Takes effect at the next start.
 */
export async function exemptLoopback(mesh: Mesh): Promise<void> {
  for (const role of ROLES) {
    const file = join(mesh.nodes[role].dir, 'config.yaml');
    const doc = parseDocument(await readFile(file, 'utf8'));
    doc.setIn(['clientLimits', 'exempt'], doc.createNode(['127.0.0.1']));
    await writeFile(file, doc.toString(), { mode: 0o600 });
  }
}

export interface RunningMesh {
  /** The mesh with every node's bound addresses (port 0 resolved). */
  readonly mesh: Mesh;
  stop(): Promise<void>;
}

/** One `ics serve` child: its log lines, and a wait for the first line holding a message. */
class NodeProcess {
  readonly child: ChildProcess;
  #log = '';
  #partial = '';
  #waiters: Array<{ msg: string; done: () => void }> = [];
  #exited: Error | undefined;
  #onExit: Array<(error: Error) => void> = [];

  constructor(
    readonly role: MeshRole,
    args: string[],
    minLevel: number,
    output: ((role: MeshRole, line: string) => void) | undefined,
    nodeFlags: readonly string[] = [],
  ) {
    // The node logs at info at least: the mesh waits for its info lines, and filters below.
    this.child = spawn(process.execPath, [...nodeFlags, ICS, ...args], {
      // Two malloc arenas, as deploy/ics.service sets: glibc's default (8 per core) lets the
      // libuv pool and LevelDB's threads each keep a fragmented arena (tens of MiB of RSS).
      env: { MALLOC_ARENA_MAX: '2', ...process.env, ICS_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      const lines = (this.#partial + chunk.toString()).split('\n');
      this.#partial = lines.pop() ?? '';
      for (const line of lines) if (line) this.#line(line, minLevel, output);
    });
    this.child.once('exit', (code, signal) => {
      this.#exited = new Error(`${role} node exited with ${code ?? signal}:\n${this.#log}${this.#partial}`);
      for (const fail of this.#onExit.splice(0)) fail(this.#exited);
    });
  }

  #line(line: string, minLevel: number, output: ((role: MeshRole, line: string) => void) | undefined): void {
    if (this.#log.length < 65536) this.#log += `${line}\n`;
    let entry: { level?: unknown; msg?: unknown };
    try {
      entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
    } catch {
      output?.(this.role, line); // not a log line (e.g. a stack trace)
      return;
    }
    const msg = entry.msg;
    if (typeof entry.level !== 'number' || entry.level >= minLevel) output?.(this.role, line);
    for (const waiter of this.#waiters.filter((w) => w.msg === msg)) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.done();
    }
  }

  /** Resolves at the next log line whose message is `msg`; rejects if the node exits first. */
  waitFor(msg: string, what: string): Promise<void> {
    return new Promise<void>((done, fail) => {
      if (this.#exited) return fail(this.#exited);
      const timer = setTimeout(() => fail(new Error(`${this.role} node: no "${msg}" within ${NODE_READY_MS / 1000} s (${what}):\n${this.#log}`)), NODE_READY_MS);
      const settle = () => clearTimeout(timer);
      this.#waiters.push({ msg, done: () => (settle(), done()) });
      this.#onExit.push((error) => (settle(), fail(error)));
    });
  }

  stop(): Promise<void> {
    return new Promise<void>((done) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return done();
      this.child.once('exit', () => done());
      this.child.kill('SIGTERM');
    });
  }
}

/** The addresses a node wrote once bound; refuses a file left by an earlier process. */
async function boundAddresses(node: MeshNode, pid: number | undefined): Promise<BoundAddresses> {
  const bound = JSON.parse(await readFile(new DataDir(node.dir).addressesFile, 'utf8')) as BoundAddresses;
  if (bound.pid !== pid) throw new Error(`${node.role} node: addresses.json was written by process ${bound.pid}, not ${pid}`);
  if (!bound.hkp || !bound.ldap || !bound.p2p?.addresses.length) throw new Error(`${node.role} node: addresses.json lacks a listener`);
  if (bound.p2p.peerId !== node.peerId) throw new Error(`${node.role} node runs as peer ${bound.p2p.peerId}, not ${node.peerId}`);
  return bound;
}

/**
 * Starts the four nodes as `ics serve` processes on the mesh's listen addresses (port 0 by
 * default), reads their bound addresses, writes them into the peers' policies and has each
 * node reload its policy (SIGHUP); resolves when all four have reloaded.
 */
export async function startMesh(
  mesh: Mesh,
  options: {
    logLevel?: string;
    output?: (role: MeshRole, line: string) => void;
    /** Flags for node itself before the script (e.g. `--cpu-prof`, `--heapsnapshot-signal=SIGUSR2`), for diagnosis. */
    nodeFlags?: readonly string[];
  } = {},
): Promise<RunningMesh> {
  // Addresses from an earlier run are stale (ports were ephemeral): peers by id only until wired.
  await writePeerAddresses(mesh.nodes, undefined);
  // Before infield starts: it reads the broker's control address from its config.
  const broker = mesh.broker && (await placeBroker(mesh.broker));
  const processes: NodeProcess[] = [];
  let runningBroker: RunningBroker | undefined;
  const stop = async () => {
    await runningBroker?.stop();
    await Promise.all(processes.map((p) => p.stop()));
  };
  try {
    for (const role of ROLES) {
      const node = mesh.nodes[role];
      const args = ['serve', '--data', node.dir, '--hkp', node.hkp, '--ldap', node.ldap, '--p2p', node.p2p, ...(node.est ? ['--est', node.est] : [])];
      processes.push(new NodeProcess(role, args, PINO_LEVELS[options.logLevel ?? 'info'] ?? 30, options.output, options.nodeFlags));
    }
    await Promise.all(processes.map((p) => p.waitFor('ics node ready', 'start')));
    const nodes = {} as Record<MeshRole, MeshNode>;
    const p2p = {} as Record<MeshRole, readonly string[]>;
    for (const p of processes) {
      const node = mesh.nodes[p.role];
      const bound = await boundAddresses(node, p.child.pid);
      nodes[p.role] = {
        ...node,
        hkp: new URL(bound.hkp as string).host,
        ldap: new URL(bound.ldap as string).host,
        p2p: (bound.p2p?.addresses[0] as string).replace(/\/p2p\/.*$/, ''),
        ...(node.est && bound.est && { est: new URL(bound.est).host }),
      };
      p2p[p.role] = bound.p2p?.addresses ?? [];
    }
    await writePeerAddresses(mesh.nodes, p2p);
    await Promise.all(
      processes.map((p) => {
        const reloaded = p.waitFor('policy reloaded', 'reload after wiring the peers');
        p.child.kill('SIGHUP');
        return reloaded;
      }),
    );
    // After infield: the broker's crlfile is infield's CRL, written at its start.
    // mosquitto's log has no levels worth filtering by: shown when the nodes' info lines are.
    const brokerOutput = (PINO_LEVELS[options.logLevel ?? 'info'] ?? 30) <= 30 ? (line: string) => options.output?.('infield', `mosquitto: ${line}`) : undefined;
    if (broker) runningBroker = await startBroker(broker, brokerOutput);
    return { mesh: { ...mesh, nodes, ...(broker && { broker }) }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `--base-port N`: fixed ports N…N+32 for people who want them; absent: port 0 everywhere. */
export function parseBasePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1024 || port + ROLES.length * 10 > 65535) throw new Error(`--base-port must be an integer from 1024 to ${65535 - ROLES.length * 10}`);
  return port;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { dir: { type: 'string', default: 'mesh' }, 'base-port': { type: 'string' } },
  });
  const command = positionals[0] ?? 'up';
  const mesh = await initMesh(values.dir as string, parseBasePort(values['base-port']));
  const show = (m: Mesh) => {
    for (const node of Object.values(m.nodes)) {
      process.stdout.write(`${node.role.padEnd(12)} hkp http://${node.hkp}  ldap ldap://${node.ldap}  p2p ${node.p2p}/p2p/${node.peerId}${node.est ? `  est https://${node.est}` : ''}\n`);
    }
    if (m.broker) process.stdout.write(`${'broker'.padEnd(12)} mqtts://${m.broker.devices} (devices)  mqtt://${m.broker.control} (gateway: ${join(m.broker.dataDir, 'broker/gateway.password')})\n`);
    else process.stdout.write('no MQTT broker: mosquitto was not installed when the mesh was made (apt-get install mosquitto mosquitto-clients)\n');
  };
  process.stdout.write(`example issuers' keys in ${join(mesh.root, ISSUERS_DIR)} (secret keys mode 0600, passphrase in ${join(ISSUERS_DIR, 'passphrase')})\n`);
  if (command === 'init') return show(mesh);
  const running = await startMesh(mesh, { output: (role, line) => process.stderr.write(`[${role}] ${line}\n`) });
  show(running.mesh);
  process.stdout.write('mesh running; Ctrl-C stops it\n');
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await running.stop();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  });
}
