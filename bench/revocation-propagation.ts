// Revocation across the mesh (`npm run bench -- revocation`, with the OCSP and CRL figures of
// revocation.ts): how long after the manufacturer reports a device stolen the rest of the
// system acts on it. The four-role mesh of deploy/ runs as `ics serve` processes with
// mosquitto beside infield; devices are registered at the manufacturer, countersigned at
// maintenance, enrolled at infield over EST, and each connects to the broker with its
// operational certificate (MQTT.js, TLS). Then, one device per trial, 20 trials
// (3 in quick mode), from the moment the statement is sent to the manufacturer's /pks/add:
//   - infield's verdict says stolen (sync manufacturer → maintenance → infield),
//   - infield's OCSP responder answers revoked (asked every 10 ms, RFC 5019 request, as a
//     gateway would; the answer checked with `openssl ocsp -respin` after the trial),
//   - the broker ends the device's live session (the client sees its connection close),
//   - a new connection with the same certificate is refused.
// Goal: OCSP revoked at infield within 2 s at p99. There is no baseline: no other system
// carries a status across organisations to an OCSP responder.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type MqttClient } from 'mqtt';
import { certify, generateIdentity, type KeyRecord } from '../ics/record/index.ts';
import { OPERATIONAL_CERT, OPERATIONAL_KEY } from '../ics/est/device-agent.ts';
import { actAsOperator, birthAuthority, deviceAgent, issuerKey, provision, send, until, verdict } from '../deploy/demo.ts';
import { caChainFile, exemptLoopback, initMesh, type Mesh, startMesh } from '../deploy/mesh.ts';
import { type BenchContext, type Benchmark, environmentLine, type Figure, percentile, pick, sourceCommit } from './harness.ts';

const GOAL_OCSP_P99_MS = 2000;
const RESULTS = fileURLToPath(new URL('./results/revocation-propagation.json', import.meta.url));
const POLL_MS = 10;

interface Trial {
  verdictMs: number;
  ocspMs: number;
  sessionEndedMs: number;
  refusedMs: number;
}

interface Device {
  readonly record: KeyRecord;
  readonly urn: string;
  readonly dir: string;
}

function openssl(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, (error, stdout, stderr) => (error ? reject(new Error(`openssl ${args.join(' ')}: ${stderr}`)) : resolve(stdout + stderr)));
  });
}

/** The device's MQTT connection with its operational certificate; rejects when the broker refuses it. */
async function deviceSession(broker: string, device: Device, ca: string): Promise<MqttClient> {
  const [cert, key] = await Promise.all([readFile(join(device.dir, OPERATIONAL_CERT)), readFile(join(device.dir, OPERATIONAL_KEY))]);
  const client = connect(`mqtts://${broker}`, { cert, key, ca, reconnectPeriod: 0, connectTimeout: 5000, clientId: `bench-${device.urn.split(':').pop()}` });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('closed before it was connected')));
  });
}

async function runTrial(mesh: Mesh, device: Device, manufacturerKey: Awaited<ReturnType<typeof issuerKey>>, ca: string, requestFile: string): Promise<Trial> {
  const broker = mesh.broker?.devices as string;
  const infield = mesh.nodes.infield;
  const request = await readFile(requestFile);
  const ocsp = async () => {
    const response = await fetch(`http://${infield.hkp}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: request });
    if (response.status !== 200) throw new Error(`infield's OCSP responder answered ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  };
  const good = await ocsp();
  const session = await deviceSession(broker, device, ca);
  const stolen = await certify(device.record, manufacturerKey, { role: 'manufacturer', status: 'stolen' }, { created: new Date(Date.now() + 1000) });
  const sessionEnded = new Promise<number>((resolve) => session.once('close', () => resolve(performance.now())));
  const t0 = performance.now();
  await send(mesh, 'manufacturer', stolen);
  const verdictAt = until('stolen at infield', async () => (await verdict(mesh, 'infield', device.record.id))?.status === 'stolen').then(() => performance.now());
  let answer = good;
  const ocspAt = (async () => {
    for (; answer.equals(good); await new Promise((r) => setTimeout(r, POLL_MS))) answer = await ocsp();
    return performance.now();
  })();
  const ended = await Promise.race([sessionEnded, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('the broker did not end the session within 20 s')), 20_000))]);
  const refusedAt = await deviceSession(broker, device, ca).then(
    (client) => {
      client.end(true);
      throw new Error(`the broker admitted ${device.urn}'s revoked certificate again`);
    },
    () => performance.now(),
  );
  const [v, o] = await Promise.all([verdictAt, ocspAt]);
  // What changed is checked once the clock stopped: the answer says revoked, and verifies.
  await writeFile(`${requestFile}.resp`, answer);
  const text = await openssl(['ocsp', '-respin', `${requestFile}.resp`, '-issuer', caChainFile(infield), '-cert', join(device.dir, OPERATIONAL_CERT), '-CAfile', caChainFile(infield), '-no_nonce']);
  if (!/Response verify OK/.test(text) || !/: revoked/.test(text)) throw new Error(`infield's changed OCSP answer is not a verified "revoked":\n${text}`);
  return { verdictMs: v - t0, ocspMs: o - t0, sessionEndedMs: ended - t0, refusedMs: refusedAt - t0 };
}

function summary(values: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 };
}

