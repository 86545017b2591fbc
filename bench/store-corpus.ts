// The store benchmark's corpus: N device records (self-certification + manufacturer +
// integrator, all Ed25519), generated once by worker threads and cached under .bench-cache/
// (gitignored), then streamed from disk in chunks so that the corpus never sits in memory.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IssuerKeyring, type KeyRecord, parseRecord, reviveRecord } from '../ics/record/index.ts';
import { contentTime, indexTermsOf } from '../ics/store/indexing.ts';
import { TS_LOADER } from './harness.ts';
import { type IssuerSeed, issuerFromSeed } from './store-corpus-shared.ts';
import { selfSignedKey } from './store-packets.ts';

export const CACHE_DIR = fileURLToPath(new URL('../.bench-cache/', import.meta.url));
/** Bumped whenever the records made change, so that an old cache is not reused. */
const CORPUS_VERSION = 1;
const MAGIC = Buffer.from('ICS-STORE-CORPUS\n');
/** Indexes per worker job: ~2 s of work, ~7 MB of output. */
const JOB_SIZE = 10_000;
const FINGERPRINT_BYTES = 20;

interface Header {
  readonly version: number;
  readonly count: number;
  readonly recordBytes: number;
  readonly manufacturer: IssuerSeed;
  readonly integrator: IssuerSeed;
}

export interface Corpus {
  readonly count: number;
  /** Sum of the records' own (canonical) bytes. */
  readonly recordBytes: number;
  /** Record ids (fingerprints), 20 bytes each, in corpus order. */
  readonly ids: Buffer;
  /** File of the records' sha256 digests, 32 bytes each, in corpus order (read per chunk). */
  readonly digestsFile: string;
  readonly issuers: IssuerKeyring;
  readonly file: string;
  readonly dataOffset: number;
  /** True when this run generated it; false when it came from the cache. */
  readonly generated: boolean;
  readonly buildMs: number;
}

const corpusFile = (count: number) => `${CACHE_DIR}store-corpus-v${CORPUS_VERSION}-${count}.bin`;
const idsFile = (count: number) => `${CACHE_DIR}store-corpus-v${CORPUS_VERSION}-${count}.ids`;
const digestsFile = (count: number) => `${CACHE_DIR}store-corpus-v${CORPUS_VERSION}-${count}.sha256`;
const DIGEST_BYTES = 32;

