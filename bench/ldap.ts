// LDAP benchmark: searches per second and p50/p99 latency of the LDAP front end on a node
// holding N device records (the store benchmark's corpus, in a LevelDB store), by fingerprint
// (GnuPG's schema-v2 lookup) and by a compound filter, from a load generator in its own
// process — and, beside it in the same run and from the same generator, OpenLDAP's slapd
// (mdb back-end, started here on a loopback port) holding the same pgpKeyInfo entries. The
// node's server runs in a process of its own too (bench/ldap-server.ts), so that its CPU and
// memory figures are the server's alone, as slapd's are.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { mkdir, writeFile } from 'node:fs/promises';
import { freePort } from '../deploy/free-port.ts';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Dit } from '../ics/ldap/dit.ts';
import {
  attributeTypeDescription,
  GNUPG_ATTRIBUTES,
  objectClassDescription,
  PGP_KEY_INFO_CLASS,
  PGP_SERVER_INFO_CLASS,
} from '../ics/ldap/schema.ts';
import { keyEntry } from '../ics/ldap/views.ts';
import { scanKeyFacts } from '../ics/record/index.ts';
import type { FormatUpgrade } from '../ics/store/level/format.ts';
import { LevelStore } from '../ics/store/level/index.ts';
import type { StoredRecord } from '../ics/store/types.ts';
import { corpusWrite, environmentLine, TS_LOADER, int, mib, residentMemory, pick, pool, processCpuMs, seconds, type BenchContext, type Benchmark } from './harness.ts';
import type { ServerMemory } from './ldap-server.ts';
import { type ClientConfig, type ClientResult, GET_ATTRIBUTES, requestFilter, SEARCH_ATTRIBUTES, searchOnce } from './ldap-client.ts';
import { runTool, SLAPADD, schemaFromOlcLdif, slapdInstalled, startSlapd, writeSlapdConf } from './ldap-slapd.ts';
import { CACHE_DIR, checkCorpus, type Corpus, corpusChunks, lightRecords, loadCorpus } from './store-corpus.ts';

/** Goal from the brief: searches by fingerprint and by the compound filter at ≥ 0.75× slapd's rate. */
const GOAL_SHARE = 0.75;
/** Beyond the goal: ahead of slapd, as HKP is ahead of SKS. */
const AIM_SHARE = 1;
/** Goals from the brief for the server process: RSS flat under load, and a peak that fits a small machine. */
const MEMORY_GROWTH = 0.1;
const MEMORY_PEAK_MIB = 512;
const BASE_DN = 'dc=ics,dc=example';
const FINGERPRINT_BYTES = 20;
/** Bumped whenever the stores or LDIF built here change, so that an old cache is not reused. */
const CACHE_VERSION = 1;

/** A load shape: connections, each with searches in flight. */
interface Shape {
  connections: number;
  inFlight: number;
}

interface Settings {
  records: number;
  shapes: Shape[];
  warmMs: number;
  measureMs: number;
  rounds: number;
  requests: number;
  samples: number;
}

const FULL: Settings = { records: 1_000_000, shapes: [{ connections: 4, inFlight: 8 }, { connections: 50, inFlight: 1 }], warmMs: 2000, measureMs: 10_000, rounds: 2, requests: 50_000, samples: 200 };
const QUICK: Settings = { records: 20_000, shapes: [{ connections: 4, inFlight: 8 }, { connections: 50, inFlight: 1 }], warmMs: 500, measureMs: 2000, rounds: 1, requests: 5_000, samples: 20 };

