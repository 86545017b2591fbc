// Certification flood (CVE-2019-13050) against a real `ics serve` (LevelDB) while a steady
// lookup load runs. Two device keys of the node's own devices domain are flooded over
// /pks/add: one with certifications by as many unknown issuers as it has certifications, one
// with certifications by a few reused issuers (each issuer many times, every copy its own
// signature bytes), among them certifications the trusted integrator really made but in a
// role it may not sign as. Each flood is first sent whole (above the body limit: 413), then
// in chunks that fit every limit (body, record bytes, armor, packets), so that every
// certification reaches the node's filter; and separate submissions forge the trusted
// manufacturer (its fingerprint, another key's signature). Invariants: no certification the
// policy does not admit is stored (read back from the store: every third-party signature
// is by a trusted issuer, and only the two legitimate ones are there), every chunk is
// answered with all its certifications dropped, the node keeps answering lookups. Figure:
// lookup p99 during the flood against p99 without (bench/flood.ts's clients, in a worker).
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { armor, DEFAULT_LIMITS, reviveRecord, type IdentityRecord, type VerifiedSignature } from '../../ics/record/index.ts';
import { LevelStore } from '../../ics/store/level/index.ts';
import { type ClientResult, fakeCertifications, runClients } from '../flood.ts';
import { pool } from '../harness.ts';
import { certification, type EdKey, keyFacts } from '../store-packets.ts';
import { type Device, Devices, initNode, pksAdd, seededRandom, serveNode, TempDirs } from './common.ts';

/** The node's body limit, set in its config so that the flood's shape does not drift with the default. */
export const FLOOD_MAX_BODY_BYTES = 2 * 1024 * 1024;
/** Flood submissions in flight at once (as bench/flood.ts). */
export const FLOOD_IN_FLIGHT = 4;
/** Certifications in each reused-issuer chunk that the trusted integrator really made, claiming the manufacturer role. */
const ESCALATIONS_PER_CHUNK = 2;
/** How long a whole flood's headers wait for an answer before its body follows. */
const HEADERS_GRACE_MS = 10_000;

export interface FloodOptions {
  /** Certifications by distinct unknown issuers on the first key. */
  readonly unknownCertifications: number;
  /** Reused issuers on the second key, and copies by each. */
  readonly reusedIssuers: number;
  readonly copiesPerIssuer: number;
  /** Device records stored and looked up. */
  readonly devices: number;
  readonly connections: number;
  /** Length of the quiet and of the flooded lookup window. */
  readonly windowSeconds: number;
  readonly seed: number;
  readonly log?: (line: string) => void;
}

export interface FloodReport {
  /** Status of each flood sent whole, with its form body's size. */
  readonly whole: ReadonlyArray<{ readonly name: string; readonly bytes: number; readonly status: number }>;
  /** Chunks per pass and the largest chunk's form body. */
  readonly chunks: number;
  readonly largestChunkBytes: number;
  /** Flood submissions in the flooded window (whole, chunks and forgeries), passes over the chunks completed. */
  readonly submissions: number;
  readonly passes: number;
  /** Chunk submissions answered otherwise than 200 (status → count). */
  readonly chunkRefusals: Record<string, number>;
  /** Certifications sent in answered chunks, and of them reported dropped by the node. */
  readonly certificationsSent: number;
  readonly certificationsDropped: number;
  /** Forged manufacturer certifications sent, and of them answered 200. */
  readonly forgeries: number;
  readonly forgeriesAccepted: number;
  /** Third-party signatures on the two flooded keys as stored: all, by an untrusted issuer, other than the legitimate ones. */
  readonly thirdPartyStored: number;
  readonly unauthorisedStored: number;
  readonly foreignStored: number;
  readonly quiet: ClientResult;
  readonly flooded: ClientResult;
  /** After the flood: the process is up and answers a lookup of each flooded key and of another device. */
  readonly servingAfter: boolean;
  /** Seconds the flood went on after the lookup window closed to finish its first pass (0: within it). */
  readonly overrunSeconds: number;
}

interface Submission {
  readonly kind: 'chunk' | 'forgery' | 'whole';
  readonly name: string;
  readonly body: string;
  /** Certifications in it that the node must drop (chunks). */
  readonly certifications: number;
}

const formBody = (bytes: Buffer) => `keytext=${encodeURIComponent(armor('publicKey', bytes))}`;

/**
 * `certs` after `head` (the device's own packets), in order, cut into chunks each within every
 * limit a submission meets: packets and bytes of one record, armored size, the body limit.
 */