function readHeader(fd: number): { header: Header; dataOffset: number } | undefined {
  const head = Buffer.alloc(MAGIC.length + 4);
  if (readSync(fd, head, 0, head.length, 0) !== head.length || !head.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const length = head.readUInt32LE(MAGIC.length);
  const json = Buffer.alloc(length);
  readSync(fd, json, 0, length, head.length);
  return { header: JSON.parse(json.toString('utf8')) as Header, dataOffset: head.length + length };
}

/** Fingerprint of a corpus record: SHA-1 over its key packet (RFC 4880 §12.2). */
export function fingerprintOf(record: Buffer): Buffer {
  const length = record[1] as number; // key packets here are < 192 bytes: one length byte
  const body = record.subarray(2, 2 + length);
  return createHash('sha1').update(Buffer.from([0x99, length >> 8, length & 0xff])).update(body).digest();
}

async function issuerRing(header: Header): Promise<IssuerKeyring> {
  const records: KeyRecord[] = [];
  for (const seed of [header.manufacturer, header.integrator]) {
    const { bytes } = selfSignedKey(issuerFromSeed(seed).key, seed.userId);
    const { record } = await parseRecord(bytes);
    records.push(record as KeyRecord);
  }
  return IssuerKeyring.fromRecords(records);
}

async function generate(count: number, log: (line: string) => void): Promise<void> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const created = 1_704_067_200; // 2024-01-01, before every device
  const header: Header = {
    version: CORPUS_VERSION,
    count,
    recordBytes: 0,
    manufacturer: { seed: randomBytes(32).toString('hex'), userId: 'urn:cm4it:org:acme.example', created },
    integrator: { seed: randomBytes(32).toString('hex'), userId: 'urn:cm4it:org:integrator.example', created },
  };
  const boot = `import(${JSON.stringify(pathToFileURL(TS_LOADER).href)}).then(() => import(${JSON.stringify(new URL('./store-corpus-worker.ts', import.meta.url).href)}))`;
  const workers = Array.from({ length: 2 }, () => new Worker(boot, { eval: true, workerData: { manufacturer: header.manufacturer, integrator: header.integrator } }));
  const tmp = `${corpusFile(count)}.tmp`;
  const fd = openSync(tmp, 'w');
  const ids = Buffer.alloc(count * FINGERPRINT_BYTES);
  // Room for the header, written last once the byte total is known.
  const reserved = MAGIC.length + 4 + 1024;
  let offset = reserved;
  let recordBytes = 0;
  let nextJob = 0;
  let nextToWrite = 0;
  const done = new Map<number, Buffer>();
  const start = performance.now();
  let lastLog = start;
  try {
    await new Promise<void>((resolve, reject) => {
      const assign = (w: Worker) => {
        if (nextJob >= count) return;
        w.postMessage({ start: nextJob, end: Math.min(count, nextJob + JOB_SIZE) });
        nextJob += JOB_SIZE;
      };
      for (const w of workers) {
        w.on('error', reject);
        w.on('message', (m: { start: number; buffer: ArrayBuffer }) => {
          done.set(m.start, Buffer.from(m.buffer));
          // Write finished jobs in index order so that the file order is the index order.
          for (let chunk = done.get(nextToWrite); chunk; chunk = done.get(nextToWrite)) {
            done.delete(nextToWrite);
            offset += writeSync(fd, chunk, 0, chunk.length, offset);
            for (let at = 0, i = nextToWrite; at < chunk.length; i++) {
              const length = chunk.readUInt32LE(at);
              const record = chunk.subarray(at + 4, at + 4 + length);
              fingerprintOf(record).copy(ids, i * FINGERPRINT_BYTES);
              recordBytes += length;
              at += 4 + length;
            }
            nextToWrite = Math.min(count, nextToWrite + JOB_SIZE);
          }
          const now = performance.now();
          if (now - lastLog > 15_000) {
            lastLog = now;
            log(`  corpus: ${nextToWrite} / ${count} records generated`);
          }
          if (nextToWrite >= count) resolve();
          else assign(w);
        });
        assign(w);
      }
    });
  } finally {
    for (const w of workers) await w.terminate();
  }
  const json = Buffer.from(JSON.stringify({ ...header, recordBytes }));
  if (json.length > reserved - MAGIC.length - 4) throw new Error('corpus header too long');
  const head = Buffer.alloc(reserved, 0x20); // JSON padded with spaces
  MAGIC.copy(head);
  head.writeUInt32LE(reserved - MAGIC.length - 4, MAGIC.length);
  json.copy(head, MAGIC.length + 4);
  writeSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const idFd = openSync(`${idsFile(count)}.tmp`, 'w');
  writeSync(idFd, ids);
  closeSync(idFd);
  renameSync(`${idsFile(count)}.tmp`, idsFile(count));
  renameSync(tmp, corpusFile(count));
}

