// The whole lifecycle across the four-role mesh (issue "Federation"), as its users would
// see it: every write goes to a node's /pks/add like `gpg --send-keys`, every question is
// the gateway's `GET /ics/v1/verify/{id}` at the infield node. Exits 0 when every step
// held, 1 when one did not.
//
//   tsx deploy/demo.ts [--dir DIR] [--base-port N] [--keep]      (ports: ephemeral unless --base-port)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as openpgp from 'openpgp';
import {
  armor,
  certify,
  codeStatement,
  generateIdentity,
  type IdentityRecord,
  type KeyRecord,
  readPrivateKey,
  signCode,
} from '../ics/record/index.ts';
import { initMesh, type Mesh, type MeshRole, parseBasePort, startMesh } from './mesh.ts';

const WAIT_MS = 30_000;

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function issuerKey(mesh: Mesh, role: MeshRole): Promise<openpgp.PrivateKey> {
  const dir = mesh.nodes[role].dir;
  const passphrase = (await readFile(join(dir, 'keys/issuer.passphrase'), 'utf8')).trim();
  return readPrivateKey(await readFile(join(dir, 'keys/issuer.secret.asc'), 'utf8'), passphrase);
}

async function send(mesh: Mesh, role: MeshRole, record: IdentityRecord): Promise<void> {
  const body = new URLSearchParams({ keytext: armor(record.type === 'code' ? 'message' : 'publicKey', record.bytes) });
  // As the operator: a client may only write where it may read (private domains included).
  const response = await fetch(`http://${mesh.nodes[role].hkp}/pks/add`, { method: 'POST', body, headers: operator });
  if (!response.ok) throw new Error(`${role} /pks/add answered ${response.status}: ${await response.text()}`);
}

interface VerdictAnswer {
  trusted: boolean;
  status: string | null;
  roles: Array<{ role: string }>;
}

/** Basic-auth header of the mesh's operator account (private domains need it). */
let operator: Record<string, string> = {};

async function verdict(mesh: Mesh, role: MeshRole, id: string): Promise<VerdictAnswer | undefined> {
  const response = await fetch(`http://${mesh.nodes[role].hkp}/ics/v1/verify/${encodeURIComponent(id)}`, { headers: operator });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`${role} /ics/v1/verify answered ${response.status}`);
  return (await response.json()) as VerdictAnswer;
}