const ICS_LDIF = fileURLToPath(new URL('../schemas/ics-ldap-schema.ldif', import.meta.url));
const CLIENT = fileURLToPath(new URL('./ldap-client.ts', import.meta.url));
const SERVER = fileURLToPath(new URL('./ldap-server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));

const storeDir = (n: number) => join(CACHE_DIR, `ldap-store-v${CACHE_VERSION}-${n}`);
const slapdDir = (n: number) => join(CACHE_DIR, `ldap-slapd-v${CACHE_VERSION}-${n}`);
const marker = (dir: string) => `${dir}.complete`;



/** The node's LevelDB store with every corpus record in the public `devices` domain (built once, cached). */
async function ensureStore(ctx: BenchContext, corpus: Corpus): Promise<{ dir: string; built: boolean; ms: number }> {
  const dir = storeDir(corpus.count);
  const start = performance.now();
  if (existsSync(marker(dir))) return { dir, built: false, ms: performance.now() - start };
  rmSync(dir, { recursive: true, force: true });
  ctx.log(`  ics store: writing ${int(corpus.count)} records into ${dir} (once; reused by later runs)`);
  const store = await LevelStore.open({ path: dir, syncWrites: false });
  let first = 0;
  let lastLog = performance.now();
  for (const chunk of corpusChunks(corpus, 8192)) {
    const records = lightRecords(corpus, first, chunk);
    first += chunk.length;
    await pool(records, 1024, (r) => store.write(corpusWrite(r)));
    if (performance.now() - lastLog > 30_000) {
      lastLog = performance.now();
      ctx.log(`  ics store: ${int(first)} / ${int(corpus.count)}`);
    }
  }
  const stats = await store.stats();
  await store.close();
  if (stats.records !== corpus.count) throw new Error(`store holds ${stats.records} records, expected ${corpus.count}`);
  writeFileSync(marker(dir), new Date().toISOString());
  return { dir, built: true, ms: performance.now() - start };
}

/** An LDIF value line (RFC 2849): plain when a SAFE-STRING (printable ASCII, no leading space, colon or `<`), else base64. */
function ldifLine(name: string, value: string): string {
  let safe = !value.endsWith(' ');
  for (let i = 0; i < value.length && safe; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || (i === 0 && (c === 0x20 || c === 0x3a || c === 0x3c))) safe = false;
  }
  return safe ? `${name}: ${value}\n` : `${name}:: ${Buffer.from(value, 'utf8').toString('base64')}\n`;
}

/** GnuPG's keyserver schema in slapd.conf form, from the definitions the server serves. */
function gnupgSchema(): string {
  return [
    ...GNUPG_ATTRIBUTES.map((a) => `attributetype ${attributeTypeDescription(a)}`),
    `objectclass ${objectClassDescription(PGP_SERVER_INFO_CLASS)}`,
    `objectclass ${objectClassDescription(PGP_KEY_INFO_CLASS)}`,
  ].join('\n');
}

/**
 * slapd's database with the same entries the ICS server presents under its base DN: the base,
 * cn=pgpServerInfo, ou=PGP Keys and one pgpKeyInfo entry per record, made by the same code
 * (views.ts keyEntry). Built once with slapadd, cached.
 */
async function ensureSlapd(ctx: BenchContext, corpus: Corpus, indexes: readonly string[]): Promise<{ conf: string; built: boolean; ms: number }> {
  const dir = slapdDir(corpus.count);
  const start = performance.now();
  const confFor = async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'gnupg.schema'), `${gnupgSchema()}\n`);
    await writeFile(join(dir, 'ics.schema'), schemaFromOlcLdif(readFileSync(ICS_LDIF, 'utf8')));
    return writeSlapdConf({
      dir,
      suffix: BASE_DN,
      schemas: [join(dir, 'gnupg.schema'), join(dir, 'ics.schema')],
      indexes,
      maxSizeBytes: 16 * 1024 * 1024 * 1024,
    });
  };
  if (existsSync(marker(dir))) return { conf: await confFor(), built: false, ms: performance.now() - start };
  rmSync(dir, { recursive: true, force: true });
  const conf = await confFor();
  ctx.log(`  slapd: loading ${int(corpus.count)} pgpKeyInfo entries into ${dir} with slapadd -q (once; reused by later runs)`);
  const dit = new Dit(BASE_DN);
  const ldif = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  const added = runTool(SLAPADD, ['-q', '-f', conf], ldif);
  const write = (text: string) => (ldif.write(text) ? Promise.resolve() : new Promise<void>((resolve) => ldif.once('drain', () => resolve())));
  await write(
    `dn: ${BASE_DN}\nobjectClass: top\nobjectClass: organization\nobjectClass: dcObject\no: ics\ndc: ics\n\n` +
      `dn: ${dit.serverInfoDn}\nobjectClass: top\nobjectClass: pgpServerInfo\ncn: pgpServerInfo\npgpBaseKeySpaceDN: ${dit.keysDn}\npgpSoftware: GnuPG\npgpVersion: 2\n\n` +
      `dn: ${dit.keysDn}\nobjectClass: top\nobjectClass: organizationalUnit\nou: PGP Keys\n\n`,
  );
  const now = new Date();
  let index = 0;
  for (const chunk of corpusChunks(corpus, 8192)) {
    let text = '';
    for (const bytes of chunk) {
      const id = corpus.ids.toString('hex', index * FINGERPRINT_BYTES, (index + 1) * FINGERPRINT_BYTES);
      index++;
      const stored = { id, bytes, updated: now } as unknown as StoredRecord;
      const entry = keyEntry(dit, stored, scanKeyFacts(bytes), 1);
      text += `dn: ${entry.dn}\n`;
      for (const a of entry.attributes()) if (!a.operational) for (const v of a.values) text += ldifLine(a.name, v);
      text += '\n';
    }
    await write(text);
  }
  ldif.end();
  const { code, stderr } = await added;
  if (code !== 0) throw new Error(`slapadd failed (${code}): ${stderr.slice(-2000)}`);
  writeFileSync(marker(dir), new Date().toISOString());
  return { conf, built: true, ms: performance.now() - start };
}