/** The corpus of `count` records: from the cache, or generated (and cached) first. */
export async function loadCorpus(count: number, log: (line: string) => void): Promise<Corpus> {
  const start = performance.now();
  const file = corpusFile(count);
  let generated = false;
  if (!existsSync(file) || !existsSync(idsFile(count))) {
    log(`  corpus: generating ${count} device records into ${file} (once; reused by later runs)`);
    await generate(count, log);
    generated = true;
  }
  const fd = openSync(file, 'r');
  try {
    const read = readHeader(fd);
    if (!read || read.header.version !== CORPUS_VERSION || read.header.count !== count) throw new Error(`${file}: not a corpus of ${count} records; delete it`);
    const ids = readWhole(idsFile(count), count * FINGERPRINT_BYTES);
    const partial = { count, file, dataOffset: read.dataOffset };
    if (!existsSync(digestsFile(count))) writeDigests(partial);
    return {
      count,
      recordBytes: read.header.recordBytes,
      ids,
      digestsFile: digestsFile(count),
      issuers: await issuerRing(read.header),
      file,
      dataOffset: read.dataOffset,
      generated,
      buildMs: performance.now() - start,
    };
  } finally {
    closeSync(fd);
  }
}

function readWhole(file: string, size: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const out = Buffer.alloc(size);
    if (readSync(fd, out, 0, size, 0) !== size) throw new Error(`${file} is truncated; delete it`);
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The digests side file: hashing at load time would churn native memory the store is measured by. */
function writeDigests(corpus: Pick<Corpus, 'count' | 'file' | 'dataOffset'>): void {
  const digests = Buffer.alloc(corpus.count * DIGEST_BYTES);
  let i = 0;
  for (const chunk of corpusChunks(corpus, 10_000)) {
    for (const bytes of chunk) createHash('sha256').update(bytes).digest().copy(digests, DIGEST_BYTES * i++);
  }
  const fd = openSync(`${digestsFile(corpus.count)}.tmp`, 'w');
  writeSync(fd, digests);
  closeSync(fd);
  renameSync(`${digestsFile(corpus.count)}.tmp`, digestsFile(corpus.count));
}

/** Bytes read from the corpus file per step. */
const READ_BYTES = 8 * 1024 * 1024;

/**
 * Streams the records in order, `size` at a time. Each chunk's buffers are fresh (never
 * reused), so writes still in flight keep valid bytes.
 */
export function* corpusChunks(corpus: Pick<Corpus, 'count' | 'file' | 'dataOffset'>, size: number, limit = corpus.count): Generator<Buffer[]> {
  const fd = openSync(corpus.file, 'r');
  try {
    const end = statSync(corpus.file).size;
    let position = corpus.dataOffset;
    let carry = Buffer.alloc(0);
    let chunk: Buffer[] = [];
    let emitted = 0;
    while (position < end && emitted < limit) {
      const block = Buffer.allocUnsafe(Math.min(READ_BYTES, end - position));
      const n = readSync(fd, block, 0, block.length, position);
      position += n;
      const data = carry.length > 0 ? Buffer.concat([carry, block.subarray(0, n)]) : block.subarray(0, n);
      let at = 0;
      while (at + 4 <= data.length && emitted < limit) {
        const length = data.readUInt32LE(at);
        if (at + 4 + length > data.length) break;
        chunk.push(data.subarray(at + 4, at + 4 + length));
        emitted++;
        at += 4 + length;
        if (chunk.length === size) {
          yield chunk;
          chunk = [];
        }
      }
      carry = data.subarray(at);
    }
    if (chunk.length > 0) yield chunk;
  } finally {
    closeSync(fd);
  }
}

/** Packets of a corpus record (new-format headers only, as the corpus writes them). */
function packets(bytes: Buffer): Array<{ tag: number; start: number; body: number; end: number }> {
  const out: Array<{ tag: number; start: number; body: number; end: number }> = [];
  for (let at = 0; at < bytes.length; ) {
    const tag = (bytes[at] as number) & 0x3f;
    const first = bytes[at + 1] as number;
    const [length, header] = first < 192 ? [first, 2] : [((first - 192) << 8) + (bytes[at + 2] as number) + 192, 3];
    out.push({ tag, start: at, body: at + header, end: at + header + length });
    at += header + length;
  }
  return out;
}

/**
 * The record model's view of a corpus record, built without openpgp.js or hashing (id and
 * digest come from the side files): what the store reads (id, kind, bytes, digest, key ids,
 * user IDs, signature times). reviveRecord costs ~230 µs a
 * record and would dominate a measurement of the store alone; `checkCorpus` compares this
 * object's index terms and content time with reviveRecord's on a sample.
 */
export function lightRecords(corpus: Corpus, first: number, chunk: readonly Buffer[]): KeyRecord[] {
  const digests = Buffer.alloc(chunk.length * DIGEST_BYTES);
  const fd = openSync(corpus.digestsFile, 'r');
  try {
    readSync(fd, digests, 0, digests.length, first * DIGEST_BYTES);
  } finally {
    closeSync(fd);
  }
  return chunk.map((bytes, j) => lightRecord(corpus, first + j, bytes, digests.toString('hex', j * DIGEST_BYTES, (j + 1) * DIGEST_BYTES)));
}

function lightRecord(corpus: Corpus, index: number, bytes: Buffer, digest: string): KeyRecord {
  const [key, uid, ...sigs] = packets(bytes);
  if (!key || !uid || key.tag !== 6 || uid.tag !== 13) throw new Error('not a corpus record');
  const id = corpus.ids.toString('hex', index * FINGERPRINT_BYTES, (index + 1) * FINGERPRINT_BYTES);
  const signatures = sigs.map((s) => {
    // Hashed area: version, type, algorithms, length(2), then the creation-time subpacket.
    const created = new Date(bytes.readUInt32BE(s.body + 8) * 1000);
    return { type: bytes[s.body + 1], created, self: false, issuer: '', notations: [], packet: bytes.subarray(s.start, s.end) };
  });
  return {
    type: 'key',
    id,
    kind: 'device',
    primaryKey: {
      fingerprint: id,
      keyId: id.slice(-16),
      algorithm: 22,
      algorithmName: 'ed25519',
      bits: 256,
      created: new Date(bytes.readUInt32BE(key.body + 1) * 1000),
      packet: bytes.subarray(key.start, key.end),
    },
    keySignatures: [],
    userIds: [{ userId: bytes.toString('utf8', uid.body, uid.end), packet: bytes.subarray(uid.start, uid.end), signatures }],
    subkeys: [],
    bytes,
    digest,
  } as unknown as KeyRecord;
}

/**
 * Parses `samples` records spread over the corpus with parseRecord and the two issuer keys:
 * each must verify with all three signatures kept and give back exactly its bytes; and the
 * light record must index like the revived one.
 */
export async function checkCorpus(corpus: Corpus, samples: number): Promise<void> {
  const stride = Math.max(1, Math.floor(corpus.count / samples));
  let index = 0;
  let checked = 0;
  for (const chunk of corpusChunks(corpus, 10_000)) {
    for (const bytes of chunk) {
      if (index++ % stride !== 0) continue;
      const { record, dropped } = await parseRecord(bytes, { issuers: corpus.issuers });
      if (record.type !== 'key' || dropped.length > 0 || record.userIds[0]?.signatures.length !== 3) throw new Error('corpus record did not verify with 3 signatures');
      if (!Buffer.from(record.bytes).equals(bytes)) throw new Error('corpus record is not in canonical form');
      const [light] = lightRecords(corpus, index - 1, [bytes]) as [KeyRecord];
      const revived = await reviveRecord(bytes);
      const same =
        light.id === revived.id &&
        light.kind === revived.kind &&
        light.digest === revived.digest &&
        contentTime(light) === contentTime(revived) &&
        JSON.stringify(indexTermsOf(light)) === JSON.stringify(indexTermsOf(revived));
      if (!same) throw new Error('light record differs from the revived one');
      if (light.id !== fingerprintOf(bytes).toString('hex')) throw new Error('id file out of step');
      checked++;
    }
  }
  if (checked < Math.min(samples, corpus.count)) throw new Error(`only ${checked} samples checked`);
}