async function run(ctx: BenchContext): Promise<void> {
  const trials = pick(ctx, 20, 3);
  const started = new Date();
  const commit = sourceCommit();
  ctx.row('env', environmentLine() + (ctx.quick ? ', QUICK mode (figures are a smoke check only)' : ''));
  const dir = await mkdtemp(join(tmpdir(), 'ics-bench-propagation-'));
  try {
    const mesh = await initMesh(dir);
    if (!mesh.broker) throw new Error('mosquitto is not installed (apt-get install mosquitto mosquitto-clients): the broker figures need it');
    // The devices, the gateway's questions and the OCSP polling all come from 127.0.0.1.
    await exemptLoopback(mesh);
    const running = await startMesh(mesh, { logLevel: 'error', output: (role, line) => ctx.log(`[${role}] ${line.slice(0, 300)}`) });
    try {
      const m = running.mesh;
      actAsOperator((await readFile(join(dir, 'operator.password'), 'utf8')).trim());
      const manufacturer = await issuerKey(m, 'manufacturer');
      const integrator = await issuerKey(m, 'maintenance');
      const birthCa = await birthAuthority(m);
      const devices: Device[] = [];
      const setupStart = performance.now();
      for (let i = 0; i < trials; i++) {
        const urn = `urn:cm4it:device:acme.example:cam-3:B${String(i).padStart(4, '0')}`;
        const { record, privateKey } = await generateIdentity({ userId: urn });
        const registered = await certify(record, manufacturer, { role: 'manufacturer', status: 'in-use' });
        await send(m, 'manufacturer', registered);
        devices.push({ record: registered, urn, dir: await provision(m, birthCa, registered, privateKey, urn) });
      }
      await until('devices at maintenance', async () => (await Promise.all(devices.map((d) => verdict(m, 'maintenance', d.record.id)))).every(Boolean));
      for (const d of devices) await send(m, 'maintenance', await certify(d.record, integrator, { role: 'integrator' }));
      await until('trusted at infield', async () => (await Promise.all(devices.map((d) => verdict(m, 'infield', d.record.id)))).every((v) => v?.trusted));
      const ca = await readFile(caChainFile(m.nodes.infield), 'utf8');
      for (const d of devices) {
        const outcome = await (await deviceAgent(m, d.dir)).step();
        if (outcome.action !== 'enrolled') throw new Error(`${d.urn}: expected an enrolment, got ${outcome.action}`);
        await openssl(['ocsp', '-issuer', caChainFile(m.nodes.infield), '-cert', join(d.dir, OPERATIONAL_CERT), '-no_nonce', '-reqout', join(d.dir, 'ocsp.req')]);
      }
      ctx.row('setup', `${trials} devices registered, countersigned, enrolled at infield in ${((performance.now() - setupStart) / 1000).toFixed(1)} s (not timed)`);

      const results: Trial[] = [];
      for (const d of devices) {
        results.push(await runTrial(m, d, manufacturer, ca, join(d.dir, 'ocsp.req')));
        await new Promise((r) => setTimeout(r, 300)); // one revocation at a time: no CRL shared between trials
      }
      const figures = {
        verdict: summary(results.map((r) => r.verdictMs)),
        ocsp: summary(results.map((r) => r.ocspMs)),
        session: summary(results.map((r) => r.sessionEndedMs)),
        refused: summary(results.map((r) => r.refusedMs)),
      };
      const line = (f: { p50: number; p99: number; max: number }) => `p50 ${f.p50.toFixed(0)} ms, p99 ${f.p99.toFixed(0)} ms, max ${f.max.toFixed(0)} ms`;
      ctx.row('verdict at infield', `${line(figures.verdict)}  (sync: manufacturer → maintenance → infield; ${trials} trials)`);
      ctx.row('OCSP revoked at infield', `${line(figures.ocsp)}  (+ the watcher's revocation; asked every ${POLL_MS} ms)`);
      ctx.row('MQTT session ended', `${line(figures.session)}  (+ CRL 250 ms after, SIGHUP, 200 ms, dynamic-security disable)`);
      ctx.row('next connection refused', `${line(figures.refused)}  (TLS: certificate revoked)`);
      const met = figures.ocsp.p99 < GOAL_OCSP_P99_MS;
      ctx.goal(`OCSP at infield says revoked within ${GOAL_OCSP_P99_MS} ms of the manufacturer's statement (p99)`, met, `p99 ${figures.ocsp.p99.toFixed(0)} ms over ${trials} trials`);
      if (!ctx.quick) {
        const out: Record<string, Figure> = {
          'ocsp_revoked.p50': { value: figures.ocsp.p50, unit: 'ms', baseline: null, goal: 'info', met: true },
          'ocsp_revoked.p99': { value: figures.ocsp.p99, unit: 'ms', baseline: null, goal: `< ${GOAL_OCSP_P99_MS}`, met },
          'verdict.p50': { value: figures.verdict.p50, unit: 'ms', baseline: null, goal: 'info', met: true },
          'verdict.p99': { value: figures.verdict.p99, unit: 'ms', baseline: null, goal: 'info', met: true },
          'mqtt_session_ended.p50': { value: figures.session.p50, unit: 'ms', baseline: null, goal: 'info', met: true },
          'mqtt_session_ended.p99': { value: figures.session.p99, unit: 'ms', baseline: null, goal: 'info', met: true },
          'mqtt_refused.p99': { value: figures.refused.p99, unit: 'ms', baseline: null, goal: 'info', met: true },
        };
        const document = {
          benchmark: 'revocation-propagation',
          runs: { 'revocation-propagation': { date: started.toISOString(), commit, environment: environmentLine(), trials } },
          figures: out,
        };
        await writeFile(RESULTS, `${JSON.stringify(document, null, 2)}\n`);
        ctx.log('figures written to bench/results/revocation-propagation.json');
      }
    } finally {
      await running.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const revocationPropagationBenchmark: Benchmark = {
  name: 'revocation-propagation',
  title: "from the manufacturer's 'stolen' to infield's OCSP answer and the broker dropping the device, across the four-role mesh (20 trials)",
  run,
};