/** Starts bench/ldap-server.ts on the store in `dir`; its stdout answers one line per request. */
async function startIcsServer(dir: string): Promise<{
  port: number;
  pid: number;
  upgrade?: FormatUpgrade;
  memory(): Promise<ServerMemory>;
  stop(): Promise<void>;
}> {
  // As deploy/ics.service runs the node: two malloc arenas.
  const child = spawn(process.execPath, ['--import', TS_LOADER, SERVER, dir, BASE_DN], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, MALLOC_ARENA_MAX: '2' } });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const next = async <T>(): Promise<T> => {
    const line = await lines.next();
    if (line.done) throw new Error(`the LDAP server process ended: ${err}`);
    return JSON.parse(line.value) as T;
  };
  const ready = await next<{ port: number; pid: number; upgrade?: FormatUpgrade }>();
  return {
    ...ready,
    memory: () => {
      child.stdin?.write('memory\n');
      return next<ServerMemory>();
    },
    stop: async () => {
      child.stdin?.end('stop\n');
      await exited;
    },
  };
}

/** Runs the load generator in its own node process (the project's loader for TypeScript). */
function runClient(config: ClientConfig): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TS_LOADER, CLIENT, JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator failed (${code}): ${err.slice(-2000)}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) as string) as ClientResult);
    });
  });
}

