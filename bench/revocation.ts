// Revocation benchmark (`npm run bench -- revocation`): what relying parties ask of a node
// whose CA issued many certificates.
//   - OCSP answers per second from a node with 1,000,000 certificates on record (20,000 in
//     quick mode), a tenth of them revoked, asked about random ones: without a nonce (RFC 5019:
//     signed once per certificate and status, then answered from memory) and with one (a
//     signature each), beside a bare node:http server answering a fixed body of the same size
//     in the same run — keep-alive connections from 16 clients in a worker thread, rounds
//     alternating. Goal: nonce-less ≥ 0.7× the bare server.
//   - The time to make the CRL, which lists the 100,000 revoked (2,000 quick). Goal: < 2 s.
// The node is the real one (data directory, CA, policy with an enrol section, LevelDB, the HTTP
// host with the pkix plugin), filled through its certificate index. The propagation from a
// manufacturer's status change to infield's OCSP answer is revocation-propagation.ts.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CertID, OCSPRequest, Request, TBSRequest } from '@peculiar/asn1-ocsp';
import { AlgorithmIdentifier, Extension } from '@peculiar/asn1-x509';
import { pino } from 'pino';
import { parseDocument } from 'yaml';
import { subjectPublicKeyOf } from '../ics/enrol/der.ts';
import { CertificateAuthority, CrlPublisher, type UnlockedAuthority } from '../ics/enrol/index.ts';
import { initDataDir, openNode, startServices } from '../ics/node/index.ts';
import type { CertificateEntry } from '../ics/store/index.ts';
import { type BenchContext, type Benchmark, environmentLine, type Figure, int, percentile, pick, sourceCommit } from './harness.ts';

const GOAL_SHARE = 0.7;
const GOAL_CRL_MS = 2000;
const RESULTS = fileURLToPath(new URL('./results/revocation.json', import.meta.url));

interface Settings {
  certificates: number;
  /** Every n-th certificate is revoked. */
  revokeEvery: number;
  /** Distinct requests the clients send, taken in turn (random certificates). */
  requests: number;
  clients: number;
  durationSec: number;
  rounds: number;
}

const FULL: Settings = { certificates: 1_000_000, revokeEvery: 10, requests: 20_000, clients: 16, durationSec: 10, rounds: 3 };
const QUICK: Settings = { certificates: 20_000, revokeEvery: 10, requests: 2_000, clients: 16, durationSec: 2, rounds: 1 };

