// The four-role loopback mesh of deploy/mesh.ts for the reliability suite, with two users on
// the maintenance node: `operator` (named by the `system` domain's read rule) and `guest`
// (authenticated, but named by no private domain but `devices`, which any authenticated
// user may read). Records are made with the mesh's own example issuers.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as openpgp from 'openpgp';
import { parseDocument } from 'yaml';
import { type ExampleIssuer, exampleIssuerKey, exemptLoopback, initMesh, type Mesh, type MeshRole, ROLES, startMesh } from '../../deploy/mesh.ts';
import { hashPassword } from '../../ics/auth/index.ts';
import { parseHostPort } from '../../ics/net/address.ts';
import { DataDir } from '../../ics/node/index.ts';
import { armor, certify, codeStatement, generateIdentity, type KeyRecord, signCode } from '../../ics/record/index.ts';
import { benchNodeFlags, type SeededRandom } from './common.ts';

export type MeshUser = 'operator' | 'guest';

export interface RelMesh {
  readonly mesh: Mesh;
  /** http://127.0.0.1:PORT of each node's HKP / JSON API. */
  readonly url: Record<MeshRole, string>;
  readonly ldapPort: Record<MeshRole, number>;
  readonly pid: Record<MeshRole, number>;
  readonly passwords: Record<MeshUser, string>;
  /**
   * Each node's inspector (ws://127.0.0.1:PORT/…) when started with `inspect`: the soak asks
   * through it for a full garbage collection before it reads RSS (common.ts collectGarbage).
   */
  readonly inspector: Partial<Record<MeshRole, string>>;
  /** Basic-auth headers of a maintenance user. */
  auth(user: MeshUser): Record<string, string>;
  issuer(name: ExampleIssuer): Promise<openpgp.PrivateKey>;
  stop(): Promise<void>;
}

/**
 * initMesh + startMesh in `root`; before the start, maintenance gets the user `guest` and its
 * `system` domain is narrowed from "any authenticated user" to the infield peer and `operator`.
 */
export async function startRelMesh(root: string, options: { inspect?: boolean } = {}): Promise<RelMesh> {
  const mesh = await initMesh(root);
  const maintenance = mesh.nodes.maintenance.dir;
  const guest = randomBytes(18).toString('base64url');
  const configFile = join(maintenance, 'config.yaml');
  const config = parseDocument(await readFile(configFile, 'utf8'));
  const users = (config.getIn(['auth', 'users']) as { toJSON(): unknown[] }).toJSON();
  config.setIn(['auth', 'users'], config.createNode([...users, { name: 'guest', passwordHash: await hashPassword(guest), write: false }]));
  // Loopback only, as the mesh does for HKP: simple binds without TLS.
  config.setIn(['ldap', 'allowInsecureBind'], true);
  await writeFile(configFile, config.toString(), { mode: 0o600 });
  const policyFile = join(maintenance, 'policy.yaml');
  const policy = parseDocument(await readFile(policyFile, 'utf8'));
  const domains = policy.get('domains') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
  domains.items.find((d) => d.get('name') === 'system')?.set('read', policy.createNode({ peers: [mesh.nodes.infield.peerId], users: ['operator'] }));
  await writeFile(policyFile, policy.toString());

  // Every client of the suite comes from 127.0.0.1, as gateways behind one NAT.
  await exemptLoopback(mesh);
  const inspector: Partial<Record<MeshRole, string>> = {};
  const output = (role: MeshRole, line: string) => {
    // Node says where its inspector listens on stderr; on loopback, at a port of its choosing.
    const ws = /^Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(line)?.[1];
    if (ws) inspector[role] = ws;
    else if (!/^(For help, see: https:\/\/nodejs\.org\/|Debugger attached\.|Debugger ending on )/.test(line)) process.stderr.write(`[${role}] ${line}\n`);
  };
  const nodeFlags = [...benchNodeFlags(), ...(options.inspect ? ['--inspect=127.0.0.1:0'] : [])];
  const running = await startMesh(mesh, { logLevel: 'error', output, nodeFlags });
  const url = {} as Record<MeshRole, string>;
  const ldapPort = {} as Record<MeshRole, number>;
  const pid = {} as Record<MeshRole, number>;
  for (const role of ROLES) {
    const node = running.mesh.nodes[role];
    url[role] = `http://${node.hkp}`;
    ldapPort[role] = parseHostPort(node.ldap).port;
    const bound = JSON.parse(await readFile(new DataDir(node.dir).addressesFile, 'utf8')) as { pid: number };
    pid[role] = bound.pid;
  }
  const passwords = { operator: (await readFile(join(mesh.root, 'operator.password'), 'utf8')).trim(), guest };
  const keys = new Map<ExampleIssuer, openpgp.PrivateKey>();
  return {
    mesh: running.mesh,
    url,
    ldapPort,
    pid,
    passwords,
    inspector,
    auth: (user) => ({ authorization: `Basic ${Buffer.from(`${user}:${passwords[user]}`).toString('base64')}` }),
    async issuer(name) {
      let key = keys.get(name);
      if (!key) {
        key = await exampleIssuerKey(mesh.root, name);
        keys.set(name, key);
      }
      return key;
    },
    stop: () => running.stop(),
  };
}