export function chunked(head: Buffer, headPackets: number, certs: readonly Buffer[], maxBodyBytes: number): Buffer[][] {
  const out: Buffer[][] = [];
  const fits = (part: readonly Buffer[]) => {
    if (headPackets + part.length > DEFAULT_LIMITS.maxPackets) return false;
    const bytes = Buffer.concat([head, ...part]);
    if (bytes.length > DEFAULT_LIMITS.maxRecordBytes) return false;
    const text = armor('publicKey', bytes);
    return text.length <= DEFAULT_LIMITS.maxArmoredBytes && formBody(bytes).length <= maxBodyBytes;
  };
  let at = 0;
  let size = DEFAULT_LIMITS.maxPackets - headPackets;
  while (at < certs.length) {
    const part = certs.slice(at, at + size);
    if (fits(part)) {
      out.push(part);
      at += part.length;
    } else {
      size = Math.floor(size * 0.9);
      if (size < 1) throw new Error('a single certification does not fit the limits');
    }
  }
  return out;
}

function edKey(created: number): EdKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicRaw: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32), privateKey, created };
}

/** The device's key packet, user ID and self-certification, without its third-party certifications. */
function splitDevice(device: Device): { facts: ReturnType<typeof keyFacts>; uid: Buffer; created: number } {
  // deviceRecord: key, user ID, then self, manufacturer and integrator certifications.
  const created = device.bytes.readUInt32BE(3);
  const body = device.bytes.subarray(2, 2 + (device.bytes[1] as number));
  const facts = { body, fingerprint: Buffer.from(device.id, 'hex'), keyId: Buffer.from(device.id, 'hex').subarray(12) };
  return { facts, uid: Buffer.from(device.userId, 'utf8'), created };
}

function thirdParty(record: IdentityRecord): VerifiedSignature[] {
  if (record.type !== 'key') return [...record.signatures].filter((s) => !s.self);
  return [...record.keySignatures, ...record.userIds.flatMap((u) => u.signatures), ...record.subkeys.flatMap((s) => s.signatures)].filter((s) => !s.self);
}

async function answer(base: string, body: string): Promise<{ status: number; dropped: number }> {
  try {
    const response = await fetch(`${base}/pks/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      signal: AbortSignal.timeout(120_000),
    });
    const text = await response.text();
    if (response.status !== 200) return { status: response.status, dropped: 0 };
    const json = JSON.parse(text) as { results: Array<{ dropped?: { count: number } }> };
    return { status: 200, dropped: json.results.reduce((n, r) => n + (r.dropped?.count ?? 0), 0) };
  } catch {
    return { status: 0, dropped: 0 };
  }
}

/**
 * POST /pks/add of a body above the limit, by node:http rather than fetch. The node answers
 * 413 from the Content-Length and closes the connection; a client still sending by then sees
 * the connection reset, and the answer may be lost with it. So the headers go first and the
 * body only if no answer came within HEADERS_GRACE_MS (a node that reads the body).
 */
function postWhole(base: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const bytes = Buffer.from(body);
    let status = 0;
    const request = httpRequest(`${base}/pks/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': bytes.length },
      timeout: 120_000,
    });
    const timer = setTimeout(() => request.end(bytes), HEADERS_GRACE_MS);
    request.on('response', (response) => {
      clearTimeout(timer);
      status = response.statusCode ?? 0;
      response.resume();
      response.on('end', () => {
        request.destroy();
        resolve(status);
      });
      response.on('error', () => resolve(status));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(status));
    request.on('close', () => {
      clearTimeout(timer);
      resolve(status);
    });
    request.flushHeaders();
  });
}