const LOAD_WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: w.clients });
const bodies = w.bodies.map((b) => Buffer.from(b));
const latencies = [];
let ok = 0, failed = 0, firstFailure;
function one(i) {
  const body = bodies[i % bodies.length];
  const started = performance.now();
  return new Promise((done) => {
    const request = http.request({ host: w.host, port: w.port, path: w.path, method: 'POST', agent, headers: { 'content-type': 'application/ocsp-request', 'content-length': body.length } }, (answer) => {
      answer.resume();
      answer.once('end', () => {
        if (answer.statusCode === 200) { ok++; latencies.push(performance.now() - started); }
        else { failed++; firstFailure ??= 'HTTP ' + answer.statusCode; }
        done();
      });
    });
    request.once('error', (error) => { failed++; firstFailure ??= error.message; done(); });
    request.end(body);
  });
}
parentPort.once('message', async () => {
  let next = w.offset;
  const start = performance.now();
  const deadline = start + w.durationMs;
  await Promise.all(Array.from({ length: w.clients }, async () => { while (performance.now() < deadline) await one(next++); }));
  const elapsedMs = performance.now() - start;
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  parentPort.postMessage({ ok, failed, firstFailure, elapsedMs, latencies: sorted }, [sorted.buffer]);
});
parentPort.postMessage('ready');
`;

interface LoadResult {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failed: number;
  readonly firstFailure?: string;
}

function runLoad(url: URL, bodies: readonly Uint8Array[], s: Settings, offset: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LOAD_WORKER, {
      eval: true,
      workerData: { host: url.hostname, port: Number(url.port), path: url.pathname, bodies, clients: s.clients, durationMs: s.durationSec * 1000, offset },
    });
    worker.on('message', (m: 'ready' | { ok: number; failed: number; firstFailure?: string; elapsedMs: number; latencies: Float64Array }) => {
      if (m === 'ready') return worker.postMessage('go');
      void worker.terminate();
      resolve({
        perSecond: (m.ok * 1000) / m.elapsedMs,
        p50: percentile([...m.latencies], 50),
        p99: percentile([...m.latencies], 99),
        failed: m.failed,
        ...(m.firstFailure !== undefined && { firstFailure: m.firstFailure }),
      });
    });
    worker.once('error', reject);
  });
}

/** Sends each request once (`clients` at a time), so that the node has signed every nonce-less answer. */
async function warmAll(url: URL, bodies: readonly Uint8Array[], clients: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let next = 0;
  const one = (body: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      const request = http.request({ host: url.hostname, port: Number(url.port), path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/ocsp-request', 'content-length': body.byteLength } }, (answer) => {
        answer.resume();
        answer.once('end', () => (answer.statusCode === 200 ? resolve() : reject(new Error(`warming: HTTP ${answer.statusCode}`))));
      });
      request.once('error', reject);
      request.end(body);
    });
  // A keep-alive socket the server closes as a request is sent fails that request (ECONNRESET): sent again.
  const retried = async (body: Uint8Array) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await one(body);
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  };
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < bodies.length) await retried(bodies[next++] as Uint8Array);
    }),
  );
  agent.destroy();
}

const median = (runs: readonly LoadResult[]) => [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor((runs.length - 1) / 2)] as LoadResult;
const fmt = (r: LoadResult) => `${int(r.perSecond).padStart(7)} answers/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms${r.failed > 0 ? `  ${r.failed} failed (${r.firstFailure})` : ''}`;

/** A DER OCSPRequest for one serial of `ca`'s (SHA-1 CertID, as openssl sends by default), with a fresh nonce or none. */
function ocspRequest(ca: UnlockedAuthority, serial: string, nonce: boolean): Uint8Array {
  const name = new Uint8Array(ca.certificate.subjectName.toArrayBuffer());
  const keyBits = subjectPublicKeyOf(new Uint8Array(ca.certificate.publicKey.rawData));
  const certID = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26', parameters: null }),
    issuerNameHash: new OctetString(createHash('sha1').update(name).digest()),
    issuerKeyHash: new OctetString(createHash('sha1').update(keyBits).digest()),
    serialNumber: new Uint8Array(Buffer.from(serial, 'hex')).buffer,
  });
  const extensions = nonce ? [new Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', critical: false, extnValue: new OctetString(AsnConvert.serialize(new OctetString(randomBytes(16)))) })] : undefined;
  const request = new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certID })], ...(extensions && { requestExtensions: extensions }) }) });
  return new Uint8Array(AsnConvert.serialize(request));
}

async function fill(store: { addCertificate(e: CertificateEntry): Promise<void>; revokeCertificate(serial: string, r: { at: Date; reason: 'keyCompromise' }): Promise<unknown> }, issuer: string, s: Settings): Promise<{ serials: string[]; revoked: number }> {
  const der = randomBytes(64);
  const sha256 = createHash('sha256').update(der).digest('hex');
  const now = new Date();
  const notAfter = new Date(now.getTime() + 30 * 86_400_000);
  const serials: string[] = [];
  let revoked = 0;
  const chunk = 256;
  for (let i = 0; i < s.certificates; i += chunk) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(i + chunk, s.certificates); j++) {
      const bytes = randomBytes(16);
      bytes[0] = ((bytes[0] as number) & 0x3f) | 0x40;
      const serial = bytes.toString('hex');
      serials.push(serial);
      const revoke = j % s.revokeEvery === 0;
      if (revoke) revoked++;
      batch.push(
        store
          .addCertificate({ serial, recordId: 'ab'.repeat(20), issuer, purpose: 'operational', notBefore: now, notAfter, sha256, der, issuedAt: now })
          .then(() => (revoke ? store.revokeCertificate(serial, { at: now, reason: 'keyCompromise' }) : undefined)),
      );
    }
    await Promise.all(batch);
  }
  return { serials, revoked };
}

async function run(ctx: BenchContext): Promise<void> {
  const s = pick(ctx, FULL, QUICK);
  const started = new Date();
  const commit = sourceCommit();
  ctx.row('env', environmentLine() + (ctx.quick ? ', QUICK mode (figures are a smoke check only)' : ''));
  const dir = await mkdtemp(join(tmpdir(), 'ics-bench-revocation-'));
  const silent = pino({ level: 'silent' });
  try {
    await initDataDir(dir, { role: 'maintenance', name: 'bench-ca' });
    const passphrase = (await readFile(join(dir, 'keys/issuer.passphrase'), 'utf8')).trim();
    const ca = new CertificateAuthority(join(dir, 'ca'));
    await ca.initRoot({ passphrase, subject: 'CN=bench issuing CA', algorithm: 'p256' });
    const authority = await ca.unlock(passphrase);
    const policyFile = join(dir, 'policy.yaml');
    const policy = parseDocument(await readFile(policyFile, 'utf8'));
    policy.set('enrol', policy.createNode({}));
    await writeFile(policyFile, policy.toString());
    // The index is filled without an fsync per write (a node's own writes have one).
    const configFile = join(dir, 'config.yaml');
    const config = parseDocument(await readFile(configFile, 'utf8'));
    config.setIn(['store', 'level', 'syncWrites'], false);
    // Every client here is 127.0.0.1: exempt from the per-address request rate, as a gateway pool behind one NAT would be.
    config.setIn(['clientLimits', 'exempt'], config.createNode(['127.0.0.1']));
    await writeFile(configFile, config.toString(), { mode: 0o600 });
    const node = await openNode(dir, { logger: silent });
    try {
      // Services first: the node's revocation sweep at start finds an empty index. The
      // certificates filled below name no device record, and a sweep would revoke them all
      // (no record, no entitlement) while the load runs; nothing sweeps again within the hour.
      const services = await startServices(node, { hkp: '127.0.0.1:0', ldap: 'off', p2p: 'off' });
      try {
        const issuer = createHash('sha256').update(new Uint8Array(authority.certificate.rawData)).digest('hex');
        const fillStart = performance.now();
        const { serials, revoked } = await fill(node.store, issuer, s);
        ctx.row('setup', `${int(s.certificates)} certificates in the index, ${int(revoked)} revoked; filled in ${((performance.now() - fillStart) / 1000).toFixed(1)} s (not timed)`);

        // The CRL: every revoked, unexpired certificate.
        // The first list reads the index whole (at start, and hourly); the next, after a
        // revocation, adds it to the entries already read (what happens after each revocation).
        const publisher = new CrlPublisher({ signer: authority, index: node.store, validitySeconds: () => 7 * 86_400, logger: silent });
        const firstStart = performance.now();
        await publisher.refresh();
        const firstMs = performance.now() - firstStart;
        const extra = serials.find((_, i) => i % s.revokeEvery !== 0) as string;
        const entry = await node.store.revokeCertificate(extra, { at: new Date(), reason: 'keyCompromise' });
        const crlStart = performance.now();
        publisher.revoked(entry);
        await publisher.refresh();
        const crlMs = performance.now() - crlStart;
        await publisher.stop();
        const crlBytes = publisher.der?.byteLength ?? 0;
        ctx.row('CRL, read whole', `${int(revoked)} revoked serials in ${firstMs.toFixed(0)} ms (at start and hourly: every entry read from the index)`);
        ctx.row('CRL, after a revocation', `${int(revoked + 1)} revoked serials in ${crlMs.toFixed(0)} ms (${int(crlBytes / 1024)} KiB DER)`);

        const ocspUrl = new URL(`${services.addresses.hkp}/pki/ocsp`);
        const pickSerial = (i: number) => serials[Math.floor((i * 7919) % serials.length)] as string;
        const plain = Array.from({ length: s.requests }, (_, i) => ocspRequest(authority, pickSerial(i), false));
        const withNonce = Array.from({ length: Math.min(s.requests, 2000) }, (_, i) => ocspRequest(authority, pickSerial(i), true));
        // The bare server: a fixed answer of the size of an OCSP answer.
        const probe = await fetch(ocspUrl, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(plain[0] as Uint8Array) });
        const answerBytes = Buffer.from(await probe.arrayBuffer());
        const bare = http.createServer((request, response) => {
          request.resume();
          request.once('end', () => response.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': answerBytes.length }).end(answerBytes));
        });
        await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
        const bareUrl = new URL(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/`);
        try {
          // Warm: every nonce-less answer signed once, as in a fleet's steady state (not timed).
          const warmStart = performance.now();
          await warmAll(ocspUrl, plain, s.clients);
          ctx.row('warm', `${int(plain.length)} nonce-less answers signed once in ${((performance.now() - warmStart) / 1000).toFixed(1)} s (not timed)`);
          const rounds: { bare: LoadResult[]; plain: LoadResult[]; nonce: LoadResult[] } = { bare: [], plain: [], nonce: [] };
          for (let r = 0; r < s.rounds; r++) {
            rounds.bare.push(await runLoad(bareUrl, plain, s, 0));
            rounds.plain.push(await runLoad(ocspUrl, plain, s, r * 997));
            rounds.nonce.push(await runLoad(ocspUrl, withNonce, s, 0));
          }
          const [b, p, n] = [median(rounds.bare), median(rounds.plain), median(rounds.nonce)];
          const share = p.perSecond / b.perSecond;
          ctx.row('bare node:http', `${fmt(b)}  (the baseline: ${answerBytes.length}-byte answer, ${s.clients} clients, keep-alive, ${s.durationSec} s, median of ${s.rounds})`);
          ctx.row('OCSP, no nonce', `${fmt(p)}  (${(share * 100).toFixed(0)}% of the baseline; ${int(s.requests)} distinct certificates, a tenth revoked)`);
          ctx.row('OCSP, with nonce', `${fmt(n)}  (a signature each)`);
          const failed = b.failed + p.failed + n.failed;
          ctx.goal(`OCSP answers (no nonce) ≥ ${GOAL_SHARE}× the bare node:http server`, share >= GOAL_SHARE, `${share.toFixed(2)}×: ${int(p.perSecond)} vs ${int(b.perSecond)}/s`);
          ctx.goal(`CRL of ${int(revoked + 1)} revoked made after a revocation in < ${GOAL_CRL_MS} ms`, crlMs < GOAL_CRL_MS, `${crlMs.toFixed(0)} ms (read whole: ${firstMs.toFixed(0)} ms)`);
          ctx.goal('every OCSP request answered 200', failed === 0, `${failed} failed`);
          if (!ctx.quick) {
            const figures: Record<string, Figure> = {
              'ocsp.no_nonce.per_second': { value: p.perSecond, unit: 'answers/s', baseline: b.perSecond, goal: `>= ${GOAL_SHARE}x baseline`, met: share >= GOAL_SHARE },
              'ocsp.no_nonce.p99': { value: p.p99, unit: 'ms', baseline: b.p99, goal: 'info', met: true },
              'ocsp.nonce.per_second': { value: n.perSecond, unit: 'answers/s', baseline: b.perSecond, goal: 'info', met: true },
              'ocsp.nonce.p99': { value: n.p99, unit: 'ms', baseline: b.p99, goal: 'info', met: true },
              'crl.build_ms': { value: crlMs, unit: 'ms', baseline: null, goal: `< ${GOAL_CRL_MS}`, met: crlMs < GOAL_CRL_MS },
              'crl.full_read_ms': { value: firstMs, unit: 'ms', baseline: null, goal: 'info', met: true },
              'crl.entries': { value: revoked, unit: 'serials', baseline: null, goal: 'info', met: true },
              'crl.bytes': { value: crlBytes, unit: 'bytes', baseline: null, goal: 'info', met: true },
              'ocsp.failed': { value: failed, unit: 'requests', baseline: null, goal: '= 0', met: failed === 0 },
            };
            const results = {
              benchmark: 'revocation',
              runs: { revocation: { date: started.toISOString(), commit, environment: environmentLine(), certificates: s.certificates, clients: s.clients, durationSec: s.durationSec, rounds: s.rounds } },
              figures,
            };
            await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
            ctx.log('figures written to bench/results/revocation.json');
          }
        } finally {
          await new Promise((resolve) => bare.close(resolve));
        }
      } finally {
        await services.stop();
      }
    } finally {
      await node.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const revocationBenchmark: Benchmark = {
  name: 'revocation',
  title: 'OCSP answers/s (1M certificates on record, with and without nonces) vs a bare node:http server; CRL build time with 100,000 revoked',
  run,
};