/** Polls until `check` holds; returns the milliseconds it took. */
async function until(what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < WAIT_MS) {
    if (await check()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${WAIT_MS / 1000} s waiting for: ${what}`);
}

async function step(title: string, run: () => Promise<string>): Promise<void> {
  const detail = await run();
  say(`  ✔ ${title}${detail ? ` — ${detail}` : ''}`);
}

/** The lifecycle's steps against a running mesh; throws at the first that does not hold. */
export async function lifecycle(mesh: Mesh, operatorPassword: string): Promise<void> {
  // startMesh's mesh has the bound ports; initMesh's may still say port 0.
  for (const node of Object.values(mesh.nodes)) if (node.hkp.endsWith(':0')) throw new Error('lifecycle needs the running mesh (startMesh), whose addresses are bound');
  operator = { authorization: `Basic ${Buffer.from(`operator:${operatorPassword}`).toString('base64')}` };
  const manufacturer = await issuerKey(mesh, 'manufacturer');
  const integrator = await issuerKey(mesh, 'maintenance');
  const developer = await issuerKey(mesh, 'developer');
  const devices: KeyRecord[] = [];

  await step('the manufacturer registers three devices (status in-use)', async () => {
    for (let i = 1; i <= 3; i++) {
      const { record } = await generateIdentity({ userId: `urn:cm4it:device:acme.example:cam-3:SN${1000 + i}` });
      const registered = await certify(record, manufacturer, { role: 'manufacturer', status: 'in-use', metadata: { model: 'cam-3' } });
      await send(mesh, 'manufacturer', registered);
      devices.push(registered);
    }
    return devices.map((d) => d.id.slice(-8)).join(', ');
  });

  await step('they sync to maintenance', async () => {
    const ms = await until('devices at maintenance', async () => (await Promise.all(devices.map((d) => verdict(mesh, 'maintenance', d.id)))).every(Boolean));
    return `${ms} ms`;
  });

  const [first, second, third] = devices as [KeyRecord, KeyRecord, KeyRecord];
  await step('the integrator countersigns two of them at maintenance', async () => {
    for (const device of [first, second]) {
      const countersigned = await certify(device, integrator, { role: 'integrator', deny: ['video-recording'] });
      await send(mesh, 'maintenance', countersigned);
    }
    return '';
  });

  await step('they reach infield; the gateway’s verdict there says trusted', async () => {
    const ms = await until('trusted at infield', async () => (await Promise.all([first, second].map((d) => verdict(mesh, 'infield', d.id)))).every((v) => v?.trusted));
    const uncountersigned = await verdict(mesh, 'infield', third.id);
    if (uncountersigned) throw new Error('a device without the integrator’s countersignature reached infield');
    return `${ms} ms; the third device, not countersigned, is not there`;
  });

  await step('the manufacturer marks one device stolen; infield says not trusted', async () => {
    const stolen = await certify(first, manufacturer, { role: 'manufacturer', status: 'stolen' }, { created: new Date(Date.now() + 1000) });
    await send(mesh, 'manufacturer', stolen);
    const ms = await until('stolen at infield', async () => (await verdict(mesh, 'infield', first.id))?.status === 'stolen');
    const answer = await verdict(mesh, 'infield', first.id);
    if (answer?.trusted) throw new Error('a stolen device is still trusted');
    return `${ms} ms from the manufacturer’s statement to infield’s answer`;
  });

  const statement = codeStatement('acme-cam-fw', '3.2.1', { sha256: 'a1'.repeat(32) });
  let firmware = await signCode(statement, developer, { role: 'developer', status: 'released' });
  await step('the developer publishes firmware; infield says trusted', async () => {
    await send(mesh, 'developer', firmware);
    const ms = await until('firmware at infield', async () => (await verdict(mesh, 'infield', firmware.id))?.trusted === true);
    return `${firmware.id.slice(0, 20)}… in ${ms} ms`;
  });

  await step('the developer deprecates it; infield reflects it', async () => {
    firmware = await signCode(statement, developer, { role: 'developer', status: 'deprecated' }, { record: firmware, created: new Date(Date.now() + 1000) });
    await send(mesh, 'developer', firmware);
    const ms = await until('deprecated at infield', async () => (await verdict(mesh, 'infield', firmware.id))?.status === 'deprecated');
    return `${ms} ms`;
  });

  await step('the private `system` domain never reaches a peer that may not read it', async () => {
    const { record } = await generateIdentity({ userId: 'urn:cm4it:service:acme.example:site-a:mqtt-broker' });
    const service = await certify(record, integrator, { role: 'integrator', status: 'in-use' });
    await send(mesh, 'maintenance', service);
    await until('service at infield', async () => Boolean(await verdict(mesh, 'infield', service.id)));
    for (const role of ['manufacturer', 'developer'] as const) {
      if (await verdict(mesh, role, service.id)) throw new Error(`the private service record reached the ${role}`);
    }
    return 'at infield, not at the manufacturer nor the developer';
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, 'base-port': { type: 'string' }, keep: { type: 'boolean' } } });
  const basePort = parseBasePort(values['base-port']);
  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'ics-mesh-')));
  const mesh = await initMesh(dir, basePort);
  const password = (await readFile(join(dir, 'operator.password'), 'utf8')).trim();
  say(`four-role mesh in ${dir}`);
  const running = await startMesh(mesh, { logLevel: 'warn', output: (role, line) => process.stderr.write(`[${role}] ${line}\n`) });
  for (const node of Object.values(running.mesh.nodes)) say(`  ${node.role.padEnd(12)} hkp http://${node.hkp}  ldap ldap://${node.ldap}  peer ${node.peerId}`);
  let failed = false;
  try {
    await lifecycle(running.mesh, password);
    say('the whole lifecycle held');
  } catch (error) {
    failed = true;
    say(`  ✘ ${(error as Error).message}`);
  } finally {
    await running.stop();
    if (!values.keep && !values.dir) await rm(dir, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