/** A planted record: its id, user ID (or code name@version), bytes and domain. */
export interface Planted {
  readonly id: string;
  readonly userId: string;
  readonly domain: 'devices' | 'system' | 'firmware';
  readonly kind: 'key' | 'code';
  readonly bytes: Buffer;
  /** The key record (device and service), for later statements. */
  readonly record?: KeyRecord;
}

const created = new Date(Date.UTC(2025, 0, 1));

/** A device of acme.example certified by the manufacturer only: domain `devices`. */
export async function plantDevice(m: RelMesh, tag: string, status = 'in-use'): Promise<Planted> {
  const userId = `urn:cm4it:device:acme.example:${tag}`;
  const { record } = await generateIdentity({ userId, created });
  const certified = await certify(record, await m.issuer('acme-manufacturer'), { role: 'manufacturer', status }, { created });
  return { id: certified.id, userId, domain: 'devices', kind: 'key', bytes: Buffer.from(certified.bytes), record: certified };
}

/** A service of another organisation certified by the integrator only: domain `system`. */
export async function plantService(m: RelMesh, tag: string): Promise<Planted> {
  const userId = `urn:cm4it:service:site.example:${tag}`;
  const { record } = await generateIdentity({ userId, created });
  const certified = await certify(record, await m.issuer('integrator'), { role: 'integrator', status: 'in-use' }, { created });
  return { id: certified.id, userId, domain: 'system', kind: 'key', bytes: Buffer.from(certified.bytes), record: certified };
}

/** A firmware image released by the developer: domain `firmware` (public). */
export async function plantFirmware(m: RelMesh, name: string, version: string, rng: SeededRandom): Promise<Planted> {
  const statement = codeStatement(`acme-${name}`, version, { sha256: Buffer.from(rng.bytes(32)).toString('hex') });
  const record = await signCode(statement, await m.issuer('firmware-developer'), { role: 'developer', status: 'released' }, { created });
  return { id: record.id, userId: `acme-${name}@${version}`, domain: 'firmware', kind: 'code', bytes: Buffer.from(record.bytes) };
}

/** A newer manufacturer statement (e.g. status) on a planted device, armored. */
export async function statusChange(m: RelMesh, device: Planted, status: string, at: Date): Promise<string> {
  if (!device.record) throw new Error('not a key record');
  const next = await certify(device.record, await m.issuer('acme-manufacturer'), { role: 'manufacturer', status }, { created: at });
  return armor('publicKey', next.bytes);
}

/** Submits a planted record to a node (keys: /ics/v1/records, code: /ics/v1/code); the status. */
export async function submit(base: string, record: Pick<Planted, 'kind' | 'bytes'>, headers: Record<string, string> = {}): Promise<number> {
  const path = record.kind === 'code' ? '/ics/v1/code' : '/ics/v1/records';
  const type = record.kind === 'code' ? 'application/octet-stream' : 'application/pgp-keys';
  const response = await fetch(`${base}${path}`, { method: 'POST', body: new Uint8Array(record.bytes), headers: { 'content-type': type, ...headers }, signal: AbortSignal.timeout(60_000) });
  await response.arrayBuffer();
  return response.status;
}
