// Fuzzing the front ends with seeded mutations of valid inputs: HKP /pks/add bodies and
// /pks/lookup query strings over HTTP to a real `ics serve` (LevelDB), LDAP SearchRequests
// through the session's decoder in-process and a sample over a socket to the same node,
// sync frames through the codec's decoder, policy and config files through their loaders.
// Invariants: no crash (the node stays up, no 5xx, decoders throw only their own errors), no
// request outlives its timeout, nothing but the valid originals is stored, the node's RSS
// stays bounded. A failing input is written to disk with the seed and case that made it.
import { createConnection } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIcsError } from '../../ics/errors.ts';
import { decodeSearchRequest } from '../../ics/ldap/search-request.ts';
import { loadConfig } from '../../ics/node/index.ts';
import { parsePolicy } from '../../ics/policy/index.ts';
import { armor } from '../../ics/record/index.ts';
import { LevelStore } from '../../ics/store/level/index.ts';
import { decodeMessage, encodeMessage, type Message, MessageType, Mode, ProtocolError } from '../../ics/sync/codec.ts';
import { filter, ldapMessage, searchOp } from '../../test/ldap/wire.ts';
import { describeSample, Devices, initNode, rssOf, sampleNode, type SeededRandom, seededRandom, serveNode, TempDirs, writeFailure } from './common.ts';

export interface FuzzFront {
  readonly name: string;
  readonly inputs: number;
  readonly crashes: number;
  readonly hangs: number;
  /** Records stored that were not one of the valid originals. */
  readonly storedFromInvalid: number;
  readonly failures: readonly string[];
}

export interface FuzzReport {
  readonly seed: number;
  readonly fronts: readonly FuzzFront[];
  /** Growth of the served node's RSS from the start to the peak, bytes. */
  readonly rssGrowth: number;
}

export interface FuzzOptions {
  /** Mutated inputs per front end. */
  readonly inputs: number;
  /** Of which over sockets (HKP: all of them go over HTTP; LDAP: this many). */
  readonly socketSample: number;
  readonly seed: number;
  readonly log?: (line: string) => void;
}

/** A request that takes longer than this is a hang (the node's own request timeout is 30 s). */
const REQUEST_TIMEOUT_MS = 30_000;
const HTTP_IN_FLIGHT = 16;
/** Failing inputs written per front end at most: the first ones say enough. */
const MAX_FAILURES_WRITTEN = 20;

/** One to four of: bit flip, byte set, insert, delete, duplicate, truncate, interesting byte. */
export function mutate(input: Uint8Array, r: SeededRandom): Buffer {
  let b = Buffer.from(input);
  const rounds = 1 + r.int(4);
  for (let i = 0; i < rounds; i++) {
    const at = b.length === 0 ? 0 : r.int(b.length);
    switch (r.int(7)) {
      case 0:
        if (b.length) b[at] = (b[at] as number) ^ (1 << r.int(8));
        break;
      case 1:
        if (b.length) b[at] = r.int(256);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(16)), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.int(32)))]);
        break;
      case 4: {
        const len = 1 + r.int(64);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
        break;
      }
      case 5:
        b = b.subarray(0, at);
        break;
      default:
        if (b.length) b[at] = [0x00, 0x7f, 0x80, 0xff, 0x30, 0x84, 0x3d, 0x26, 0x25][r.int(9)] as number;
    }
  }
  return b;
}

class Front {
  inputs = 0;
  crashes = 0;
  hangs = 0;
  storedFromInvalid = 0;
  readonly failures: string[] = [];

  constructor(
    readonly name: string,
    readonly seed: number,
  ) {}

  async fail(kind: 'crash' | 'hang', index: number, input: Uint8Array | string, what: string): Promise<void> {
    if (kind === 'crash') this.crashes++;
    else this.hangs++;
    if (this.failures.length < MAX_FAILURES_WRITTEN) this.failures.push(await writeFailure(`fuzz-${this.name}`, this.seed, index, input, `${kind}: ${what}`));
  }

  report(): FuzzFront {
    return { name: this.name, inputs: this.inputs, crashes: this.crashes, hangs: this.hangs, storedFromInvalid: this.storedFromInvalid, failures: this.failures };
  }
}

async function runPool(count: number, inFlight: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await task(next++);
  }));
}