async function lookupOk(base: string, id: string): Promise<boolean> {
  try {
    const response = await fetch(`${base}/pks/lookup?op=get&options=mr&search=0x${id}`, { signal: AbortSignal.timeout(30_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

export async function runFlood(options: FloodOptions): Promise<FloodReport> {
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed);
  const temp = new TempDirs();
  const devices = new Devices('flood');
  const dir = await temp.make('flood');
  await initNode(dir, 'manufacturer', devices);
  // (initNode exempts 127.0.0.1 from the per-address limits.)
  const configFile = join(dir, 'config.yaml');
  const config = parseDocument(await readFile(configFile, 'utf8'));
  config.setIn(['hkp', 'maxBodyBytes'], FLOOD_MAX_BODY_BYTES);
  await writeFile(configFile, config.toString(), { mode: 0o600 });
  const trusted = new Set([devices.manufacturer.facts.fingerprint.toString('hex'), devices.integrator.facts.fingerprint.toString('hex')]);

  const node = await serveNode(dir);
  try {
    // The devices looked up; the first two are flooded.
    const stored: Device[] = Array.from({ length: Math.max(3, options.devices) }, () => devices.next());
    await pool(stored, 8, async (d) => {
      const status = await pksAdd(node.hkp, armor('publicKey', d.bytes));
      if (status !== 200) throw new Error(`storing device ${d.id}: HTTP ${status}`);
    });
    const [unknownTarget, reusedTarget, bystander] = stored as [Device, Device, Device];

    // Flood 1: distinct unknown issuers, copies of one certification by a per-run stranger (bench/flood.ts).
    const a = splitDevice(unknownTarget);
    const stranger = edKey(1_704_067_200);
    const strangerFacts = keyFacts(stranger);
    const template = certification(a.facts, a.uid, { facts: strangerFacts, privateKey: stranger.privateKey }, a.created + 300, { role: 'manufacturer', status: 'stolen' });
    const unknownCerts = fakeCertifications(template, strangerFacts.fingerprint.toString('hex'), options.unknownCertifications, `rel-flood-${options.seed}`);

    // Flood 2: reused issuers made for this run; each certifies the key copiesPerIssuer times
    // at different moments, so that no two copies share signature bytes.
    const b = splitDevice(reusedTarget);
    const issuers = Array.from({ length: options.reusedIssuers }, () => {
      const key = edKey(1_704_067_200);
      return { facts: keyFacts(key), privateKey: key.privateKey };
    });
    const reusedCerts: Buffer[] = [];
    for (let copy = 0; copy < options.copiesPerIssuer; copy++) {
      for (const issuer of issuers) reusedCerts.push(certification(b.facts, b.uid, issuer, b.created + 300 + copy, { role: 'integrator', status: 'stolen' }));
    }

    const submissions: Submission[] = [];
    const whole = [
      { name: 'unknown issuers', body: formBody(Buffer.concat([unknownTarget.bytes, ...unknownCerts])) },
      { name: 'reused issuers', body: formBody(Buffer.concat([reusedTarget.bytes, ...reusedCerts])) },
    ];
    let chunkCount = 0;
    let largestChunkBytes = 0;
    const unknownChunks = chunked(unknownTarget.bytes, 5, unknownCerts, FLOOD_MAX_BODY_BYTES - 4096);
    const reusedChunks = chunked(reusedTarget.bytes, 5 + ESCALATIONS_PER_CHUNK, reusedCerts, FLOOD_MAX_BODY_BYTES - 4096);
    const integrator = { facts: devices.integrator.facts, privateKey: devices.integrator.key.privateKey };
    const rogue = edKey(1_704_067_200);
    const forged = { facts: devices.manufacturer.facts, privateKey: rogue.privateKey };
    for (let i = 0; i < Math.max(unknownChunks.length, reusedChunks.length); i++) {
      const u = unknownChunks[i];
      if (u) submissions.push({ kind: 'chunk', name: `unknown ${i + 1}/${unknownChunks.length}`, body: formBody(Buffer.concat([unknownTarget.bytes, ...u])), certifications: u.length });
      const r = reusedChunks[i];
      if (r) {
        // The trusted integrator, really signing, in a role it may not sign as: dropped by the policy, not by the parser.
        const escalations = Array.from({ length: ESCALATIONS_PER_CHUNK }, (_, k) =>
          certification(b.facts, b.uid, integrator, b.created + 200_000 + i * ESCALATIONS_PER_CHUNK + k, { role: 'manufacturer', status: 'stolen' }),
        );
        submissions.push({ kind: 'chunk', name: `reused ${i + 1}/${reusedChunks.length}`, body: formBody(Buffer.concat([reusedTarget.bytes, ...escalations, ...r])), certifications: r.length + escalations.length });
        // A forgery of the trusted manufacturer: its fingerprint, another key's signature; the whole submission is refused.
        const forgery = certification(b.facts, b.uid, forged, b.created + 400_000 + i, { role: 'manufacturer', status: 'stolen' });
        submissions.push({ kind: 'forgery', name: `forgery ${i + 1}`, body: formBody(Buffer.concat([reusedTarget.bytes.subarray(0, splitAt(reusedTarget.bytes, 3)), forgery])), certifications: 0 });
      }
    }
    for (const s of submissions) if (s.kind === 'chunk') largestChunkBytes = Math.max(largestChunkBytes, s.body.length);
    chunkCount = unknownChunks.length + reusedChunks.length;
    // Seeded order within each pass: the same run with the same seed sends the same sequence.
    for (let i = submissions.length - 1; i > 0; i--) {
      const j = random.int(i + 1);
      [submissions[i], submissions[j]] = [submissions[j] as Submission, submissions[i] as Submission];
    }
    log(
      `flood: ${stored.length} devices stored; key 1: ${unknownCerts.length} certifications by as many unknown issuers; ` +
        `key 2: ${reusedCerts.length} by ${issuers.length} reused issuers (${options.copiesPerIssuer} each) + ${ESCALATIONS_PER_CHUNK} integrator role escalations per chunk; ` +
        `${chunkCount} chunks (largest ${(largestChunkBytes / 1048576).toFixed(2)} MiB form body), ${submissions.filter((s) => s.kind === 'forgery').length} manufacturer forgeries; ` +
        `whole: ${whole.map((w) => `${(w.body.length / 1048576).toFixed(1)} MiB`).join(', ')}`,
    );

    const paths = stored.map((d) => `/pks/lookup?op=get&options=mr&search=0x${d.id}`);
    const base = { url: node.hkp, paths, connections: options.connections, durationMs: options.windowSeconds * 1000 };
    await runClients({ ...base, durationMs: Math.min(2000, base.durationMs) }); // warm-up: JIT, connection pools, answer caches
    const quiet = await runClients(base);

    // The flooded window: lookups in the worker; the flood from here, FLOOD_IN_FLIGHT at a time,
    // the two whole floods first, then pass after pass over the chunks and forgeries until the
    // window closes (the first pass is finished even if it outlasts the window).
    const refusals: Record<string, number> = {};
    const wholeStatus: number[] = [];
    let certificationsSent = 0;
    let certificationsDropped = 0;
    let forgeries = 0;
    let forgeriesAccepted = 0;
    let sent = 0;
    let windowOpen = true;
    let windowClosedAt = 0;
    const lookups = runClients(base).finally(() => {
      windowOpen = false;
      windowClosedAt = Date.now();
    });
    const queue: Array<() => Promise<void>> = whole.map((w, i) => async () => {
      wholeStatus[i] = await postWhole(node.hkp, w.body);
      sent++;
    });
    let next = 0;
    const takeSubmission = (): Submission | undefined => {
      if (next >= submissions.length && !windowOpen) return undefined;
      return submissions[next++ % submissions.length];
    };
    const lane = async () => {
      for (;;) {
        const first = queue.shift();
        if (first) {
          await first();
          continue;
        }
        const s = takeSubmission();
        if (!s) return;
        const got = await answer(node.hkp, s.body);
        sent++;
        if (s.kind === 'forgery') {
          forgeries++;
          if (got.status === 200) forgeriesAccepted++;
        } else if (got.status === 200) {
          certificationsSent += s.certifications;
          certificationsDropped += got.dropped;
        } else {
          refusals[got.status] = (refusals[got.status] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: FLOOD_IN_FLIGHT }, lane));
    const flooded = await lookups;
    const overrunSeconds = Math.max(0, (Date.now() - windowClosedAt) / 1000);

    const servingAfter =
      node.child.exitCode === null &&
      node.child.signalCode === null &&
      (await lookupOk(node.hkp, unknownTarget.id)) &&
      (await lookupOk(node.hkp, reusedTarget.id)) &&
      (await lookupOk(node.hkp, bystander.id));

    // What is stored, read back from the store itself once the node has stopped.
    await node.stop();
    const store = await LevelStore.open({ path: join(dir, 'db') });
    let thirdPartyStored = 0;
    let unauthorisedStored = 0;
    let foreignStored = 0;
    try {
      for (const target of [unknownTarget, reusedTarget]) {
        const legitimate = new Set(thirdParty(await reviveRecord(target.bytes)).map((s) => s.sigId));
        const got = await store.get(target.id);
        if (!got) throw new Error(`flooded key ${target.id} is no longer stored`);
        for (const sig of thirdParty(await reviveRecord(got.bytes))) {
          thirdPartyStored++;
          if (!trusted.has(sig.issuer)) unauthorisedStored++;
          if (!legitimate.has(sig.sigId)) foreignStored++;
        }
      }
    } finally {
      await store.close();
    }
    return {
      whole: whole.map((w, i) => ({ name: w.name, bytes: w.body.length, status: wholeStatus[i] ?? 0 })),
      chunks: chunkCount,
      largestChunkBytes,
      submissions: sent,
      passes: Math.floor(next / submissions.length),
      chunkRefusals: refusals,
      certificationsSent,
      certificationsDropped,
      forgeries,
      forgeriesAccepted,
      thirdPartyStored,
      unauthorisedStored,
      foreignStored,
      quiet,
      flooded,
      servingAfter,
      overrunSeconds: windowClosedAt === 0 ? 0 : overrunSeconds,
    };
  } finally {
    await node.stop(); // a no-op once stopped
    await temp.cleanup();
  }
}

/** Offset just past the first `packets` packets (new-format headers, as store-packets frames them). */
function splitAt(bytes: Buffer, packets: number): number {
  let at = 0;
  for (let i = 0; i < packets; i++) {
    const first = bytes[at + 1] as number;
    if (first < 192) at += 2 + first;
    else if (first < 224) at += 3 + ((first - 192) << 8) + (bytes[at + 2] as number) + 192;
    else at += 6 + bytes.readUInt32BE(at + 2);
  }
  return at;
}
