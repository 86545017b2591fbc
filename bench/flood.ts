// Lookups under a certification flood: p50/p99 of `op=get` by fingerprint at a fixed number
// of connections, alone and while bursts of 20 flood submissions go in 4 at a time through
// /pks/add (gpg's form-encoded keytext). Each flood is a real device key plus 4,000
// certifications by unknown issuers: small enough to pass every size limit, so the only
// defence is how cheaply the node refuses them. The clients run in a worker thread (their
// own event loop), so what is measured is how long the node's event loop keeps lookups
// waiting. Goal: p99 during the flood at most 2× p99 without.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { Ingest } from '../ics/ingest/index.ts';
import { PolicyEngine, policyFromObject } from '../ics/policy/index.ts';
import { armor, certify, generateIdentity, type KeyRecord } from '../ics/record/index.ts';
import { createMemoryStore } from '../ics/store/memory/index.ts';
import { environmentLine, int, pick, pool, type BenchContext, type Benchmark } from './harness.ts';
import { benchHkpServer } from './hkp.ts';

const GOAL_RATIO = 2;
/** The shape of the reported flood. */
const FLOOD_CERTIFICATIONS = 4000;
const FLOOD_BURST = 20;
const FLOOD_IN_FLIGHT = 4;

interface Settings {
  devices: number;
  connections: number;
  durationSec: number;
}

const FULL: Settings = { devices: 1000, connections: 16, durationSec: 10 };
const QUICK: Settings = { devices: 100, connections: 16, durationSec: 3 };

export interface ClientResult {
  lookups: number;
  p50: number;
  p99: number;
  max: number;
  failedLookups: number;
  floods: number;
  floodStatuses: Record<string, number>;
}

/**
 * The clients (CommonJS, node's fetch): `connections` lookup loops for `durationMs`, each
 * latency recorded; with `floods`, bursts of them `inFlight` at a time until the time is up.
 */
