// The whole lifecycle across the four-role mesh (issue "Federation"), as its users would
// see it: every write goes to a node's /pks/add like `gpg --send-keys`, every question is
// the gateway's `GET /ics/v1/verify/{id}` at the infield node, and a device gets its
// operational certificate from infield over EST as `ics enrol` does (its birth certificate
// from the manufacturer's factory), connects with it to the MQTT broker beside infield
// (mosquitto), and when it is reported stolen, infield's OCSP responder says revoked and the
// broker drops and refuses it — each delay measured from the manufacturer's statement.
// Exits 0 when every step held, 1 when one did not.
//
//   node --import ./bin/ts-loader.mjs deploy/demo.ts [--dir DIR] [--base-port N] [--keep]      (ports: ephemeral unless --base-port)
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as openpgp from 'openpgp';
import { CertificateAuthority, issueBirthCertificate, type UnlockedAuthority } from '../ics/enrol/index.ts';
import { isIcsError } from '../ics/errors.ts';
import { DeviceAgent, OPERATIONAL_CERT, OPERATIONAL_KEY } from '../ics/est/device-agent.ts';
import {
  armor,
  certify,
  codeStatement,
  generateIdentity,
  type IdentityRecord,
  type KeyRecord,
  privateKeyPkcs8,
  readPrivateKey,
  signCode,
} from '../ics/record/index.ts';
import { type LogProof, verifyLogProof } from '../ics/tlog/index.ts';
import { deviceArgs, type DeviceTls, gatewayArgs, ocspStatus, runClient, Subscription } from './demo-clients.ts';
import { caChainFile, initMesh, type Mesh, type MeshRole, parseBasePort, startMesh } from './mesh.ts';

const WAIT_MS = 30_000;

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

const passphraseOf = async (mesh: Mesh, role: MeshRole) => (await readFile(join(mesh.nodes[role].dir, 'keys/issuer.passphrase'), 'utf8')).trim();

export async function issuerKey(mesh: Mesh, role: MeshRole): Promise<openpgp.PrivateKey> {
  return readPrivateKey(await readFile(join(mesh.nodes[role].dir, 'keys/issuer.secret.asc'), 'utf8'), await passphraseOf(mesh, role));
}

/** The manufacturer's birth CA, as its factory tooling holds it. */
export async function birthAuthority(mesh: Mesh): Promise<UnlockedAuthority> {
  return new CertificateAuthority(join(mesh.nodes.manufacturer.dir, 'ca')).unlock(await passphraseOf(mesh, 'manufacturer'));
}

/** A device as it leaves the factory: its birth certificate and its key (the record key) in its own directory. */
export async function provision(mesh: Mesh, birthCa: UnlockedAuthority, device: KeyRecord, privateKey: openpgp.PrivateKey, urn: string): Promise<string> {
  const dir = join(mesh.root, 'devices', urn.split(':').pop() as string);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'birth.pem'), (await issueBirthCertificate(birthCa, device, { userId: urn })).pem);
  await writeFile(join(dir, 'birth.key.pem'), privateKeyPkcs8(privateKey), { mode: 0o600 });
  await chmod(join(dir, 'birth.key.pem'), 0o600);
  return dir;
}

/** The device's EST client (what `ics enrol` runs), at infield, trusting infield's CA chain. */
export async function deviceAgent(mesh: Mesh, dir: string, options: { renewBeforeMs?: number; into?: string } = {}): Promise<DeviceAgent> {
  const infield = mesh.nodes.infield;
  if (!infield.est) throw new Error('the infield node has no EST listener');
  const into = join(dir, options.into ?? '.');
  await mkdir(into, { recursive: true });
  return new DeviceAgent({
    server: { url: `https://${infield.est}`, ca: await readFile(caChainFile(infield), 'utf8') },
    birth: { cert: await readFile(join(dir, 'birth.pem'), 'utf8'), key: await readFile(join(dir, 'birth.key.pem'), 'utf8') },
    dir: into,
    ...(options.renewBeforeMs !== undefined && { renewBeforeMs: options.renewBeforeMs }),
  });
}

/** The refusal an enrolment must meet: POLICY_REJECTED; its reason. */
async function refusedEnrolment(agent: DeviceAgent): Promise<string> {
  try {
    const outcome = await agent.step();
    throw new Error(`${agent.urn} was not refused (${outcome.action})`);
  } catch (error) {
    if (!isIcsError(error, 'POLICY_REJECTED')) throw error;
    return error.message.replace(/^EST \w+ refused \(403\): /, '');
  }
}