function slapdPid(conf: string): number | undefined {
  try {
    return Number(readFileSync(join(conf, '..', 'slapd.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** Same entries from both servers for a sample of records (modifyTimestamp aside). */
async function checkSameEntries(corpus: Corpus, ics: { port: number }, slapd: { port: number }, samples: number): Promise<void> {
  const dit = new Dit(BASE_DN);
  for (let s = 0; s < samples; s++) {
    const index = Math.floor(Math.random() * corpus.count);
    const fpr = corpus.ids.toString('hex', index * FINGERPRINT_BYTES, (index + 1) * FINGERPRINT_BYTES);
    for (const kind of ['fingerprint', 'compound'] as const) {
      const filter = requestFilter(kind, fpr, index).ber;
      const attrs = kind === 'fingerprint' ? GET_ATTRIBUTES : SEARCH_ATTRIBUTES;
      const [a, b] = await Promise.all([searchOnce('127.0.0.1', ics.port, dit.keysDn, filter, attrs), searchOnce('127.0.0.1', slapd.port, dit.keysDn, filter, attrs)]);
      const strip = (entries: Array<Map<string, string[]>>) =>
        JSON.stringify(entries.map((e) => [...e.entries()].filter(([k]) => k !== 'modifytimestamp').sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))));
      if (a.code !== 0 || b.code !== 0 || a.entries.length !== 1 || strip(a.entries) !== strip(b.entries)) {
        throw new Error(`servers disagree on record ${index} (${kind}): ics ${a.code}/${a.entries.length}, slapd ${b.code}/${b.entries.length}`);
      }
    }
  }
}

async function run(ctx: BenchContext): Promise<void> {
  const s = pick(ctx, FULL, QUICK);
  ctx.row('env', `${environmentLine()}${ctx.quick ? ', QUICK mode (figures are a smoke check only)' : ''}`);
  if (!slapdInstalled()) {
    ctx.log('  slapd is not installed (Debian: apt-get install slapd): the LDAP benchmark needs it as its baseline; skipped');
    return;
  }
  const corpus = await loadCorpus(s.records, ctx.log);
  await checkCorpus(corpus, s.samples);
  ctx.row('corpus', `${int(corpus.count)} device records (the store benchmark's corpus), ${corpus.generated ? 'generated' : 'loaded from cache'} in ${seconds(corpus.buildMs)}`);

  const slapdIndexes = ['objectClass eq', 'pgpCertID eq', 'gpgFingerprint eq', 'gpgSubFingerprint eq', 'pgpUserID eq,subfinal'];
  const built = await ensureStore(ctx, corpus);
  ctx.row('ics store', `${built.built ? 'built' : 'cached'}: LevelDB, every record in the public domain \`devices\`${built.built ? ` in ${seconds(built.ms)}` : ''}`);
  const slapdDb = await ensureSlapd(ctx, corpus, slapdIndexes);
  ctx.row('slapd', `${slapdDb.built ? 'built' : 'cached'}: mdb, ${int(corpus.count + 3)} entries, index ${slapdIndexes.join('; ')}${slapdDb.built ? ` in ${seconds(slapdDb.ms)}` : ''}`);

  const ics = await startIcsServer(built.dir);
  if (ics.upgrade) ctx.log(`  ics store: format ${ics.upgrade.from} → ${ics.upgrade.to} in ${seconds(ics.upgrade.ms)}`);
  let slapd: Awaited<ReturnType<typeof startSlapd>> | undefined;
  try {
    slapd = await startSlapd(slapdDb.conf, await freePort());
    await checkSameEntries(corpus, ics, slapd, Math.min(s.samples, 100));
    // After the check's searches: the server as a user finds it once it has started and answered.
    const before = await ics.memory();
    const slapdPidNow = slapdPid(slapdDb.conf);
    const slapdBefore = slapdPidNow ? residentMemory(slapdPidNow) : undefined;
    ctx.row('same entries', `${Math.min(s.samples, 100)} random records searched on both servers both ways: identical entries (modifyTimestamp aside)`);
    const dit = new Dit(BASE_DN);
    const example = requestFilter('compound', '', 122_344).text;
    const shapeName = (shape: Shape) => `${shape.connections}×${shape.inFlight}`;
    ctx.log(`  load: ${s.shapes.map((x) => `${x.connections} connections × ${x.inFlight} searches in flight`).join(', then ')}; ${seconds(s.warmMs)} warm-up, ${seconds(s.measureMs)} measured, uniform random records, one load-generator process`);
    ctx.log(`  fingerprint: base ${dit.keysDn}, subtree, (|(gpgFingerprint=<FPR>)(gpgSubFingerprint=<FPR>)), dirmngr's 11 attributes incl. pgpKey`);
    ctx.log(`  compound:    base ${dit.keysDn}, subtree, e.g. ${example}, dirmngr's search attributes`);
    const best = new Map<string, ClientResult & { cpuUs?: number }>();
    for (const shape of s.shapes) {
      for (const kind of ['fingerprint', 'compound'] as const) {
        for (let round = 0; round < s.rounds; round++) {
          const order = round % 2 === 0 ? (['ics', 'slapd'] as const) : (['slapd', 'ics'] as const);
          for (const who of order) {
            const port = who === 'ics' ? ics.port : (slapd as { port: number }).port;
            const pid = who === 'ics' ? ics.pid : slapdPid(slapdDb.conf);
            const cpu0 = pid ? processCpuMs(pid) : undefined;
            const r = await runClient({
              host: '127.0.0.1',
              port,
              kind,
              keysDn: dit.keysDn,
              idsFile: join(CACHE_DIR, `store-corpus-v1-${corpus.count}.ids`),
              count: corpus.count,
              connections: shape.connections,
              inFlight: shape.inFlight,
              warmMs: s.warmMs,
              measureMs: s.measureMs,
              requests: s.requests,
            });
            const cpu1 = pid ? processCpuMs(pid) : undefined;
            // CPU over warm-up and window together, per search in the window: an upper bound.
            const cpuUs = cpu0 !== undefined && cpu1 !== undefined ? ((cpu1 - cpu0) * 1000) / r.ops : undefined;
            const label = `${who} ${kind} ${shapeName(shape)}${s.rounds > 1 ? ` #${round + 1}` : ''}`;
            ctx.row(
              label,
              `${int(r.perSecond).padStart(7)} searches/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  (${int(r.ops)} searches${r.errors ? `, ${r.errors} errors` : ''}${r.wrongCount ? `, ${r.wrongCount} not exactly one entry` : ''}${cpuUs === undefined ? '' : ` cpu ≤${cpuUs.toFixed(0)} µs/search`})`,
            );
            if (r.errors > 0 || r.wrongCount > 0) throw new Error(`${label}: ${r.errors} errors, ${r.wrongCount} searches without exactly one entry`);
            const key = `${who} ${kind} ${shapeName(shape)}`;
            if (!best.has(key) || (best.get(key) as ClientResult).perSecond < r.perSecond) best.set(key, { ...r, cpuUs });
          }
        }
      }
    }
    for (const shape of s.shapes) {
      for (const kind of ['fingerprint', 'compound'] as const) {
        const name = `${kind} ${shapeName(shape)}`;
        const a = best.get(`ics ${name}`) as ClientResult & { cpuUs?: number };
        const b = best.get(`slapd ${name}`) as ClientResult & { cpuUs?: number };
        const ratio = a.perSecond / b.perSecond;
        ctx.row(`ics/slapd ${name}`, `${ratio.toFixed(2)}× (best of ${s.rounds}: ${int(a.perSecond)} vs ${int(b.perSecond)} searches/s)`);
        ctx.goal(`${kind} searches, ${shape.connections} connections × ${shape.inFlight}: ≥ ${GOAL_SHARE}× slapd`, ratio >= GOAL_SHARE, `${ratio.toFixed(2)}×`);
        const key = `${kind}.c${shape.connections}x${shape.inFlight}`;
        ctx.figure(`${key}.per_second`, { value: a.perSecond, unit: 'searches/s', baseline: b.perSecond, goal: `>= ${GOAL_SHARE}x baseline (slapd); aim >= ${AIM_SHARE}x`, met: ratio >= GOAL_SHARE });
        ctx.figure(`${key}.ratio`, { value: ratio, unit: 'x', baseline: null, goal: `>= ${GOAL_SHARE}`, met: ratio >= GOAL_SHARE });
        ctx.figure(`${key}.p99`, { value: a.p99, unit: 'ms', baseline: b.p99, goal: 'info', met: true });
        if (a.cpuUs !== undefined) ctx.figure(`${key}.cpu_per_search`, { value: a.cpuUs, unit: 'µs', baseline: b.cpuUs ?? null, goal: 'info (an upper bound: warm-up included)', met: true });
      }
    }
    const after = await ics.memory();
    const growth = after.rss / before.rss - 1;
    ctx.row(
      'memory',
      `node's LDAP server process: RSS ${mib(before.rss)} before the searches, ${mib(after.rss)} after (${(growth * 100).toFixed(1)} %), peak ${mib(after.peakRss)}; ` +
        `after: private ${mib(after.anon)} (V8 heap ${mib(after.heapUsed)} used of ${mib(after.heapTotal)}, external ${mib(after.external)}), file-backed ${mib(after.file)} (LevelDB's memory-mapped tables)`,
    );
    const slapdAfter = slapdPidNow ? residentMemory(slapdPidNow) : undefined;
    if (slapdBefore && slapdAfter) {
      ctx.row(
        'memory (slapd)',
        `slapd, the same searches: RSS ${mib(slapdBefore.rss)} before, ${mib(slapdAfter.rss)} after, peak ${mib(slapdAfter.peakRss)}; after: private ${mib(slapdAfter.anon)}, file-backed ${mib(slapdAfter.file)} (its memory-mapped mdb)`,
      );
    }
    ctx.goal(`server RSS after the searches within +${MEMORY_GROWTH * 100} % of before`, growth <= MEMORY_GROWTH, `${(growth * 100).toFixed(1)} %`);
    ctx.goal(`server peak RSS ≤ ${MEMORY_PEAK_MIB} MiB`, after.peakRss <= MEMORY_PEAK_MIB * 2 ** 20, mib(after.peakRss));
    ctx.figure('memory.server_peak_rss', {
      value: after.peakRss / 2 ** 20,
      unit: 'MiB',
      baseline: slapdAfter ? slapdAfter.peakRss / 2 ** 20 : null,
      goal: `<= ${MEMORY_PEAK_MIB} (baseline: slapd's peak RSS in the same run)`,
      met: after.peakRss <= MEMORY_PEAK_MIB * 2 ** 20,
    });
    ctx.figure('memory.server_private_after_vs_slapd', {
      value: after.anon / 2 ** 20,
      unit: 'MiB',
      baseline: slapdAfter ? slapdAfter.anon / 2 ** 20 : null,
      goal: 'info (private memory after the searches; baseline: slapd\'s)',
      met: true,
    });
    ctx.figure('memory.server_rss_after', { value: after.rss / 2 ** 20, unit: 'MiB', baseline: before.rss / 2 ** 20, goal: `<= ${1 + MEMORY_GROWTH}x baseline (RSS before the searches)`, met: growth <= MEMORY_GROWTH });
    ctx.figure('memory.server_private_after', { value: after.anon / 2 ** 20, unit: 'MiB', baseline: before.anon / 2 ** 20, goal: 'info', met: true });
    ctx.figure('memory.server_file_backed_after', { value: after.file / 2 ** 20, unit: 'MiB', baseline: before.file / 2 ** 20, goal: 'info (LevelDB tables mapped: page cache)', met: true });
    ctx.figure('memory.server_heap_used_after', { value: after.heapUsed / 2 ** 20, unit: 'MiB', baseline: before.heapUsed / 2 ** 20, goal: 'info', met: true });
    ctx.describe({ records: corpus.count, shapes: s.shapes, warmMs: s.warmMs, measureMs: s.measureMs, rounds: s.rounds, slapdIndexes });
  } finally {
    await slapd?.stop();
    await ics.stop();
  }
}

export const ldapBenchmark: Benchmark = {
  name: 'ldap',
  title: 'LDAP front end: searches by fingerprint and by compound filter on a LevelDB node, vs OpenLDAP slapd (mdb) with the same entries',
  run,
};
