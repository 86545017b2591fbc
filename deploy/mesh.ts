// The four-role mesh on one machine (DESIGN §1, §6): manufacturer, developer, maintenance
// and infield nodes, each with its own data directory, policy from policies/, and HKP, LDAP
// and libp2p listeners on loopback ports, wired as in the paper:
//   manufacturer ⇄ maintenance (devices)      developer → maintenance (firmware)
//   maintenance → infield (system, firmware; `system` is readable by the infield node only)
//
//   tsx deploy/mesh.ts up   [--dir mesh] [--base-port 4100]   initialise (once) and run until Ctrl-C
//   tsx deploy/mesh.ts init [--dir mesh] [--base-port 4100]   only initialise the data directories
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { hashPassword } from '../ics/node/auth.ts';
import { DataDir, initDataDir } from '../ics/node/datadir.ts';
import { parseKeyRecord } from '../ics/record/index.ts';
import { loadOrCreatePeerKey } from '../ics/sync/index.ts';

export const ROLES = ['manufacturer', 'developer', 'maintenance', 'infield'] as const;
export type MeshRole = (typeof ROLES)[number];

const ICS = fileURLToPath(new URL('../bin/ics.js', import.meta.url));
const POLICIES = fileURLToPath(new URL('../policies/', import.meta.url));
/** Example issuers every node trusts (policies/keys), so that shared domains have equal definitions. */
const EXAMPLE_ISSUERS = [
  { name: 'acme-manufacturer', roles: ['manufacturer'], key: 'acme-manufacturer.asc' },
  { name: 'integrator', roles: ['integrator', 'maintainer'], key: 'integrator.asc' },
  { name: 'firmware-developer', roles: ['developer'], key: 'firmware-developer.asc' },
  { name: 'notified-body', roles: ['certifier'], key: 'notified-body.asc' },
];

export interface MeshNode {
  readonly role: MeshRole;
  readonly dir: string;
  readonly hkp: string;
  readonly ldap: string;
  readonly p2p: string;
  readonly peerId: string;
  readonly issuer: string;
}

export interface Mesh {
  readonly nodes: Record<MeshRole, MeshNode>;
}

function ports(basePort: number, index: number) {
  const base = basePort + index * 10;
  return { hkp: `127.0.0.1:${base}`, ldap: `127.0.0.1:${base + 1}`, p2p: `/ip4/127.0.0.1/tcp/${base + 2}` };
}

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

/** Creates the four data directories (once) and wires their policies; returns the layout. */
export async function initMesh(root: string, basePort: number): Promise<Mesh> {
  const saved = await readIfExists(join(root, 'mesh.json'));
  if (saved) return JSON.parse(saved) as Mesh;
  const nodes = {} as Record<MeshRole, MeshNode>;
  for (const [index, role] of ROLES.entries()) {
    const dir = resolve(root, role);
    const init = await initDataDir(dir, { role, name: `acme-${role}` });
    const key = await loadOrCreatePeerKey(new DataDir(dir).resolve('keys/libp2p.key'));
    nodes[role] = { role, dir, ...ports(basePort, index), peerId: key.peerId, issuer: init.issuerFingerprint };
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
    const trust = [];
    for (const example of EXAMPLE_ISSUERS) {
      await copyFile(join(POLICIES, 'keys', example.key), join(node.dir, 'keys', example.key));
      const fingerprint = (await parseKeyRecord(await readFile(join(POLICIES, 'keys', example.key)))).record.id;
      trust.push({ name: example.name, fingerprint, roles: example.roles, key: `keys/${example.key}` });
    }
    for (const other of ROLES) {
      const key = `keys/node-${other}.asc`;
      await copyFile(join(nodes[other].dir, 'keys/issuer.asc'), join(node.dir, key));
      trust.push({ name: `node-${other}`, fingerprint: nodes[other].issuer, roles: nodeRoles[other], key });
    }
    doc.setIn(['trust', 'issuers'], doc.createNode(trust));
    doc.setIn(
      ['sync', 'peers'],
      doc.createNode(
        WIRING[role].map((w) => ({
          name: w.peer,
          peerId: nodes[w.peer].peerId,
          addresses: [`${nodes[w.peer].p2p}/p2p/${nodes[w.peer].peerId}`],
          pull: w.pull,
          push: w.push,
          intervalSeconds: 30,
        })),
      ),
    );
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
  // An operator account on every node, for authenticated reads of private domains.
  const password = randomBytes(18).toString('base64url');
  await writeFile(join(root, 'operator.password'), `${password}\n`, { mode: 0o600 });
  const passwordHash = await hashPassword(password);
  for (const role of ROLES) {
    const file = join(nodes[role].dir, 'config.yaml');
    const doc = parseDocument(await readFile(file, 'utf8'));
    doc.setIn(['auth', 'users'], doc.createNode([{ name: 'operator', passwordHash, write: false }]));
    await writeFile(file, doc.toString(), { mode: 0o600 });
  }
  const mesh: Mesh = { nodes };
  await writeFile(join(root, 'mesh.json'), `${JSON.stringify(mesh, null, 2)}\n`);
  return mesh;
}

export interface RunningMesh {
  readonly mesh: Mesh;
  stop(): Promise<void>;
}

/** Starts the four nodes as `ics serve` processes; resolves when all are ready. */
export async function startMesh(mesh: Mesh, options: { logLevel?: string; output?: (role: MeshRole, line: string) => void } = {}): Promise<RunningMesh> {
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      ),
    );
  };
  try {
    await Promise.all(
      ROLES.map(
        (role) =>
          new Promise<void>((ready, fail) => {
            const node = mesh.nodes[role];
            const child = spawn(process.execPath, [ICS, 'serve', '--data', node.dir, '--hkp', node.hkp, '--ldap', node.ldap, '--p2p', node.p2p], {
              env: { ...process.env, ICS_LOG_LEVEL: options.logLevel ?? 'info' },
              stdio: ['ignore', 'inherit', 'pipe'],
            });
            children.push(child);
            let log = '';
            child.stderr?.on('data', (chunk: Buffer) => {
              const text = chunk.toString();
              if (log.length < 65536) log += text;
              for (const line of text.split('\n')) if (line) options.output?.(role, line);
              if (log.includes('ics node ready')) ready();
            });
            child.once('exit', (code) => fail(new Error(`${role} node exited with ${code}:\n${log}`)));
          }),
      ),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { mesh, stop };
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { dir: { type: 'string', default: 'mesh' }, 'base-port': { type: 'string', default: '4100' } },
  });
  const command = positionals[0] ?? 'up';
  const mesh = await initMesh(values.dir as string, Number(values['base-port']));
  for (const node of Object.values(mesh.nodes)) {
    process.stdout.write(`${node.role.padEnd(12)} hkp http://${node.hkp}  ldap ldap://${node.ldap}  p2p ${node.p2p}/p2p/${node.peerId}\n`);
  }
  if (command === 'init') return;
  const running = await startMesh(mesh, { output: (role, line) => process.stderr.write(`[${role}] ${line}\n`) });
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