export async function send(mesh: Mesh, role: MeshRole, record: IdentityRecord): Promise<void> {
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

/** send and verdict as the mesh's operator (its password: operator.password in the mesh root). */
export function actAsOperator(password: string): void {
  operator = { authorization: `Basic ${Buffer.from(`operator:${password}`).toString('base64')}` };
}

export async function verdict(mesh: Mesh, role: MeshRole, id: string): Promise<VerdictAnswer | undefined> {
  const response = await fetch(`http://${mesh.nodes[role].hkp}/ics/v1/verify/${encodeURIComponent(id)}`, { headers: operator });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`${role} /ics/v1/verify answered ${response.status}`);
  return (await response.json()) as VerdictAnswer;
}

/** Polls until `check` holds; returns the milliseconds it took. */
export async function until(what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < WAIT_MS) {
    if (await check()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${WAIT_MS / 1000} s waiting for: ${what}`);
}

async function step(title: string, run: () => Promise<string>): Promise<void> {
  const detail = await run();
  say(`  ✔ ${title}${detail ? ` — ${detail}` : ''}`);
}

/** MQTT clients the steps leave running (a gateway, a device's live session): stopped at the end. */
const subscriptions: Subscription[] = [];

function subscribe(args: readonly string[]): Subscription {
  const subscription = new Subscription(args);
  subscriptions.push(subscription);
  return subscription;
}

/** The lifecycle's steps against a running mesh; throws at the first that does not hold. */
export async function lifecycle(mesh: Mesh, operatorPassword: string): Promise<void> {
  try {
    await steps(mesh, operatorPassword);
  } finally {
    for (const s of subscriptions.splice(0)) s.stop();
  }
}

async function steps(mesh: Mesh, operatorPassword: string): Promise<void> {
  // startMesh's mesh has the bound ports; initMesh's may still say port 0.
  for (const node of Object.values(mesh.nodes)) if (node.hkp.endsWith(':0')) throw new Error('lifecycle needs the running mesh (startMesh), whose addresses are bound');
  actAsOperator(operatorPassword);
  const manufacturer = await issuerKey(mesh, 'manufacturer');
  const integrator = await issuerKey(mesh, 'maintenance');
  const developer = await issuerKey(mesh, 'developer');
  const devices: KeyRecord[] = [];
  const urns: string[] = [];
  /** Each device's directory: birth certificate and key, and what it enrols into. */
  const deviceDirs: string[] = [];

  await step('the manufacturer registers three devices (status in-use), each with a birth certificate', async () => {
    const birthCa = await birthAuthority(mesh);
    for (let i = 1; i <= 3; i++) {
      const urn = `urn:cm4it:device:acme.example:cam-3:SN${1000 + i}`;
      const { record, privateKey } = await generateIdentity({ userId: urn });
      const registered = await certify(record, manufacturer, { role: 'manufacturer', status: 'in-use', metadata: { model: 'cam-3' } });
      await send(mesh, 'manufacturer', registered);
      devices.push(registered);
      urns.push(urn);
      deviceDirs.push(await provision(mesh, birthCa, registered, privateKey, urn));
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

  await step('the gateway checks infield’s answer offline against infield’s transparency log (verify?proof=1, its pinned log key)', async () => {
    const response = await fetch(`http://${mesh.nodes.infield.hkp}/ics/v1/verify/${first.id}?proof=1`, { headers: operator });
    if (!response.ok) throw new Error(`infield /ics/v1/verify?proof=1 answered ${response.status}`);
    const answer = (await response.json()) as { record: { id: string; digest: string }; log: LogProof[] };
    const checked: string[] = [];
    for (const proof of answer.log) {
      // The key is fetched once and pinned by a real gateway; here, fetched as it would be the first time.
      const key = await (await fetch(`http://${mesh.nodes.infield.hkp}/ics/v1/log/${proof.domain}/key`, { headers: operator })).text();
      const { checkpoint } = verifyLogProof(proof, key.trim(), { id: answer.record.id, digest: answer.record.digest });
      checked.push(`leaf ${proof.index} of ${checkpoint.origin} (${checkpoint.size} leaves)`);
    }
    if (checked.length === 0) throw new Error('infield’s answer carries no log proof');
    return checked.join(', ');
  });

  const [firstDir, , thirdDir] = deviceDirs as [string, string, string];
  await step('a countersigned device enrols at infield over EST with its birth certificate, then renews', async () => {
    const enrolled = await (await deviceAgent(mesh, firstDir)).step();
    if (enrolled.action !== 'enrolled') throw new Error(`expected an enrolment, got ${enrolled.action}`);
    // Inside the renewal window (here: renew 31 days ahead of a 30-day certificate's end).
    const renewed = await (await deviceAgent(mesh, firstDir, { renewBeforeMs: 31 * 86_400_000 })).step();
    if (renewed.action !== 'renewed' || renewed.serial === enrolled.serial) throw new Error(`expected a renewal with a new certificate, got ${renewed.action}`);
    return `certificate ${enrolled.serial.slice(0, 12)}…, renewed as ${renewed.serial.slice(0, 12)}… (valid until ${renewed.notAfter.toISOString().slice(0, 10)})`;
  });

  await step('the device nobody countersigned cannot enrol', async () => refusedEnrolment(await deviceAgent(mesh, thirdDir)));

  const infield = mesh.nodes.infield;
  const broker = mesh.broker;
  const urn = urns[0] as string;
  const certFile = join(firstDir, OPERATIONAL_CERT);
  const tls: DeviceTls | undefined = broker && { broker: broker.devices, caFile: caChainFile(infield), cert: certFile, key: join(firstDir, OPERATIONAL_KEY) };
  let live: Subscription | undefined;
  if (broker && tls) {
    await step('the device connects to the MQTT broker beside infield with its operational certificate and publishes; a gateway receives it', async () => {
      const password = (await readFile(join(broker.dataDir, 'broker/gateway.password'), 'utf8')).trim();
      const gateway = subscribe([...gatewayArgs(broker.control, password), '-t', 'devices/#', '-v', '-d']);
      live = subscribe([...deviceArgs(tls), '-t', `devices/${urn}/commands`, '-d', '-i', 'cam-3-live']);
      await until('the gateway and the device subscribed', async () => /SUBACK/.test(gateway.output) && /SUBACK/.test(live?.output ?? ''));
      const published = await runClient('mosquitto_pub', [...deviceArgs(tls), '-t', `devices/${urn}/telemetry`, '-m', 'temperature 21.5']);
      if (published.code !== 0) throw new Error(`the broker refused the device: ${published.output}`);
      const ms = await until('the gateway receives it', async () => gateway.output.includes(`devices/${urn}/telemetry temperature 21.5`));
      return `devices/…:${urn.split(':').pop()}/telemetry at the gateway in ${ms} ms; the device stays connected`;
    });
  } else {
    say('  – MQTT broker steps skipped: mosquitto was not installed when the mesh was made (apt-get install mosquitto mosquitto-clients)');
  }

  let statementAt = 0;
  await step('the manufacturer marks one device stolen; infield says not trusted', async () => {
    const stolen = await certify(first, manufacturer, { role: 'manufacturer', status: 'stolen' }, { created: new Date(Date.now() + 1000) });
    statementAt = Date.now();
    await send(mesh, 'manufacturer', stolen);
    const ms = await until('stolen at infield', async () => (await verdict(mesh, 'infield', first.id))?.status === 'stolen');
    const answer = await verdict(mesh, 'infield', first.id);
    if (answer?.trusted) throw new Error('a stolen device is still trusted');
    return `${ms} ms from the manufacturer’s statement to infield’s answer`;
  });

  await step('infield’s OCSP responder says revoked (openssl ocsp, as a gateway asks)', async () => {
    const url = `http://${infield.hkp}/pki/ocsp`;
    await until('revoked at infield’s OCSP', async () => (await ocspStatus(url, caChainFile(infield), caChainFile(infield), certFile)) === 'revoked');
    return `${Date.now() - statementAt} ms after the manufacturer’s statement`;
  });

  if (broker && tls) {
    await step('the broker ends the stolen device’s live session and refuses it from then on', async () => {
      // mosquitto_sub reconnects once by itself after its session is ended, and gives up when
      // refused (TLS 1.3 reports the broker's "certificate revoked" alert after the handshake,
      // so the client may print it or only a protocol error: the refusal is what counts).
      await until('the live session ended', async () => live?.ended === true);
      const ended = Date.now() - statementAt;
      const again = await runClient('mosquitto_pub', [...deviceArgs(tls), '-t', `devices/${urn}/telemetry`, '-m', 'still here']);
      if (again.code === 0) throw new Error('the broker admitted the revoked certificate again');
      return `session ended and its reconnection refused ${ended} ms after the manufacturer’s statement; a new connection refused too`;
    });
  }

  await step('the stolen device can neither renew its certificate nor enrol again', async () => {
    const renewal = await refusedEnrolment(await deviceAgent(mesh, firstDir, { renewBeforeMs: 31 * 86_400_000 }));
    await refusedEnrolment(await deviceAgent(mesh, firstDir, { into: 'again' }));
    return renewal;
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