const CLIENT_WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const latencies = [];
let failedLookups = 0;
let floods = 0;
const floodStatuses = {};
const deadline = performance.now() + w.durationMs;
async function lookups(offset) {
  for (let i = offset; performance.now() < deadline; i += w.connections) {
    const t = performance.now();
    const res = await fetch(w.url + w.paths[i % w.paths.length]);
    await res.arrayBuffer();
    latencies.push(performance.now() - t);
    if (res.status !== 200) failedLookups++;
  }
}
async function flooder() {
  let next = 0;
  while (performance.now() < deadline) {
    const body = w.floods[next++ % w.floods.length];
    const res = await fetch(w.url + '/pks/add', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    await res.arrayBuffer();
    floods++;
    floodStatuses[res.status] = (floodStatuses[res.status] || 0) + 1;
  }
}
const tasks = Array.from({ length: w.connections }, (_, i) => lookups(i));
if (w.floods) for (let i = 0; i < w.inFlight; i++) tasks.push(flooder());
Promise.all(tasks).then(() => {
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  parentPort.postMessage({ lookups: latencies.length, p50: at(50), p99: at(99), max: latencies[latencies.length - 1], failedLookups, floods, floodStatuses });
}, (e) => parentPort.postMessage({ error: String(e) }));
`;

export function runClients(data: { url: string; paths: string[]; connections: number; durationMs: number; floods?: string[]; inFlight?: number }): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(CLIENT_WORKER, { eval: true, workerData: data });
    worker.once('message', (m: ClientResult & { error?: string }) => {
      void worker.terminate();
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    });
    worker.once('error', reject);
  });
}

/**
 * Certifications by `count` different unknown issuers: copies of one real certification with
 * the issuer's fingerprint and key id replaced (derived from a counter, so every run floods
 * with the same bytes). They need not verify: unknown issuers are dropped unverified.
 */
export function fakeCertifications(template: Uint8Array, issuer: string, count: number, seed: string): Buffer[] {
  const fpr = Buffer.from(issuer, 'hex');
  const keyId = fpr.subarray(-8);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const fake = Buffer.from(template);
    const other = createHash('sha256').update(`${seed}:${i}`).digest().subarray(0, 20);
    for (let at = fake.indexOf(fpr); at >= 0; at = fake.indexOf(fpr, at + 20)) other.copy(fake, at);
    for (let at = fake.indexOf(keyId); at >= 0; at = fake.indexOf(keyId, at + 8)) other.subarray(-8).copy(fake, at);
    out.push(fake);
  }
  return out;
}

function policy(manufacturer: KeyRecord): Promise<PolicyEngine> {
  const doc = policyFromObject(
    {
      version: 1,
      trust: { issuers: [{ name: 'acme', fingerprint: manufacturer.id, roles: ['manufacturer'] }] },
      domains: [
        {
          name: 'devices',
          select: { kinds: ['device'], userId: 'urn:cm4it:device:acme.example:*', signedBy: { role: 'manufacturer' } },
          accept: { requireRoles: ['manufacturer'] },
          read: 'public',
        },
      ],
      sync: { peers: [] },
    },
    'bench-flood-policy.yaml',
  );
  return PolicyEngine.create(doc, [manufacturer]);
}

const fmt = (r: ClientResult) =>
  `${int(r.lookups).padStart(7)} lookups  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  max ${r.max.toFixed(1)} ms` +
  (r.failedLookups > 0 ? `  (!! ${r.failedLookups} failed)` : '');

async function run(ctx: BenchContext): Promise<void> {
  const s = pick(ctx, FULL, QUICK);
  ctx.log(environmentLine());
  const created = new Date(Date.now() - 3600_000);
  const manufacturer = await generateIdentity({ userId: 'urn:cm4it:org:acme.example', created });
  const stranger = await generateIdentity({ userId: 'urn:cm4it:org:rogue.example', created });
  const engine = await policy(manufacturer.record);
  const store = await createMemoryStore();
  const logger = pino({ level: 'silent' });
  const ingest = new Ingest({}, { store, policy: engine, logger });
  const ids: string[] = [];
  const devices: KeyRecord[] = [];
  await pool(
    Array.from({ length: s.devices }, (_, i) => i),
    16,
    async (i) => {
      const { record } = await generateIdentity({ userId: `urn:cm4it:device:acme.example:cam-3:SN${String(i).padStart(6, '0')}`, created });
      const certified = await certify(record, manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created });
      await ingest.submit(certified.bytes, { source: 'import' });
      ids.push(certified.id);
      devices.push(certified);
    },
  );
  // Each flood targets a known device (so the key itself is accepted) with its own issuers.
  const rogue = await certify(devices[0] as KeyRecord, stranger.privateKey, { role: 'integrator' }, { created });
  const template = rogue.userIds[0]?.signatures.find((sig) => sig.issuer === stranger.record.id)?.packet;
  if (!template) throw new Error('no rogue certification to copy');
  const floods = Array.from({ length: FLOOD_BURST }, (_, i) => {
    const target = devices[i % devices.length] as KeyRecord;
    const text = armor('publicKey', Buffer.concat([target.bytes, ...fakeCertifications(template, stranger.record.id, FLOOD_CERTIFICATIONS, `flood${i}`)]));
    return `keytext=${encodeURIComponent(text)}`;
  });
  const server = benchHkpServer({ store, engine, ingest, logger });
  const { url } = await server.start();
  try {
    ctx.log(
      `${s.devices} device records; ${s.connections} lookup connections; floods of ${int(FLOOD_CERTIFICATIONS)} unknown-issuer certifications ` +
        `(${(floods[0]?.length ?? 0) >> 10} KiB form body), ${FLOOD_IN_FLIGHT} at a time`,
    );
    const paths = ids.map((id) => `/pks/lookup?op=get&options=mr&search=0x${id}`);
    const base = { url, paths, connections: s.connections, durationMs: s.durationSec * 1000 };
    await runClients({ ...base, durationMs: 1000 }); // warm-up: JIT, connection pools, answer caches
    const quiet = await runClients(base);
    ctx.row('lookup, no flood', fmt(quiet));
    const flooded = await runClients({ ...base, floods, inFlight: FLOOD_IN_FLIGHT });
    ctx.row('lookup, during flood', fmt(flooded));
    const statuses = Object.entries(flooded.floodStatuses).map(([status, n]) => `${n}× ${status}`).join(', ');
    const perSecond = flooded.floods / s.durationSec;
    ctx.row('flood submissions', `${flooded.floods} (${statuses}), ${perSecond.toFixed(1)}/s, ${int(perSecond * FLOOD_CERTIFICATIONS)} certifications/s refused`);
    const ratio = flooded.p99 / quiet.p99;
    ctx.goal(`lookup p99 during flood ≤ ${GOAL_RATIO}× p99 without`, ratio <= GOAL_RATIO, `${ratio.toFixed(2)}×: ${flooded.p99.toFixed(2)} ms vs ${quiet.p99.toFixed(2)} ms`);
  } finally {
    await server.stop();
  }
}

export const floodBenchmark: Benchmark = {
  name: 'flood',
  title: 'HKP lookup latency alone and under a concurrent unknown-issuer certification flood',
  run,
};