/** Sync frames: each a mutation of a valid message of every type. */
function syncSeeds(devices: Devices): Message[] {
  const d = devices.next();
  const id = d.id;
  const prefix = new Uint8Array(16).fill(7);
  return [
    { type: MessageType.hello, version: 1, limits: { maxMessageBytes: 1 << 20, batchSize: 64 }, domains: [{ name: 'devices', digest: new Uint8Array(32), flags: 5 }] },
    { type: MessageType.helloOk, version: 1, limits: { maxMessageBytes: 1 << 20, batchSize: 64 }, domains: [{ name: 'devices', status: 0, flags: 5, digest: new Uint8Array(32) }] },
    { type: MessageType.reconcile, domain: 'devices', ranges: [{ upper: { time: 5, id }, mode: Mode.fingerprint, fingerprint: new Uint8Array(16) }, { upper: undefined, mode: Mode.idList, prefixes: [prefix] }] },
    { type: MessageType.reconcileReply, ranges: [{ upper: undefined, mode: Mode.idListReply, have: new Uint8Array([1]), listed: 1, extras: [{ id, prefix }] }] },
    { type: MessageType.fetch, domain: 'devices', ids: [id] },
    { type: MessageType.records, entries: [{ status: 0, bytes: d.bytes }, { status: 1 }] },
    { type: MessageType.announce, domain: 'devices', hint: false, items: [{ id, prefix }] },
    { type: MessageType.ack, status: 0 },
    { type: MessageType.error, code: 1, text: 'not permitted' },
  ] as Message[];
}

async function fuzzSync(options: FuzzOptions, devices: Devices): Promise<FuzzFront> {
  const front = new Front('sync-codec', options.seed);
  const r = seededRandom(options.seed ^ 0x5c);
  const seeds: Uint8Array[] = [];
  for (const m of syncSeeds(devices)) {
    try {
      seeds.push(encodeMessage(m));
    } catch (error) {
      options.log?.(`sync seed of type ${m.type} not encodable: ${(error as Error).message}`);
    }
  }
  for (let i = 0; i < options.inputs; i++) {
    const input = mutate(seeds[r.int(seeds.length)] as Uint8Array, r);
    front.inputs++;
    try {
      decodeMessage(input, { maxFetchIds: 1024, maxRecordBytes: 1 << 20 });
    } catch (error) {
      if (!(error instanceof ProtocolError)) await front.fail('crash', i, input, `${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  return front.report();
}

function ldapSeeds(): Buffer[] {
  return [
    ldapMessage(1, searchOp({ base: '', scope: 'base', filter: filter({ present: 'objectClass' }), attributes: ['namingContexts'] })),
    ldapMessage(2, searchOp({ base: 'ou=PGP Keys,dc=ics,dc=example', scope: 'sub', filter: filter({ and: [{ eq: ['objectClass', 'pgpKeyInfo'] }, { sub: ['pgpUserID', { any: ['acme'] }] }] }), attributes: ['pgpKey', 'pgpCertID'] })),
    ldapMessage(3, searchOp({ base: 'ou=records,dc=ics,dc=example', scope: 'one', filter: filter({ or: [{ eq: ['icsDomain', 'devices'] }, { not: { eq: ['icsStatus', 'stolen'] } }] }), attributes: [] })),
  ];
}

/** LDAP: the SearchRequest decoder in-process; a sample over a socket to the node, which must keep answering. */
async function fuzzLdap(options: FuzzOptions, ldap: string | null): Promise<FuzzFront> {
  const front = new Front('ldap-ber', options.seed);
  const r = seededRandom(options.seed ^ 0x1d);
  const seeds = ldapSeeds();
  const socketInputs: Buffer[] = [];
  for (let i = 0; i < options.inputs; i++) {
    const input = mutate(seeds[r.int(seeds.length)] as Buffer, r);
    front.inputs++;
    if (socketInputs.length < options.socketSample) socketInputs.push(input);
    try {
      decodeSearchRequest(input);
    } catch (error) {
      const name = (error as Error).name;
      if (name !== 'DecodeError' && name !== 'BerError' && !isIcsError(error)) await front.fail('crash', i, input, `${name}: ${(error as Error).message}`);
    }
  }
  if (ldap) {
    const [host, port] = [ldap.replace(/^ldaps?:\/\//, '').split(':')[0] as string, Number(ldap.split(':').at(-1)?.replace(/\/$/, ''))];
    for (const [i, input] of socketInputs.entries()) {
      // Each mutated message on its own connection, then a root DSE search on a fresh one.
      await new Promise<void>((resolve) => {
        const s = createConnection({ host, port }, () => s.end(input));
        s.on('data', () => undefined);
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.setTimeout(REQUEST_TIMEOUT_MS, () => s.destroy());
      });
      if (i % 50 === 49 || i === socketInputs.length - 1) {
        if (!(await ldapAnswers(host, port))) await front.fail('crash', i, input, 'the LDAP listener stopped answering');
      }
    }
  }
  return front.report();
}

/** A root DSE search on a fresh connection gets a SearchResultDone. */
function ldapAnswers(host: string, port: number): Promise<boolean> {
  const request = ldapMessage(9, searchOp({ base: '', scope: 'base', filter: filter({ present: 'objectClass' }), attributes: ['namingContexts'] }));
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const s = createConnection({ host, port }, () => s.write(request));
    s.setTimeout(REQUEST_TIMEOUT_MS, () => (s.destroy(), resolve(false)));
    s.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.includes(Buffer.from([0x65]))) {
        s.destroy();
        resolve(true);
      }
    });
    s.on('error', () => resolve(false));
  });
}

/** HKP over HTTP: /pks/add bodies (mutated records armored, or mutated armor and forms) and lookup query strings. */
async function fuzzHkp(options: FuzzOptions, devices: Devices, hkp: string, originals: Set<string>): Promise<FuzzFront[]> {
  const add = new Front('hkp-add', options.seed);
  const lookup = new Front('hkp-lookup', options.seed);
  const valid = Array.from({ length: 3 }, () => devices.next());
  for (const d of valid) originals.add(d.id);
  const bodies = (i: number): { body: Buffer; type: string } => {
    const lane = seededRandom(options.seed ^ (i * 2654435761));
    const d = valid[lane.int(valid.length)] as (typeof valid)[number];
    switch (lane.int(3)) {
      case 0:
        return { body: Buffer.from(new URLSearchParams({ keytext: armor('publicKey', mutate(d.bytes, lane)) }).toString()), type: 'application/x-www-form-urlencoded' };
      case 1:
        return { body: mutate(Buffer.from(new URLSearchParams({ keytext: armor('publicKey', d.bytes) }).toString()), lane), type: 'application/x-www-form-urlencoded' };
      default:
        return { body: mutate(d.bytes, lane), type: 'application/pgp-keys' };
    }
  };
  const query = (i: number): string => {
    const lane = seededRandom(options.seed ^ (i * 40503) ^ 0x9e37);
    const d = valid[lane.int(valid.length)] as (typeof valid)[number];
    const seeds = [`op=get&options=mr&search=0x${d.id}`, `op=index&options=mr&search=acme`, `op=vindex&search=0x${d.id.slice(-16)}&fingerprint=on`, `op=stats&options=mr`, `op=get&search=urn%3Acm4it%3Adevice&exact=on`];
    return mutate(Buffer.from(seeds[lane.int(seeds.length)] as string), lane).toString('latin1');
  };
  const send = async (front: Front, i: number, url: string, init: RequestInit, input: Uint8Array | string) => {
    front.inputs++;
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await response.arrayBuffer();
      // 501 is HKP's answer to an unknown op; any other 5xx is a server fault.
      if (response.status >= 500 && response.status !== 501) await front.fail('crash', i, input, `HTTP ${response.status}`);
    } catch (error) {
      const name = (error as Error).name;
      await front.fail(name === 'TimeoutError' ? 'hang' : 'crash', i, input, `${name}: ${(error as Error).message}`);
    }
  };
  await runPool(options.inputs, HTTP_IN_FLIGHT, async (i) => {
    const { body, type } = bodies(i);
    await send(add, i, `${hkp}/pks/add`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': type } }, body);
  });
  await runPool(options.inputs, HTTP_IN_FLIGHT, async (i) => {
    const q = query(i);
    let url: string;
    try {
      url = new URL(`/pks/lookup?${q}`, hkp).toString();
    } catch {
      return; // not a URL a client could send
    }
    await send(lookup, i, url, {}, q);
  });
  return [add.report(), lookup.report()];
}

/** Policy and config files through their loaders: only IcsError may come out. */
async function fuzzFiles(options: FuzzOptions, devices: Devices, dir: string): Promise<FuzzFront[]> {
  const policy = new Front('policy-file', options.seed);
  const config = new Front('config-file', options.seed);
  const r = seededRandom(options.seed ^ 0xf1);
  // The bases are the files `ics init` writes for a manufacturer (its policy trusting the run's
  // issuers): each must load as it is, or every mutation would only probe the first check.
  await initNode(dir, 'manufacturer', devices);
  const policyText = await readFile(join(dir, 'policy.yaml'), 'utf8');
  const configText = await readFile(join(dir, 'config.yaml'), 'utf8');
  parsePolicy(policyText, 'policy.yaml');
  await loadConfig(join(dir, 'config.yaml'));
  for (let i = 0; i < options.inputs; i++) {
    const input = mutate(Buffer.from(policyText), r);
    policy.inputs++;
    try {
      parsePolicy(input.toString('utf8'), 'fuzz.yaml');
    } catch (error) {
      if (!isIcsError(error)) await policy.fail('crash', i, input, `${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  const file = join(dir, 'fuzzed-config.yaml');
  for (let i = 0; i < options.inputs; i++) {
    const input = mutate(Buffer.from(configText), r);
    config.inputs++;
    await writeFile(file, input);
    try {
      await loadConfig(file);
    } catch (error) {
      if (!isIcsError(error)) await config.fail('crash', i, input, `${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  return [policy.report(), config.report()];
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  // The YAML parser warns (process.emitWarning) about odd tags in mutated files: expected here, and a million of them would drown the figures.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if ((warning as Error).name === 'YAMLWarning') return;
    (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return await fuzzAll(options);
  } finally {
    process.emitWarning = emitWarning;
  }
}

async function fuzzAll(options: FuzzOptions): Promise<FuzzReport> {
  const dirs = new TempDirs();
  const devices = new Devices('fuzz');
  try {
    const dir = await dirs.make('fuzz');
    await initNode(dir, 'manufacturer', devices);
    const node = await serveNode(dir);
    const startRss = (await rssOf(node.pid)) ?? 0;
    let peak = startRss;
    const sampler = setInterval(() => void rssOf(node.pid).then((rss) => (peak = Math.max(peak, rss ?? 0))), 250);
    const originals = new Set<string>();
    const fronts: FuzzFront[] = [];
    let crashedNode: string | undefined;
    // Where the memory is after each front end, to tell caches filling from growth per input.
    const token = (await readFile(join(dir, 'admin.token'), 'utf8')).trim();
    const memory = async (after: string) => {
      const s = await sampleNode(node.pid, node.hkp, { authorization: `Bearer ${token}` });
      if (s) options.log?.(`fuzz: node memory after ${after}: ${describeSample(s)}`);
    };
    try {
      await memory('start');
      fronts.push(...(await fuzzHkp(options, devices, node.hkp, originals)));
      options.log?.(`hkp done: ${fronts.map((f) => `${f.name} ${f.inputs}`).join(', ')}`);
      await memory('HKP');
      fronts.push(await fuzzLdap(options, node.ldap));
      await memory('LDAP');
      fronts.push(await fuzzSync(options, devices));
      fronts.push(...(await fuzzFiles(options, devices, await dirs.make('fuzz-files'))));
    } finally {
      clearInterval(sampler);
      peak = Math.max(peak, (await rssOf(node.pid)) ?? 0);
      const ended = await Promise.race([node.exited, Promise.resolve(undefined)]);
      if (ended) {
        crashedNode = `the node exited during the fuzz (${ended.signal ?? ended.code}):\n${node.log()}`;
        options.log?.(crashedNode);
      }
      await node.stop();
    }
    // Nothing but the valid originals (which a mutation may leave intact) was stored, and those verify.
    const store = await LevelStore.open({ path: join(dir, 'db') });
    try {
      const ids = await store.listDomain('devices', { limit: 1e6 });
      const stray = ids.filter((id) => !originals.has(id));
      const add = fronts.find((f) => f.name === 'hkp-add') as { storedFromInvalid: number };
      add.storedFromInvalid = stray.length;
    } finally {
      await store.close();
    }
    if (crashedNode) (fronts.find((f) => f.name === 'hkp-add') as { crashes: number }).crashes++;
    return { seed: options.seed, fronts, rssGrowth: peak - startRss };
  } finally {
    await dirs.cleanup();
  }
}
