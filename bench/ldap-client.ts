// The LDAP benchmark's load generator, run as its own process (so that it does not share an
// event loop with the server it measures): `connections` sessions, each with `inFlight`
// searches outstanding, for a warm-up and then a measured window. Requests are encoded before
// the clock starts; responses are framed and only their message id, operation and result
// code are read. Prints one JSON line with the figures.
import { openSync, readSync, closeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { boolean, constructed, element, integer, octets, readHeader, Tag } from '../ics/ldap/ber.ts';

export interface ClientConfig {
  readonly host: string;
  readonly port: number;
  /** `fingerprint`: GnuPG's schema-v2 key lookup; `compound`: a user-ID word with flag checks. */
  readonly kind: 'fingerprint' | 'compound';
  readonly keysDn: string;
  /** Corpus ids file (20-byte fingerprints) and the number of records in it. */
  readonly idsFile: string;
  readonly count: number;
  readonly connections: number;
  readonly inFlight: number;
  readonly warmMs: number;
  readonly measureMs: number;
  /** Distinct requests encoded up front (then reused round-robin). */
  readonly requests: number;
}

export interface ClientResult {
  readonly ops: number;
  readonly elapsedMs: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Searches that did not return exactly one entry. */
  readonly wrongCount: number;
}

/** Attributes dirmngr asks for (ks-engine-ldap.c ks_ldap_get / ks_ldap_search). */
export const GET_ATTRIBUTES = ['pgpKey', 'pgpcertid', 'pgpuserid', 'pgpkeyid', 'pgprevoked', 'pgpdisabled', 'pgpkeycreatetime', 'modifytimestamp', 'pgpkeysize', 'pgpkeytype', 'gpgfingerprint'];
export const SEARCH_ATTRIBUTES = ['pgpcertid', 'pgpuserid', 'pgprevoked', 'pgpdisabled', 'pgpkeycreatetime', 'pgpkeyexpiretime', 'modifytimestamp', 'pgpkeysize', 'pgpkeytype', 'gpgfingerprint'];

const eq = (a: string, v: string) => constructed(0xa3, [octets(a), octets(v)]);

/** The serial of corpus record `index`, as bench/store-corpus-shared.ts makes user IDs. */
export const serialOf = (index: number) => `SN${String(index + 1).padStart(7, '0')}`;

/** The search filter of one request, as text (for logs and the README) and encoded. */
export function requestFilter(kind: ClientConfig['kind'], fingerprint: string, index: number): { text: string; ber: Buffer } {
  if (kind === 'fingerprint') {
    const f = fingerprint.toUpperCase();
    return { text: `(|(gpgFingerprint=${f})(gpgSubFingerprint=${f}))`, ber: constructed(0xa1, [eq('gpgFingerprint', f), eq('gpgSubFingerprint', f)]) };
  }
  const serial = serialOf(index);
  return {
    text: `(&(objectClass=pgpKeyInfo)(pgpUserID=*:${serial})(pgpRevoked=0)(!(pgpDisabled=1)))`,
    ber: constructed(0xa0, [
      eq('objectClass', 'pgpKeyInfo'),
      constructed(0xa4, [octets('pgpUserID'), constructed(Tag.sequence, [octets(`:${serial}`, 0x82)])]),
      eq('pgpRevoked', '0'),
      constructed(0xa2, [eq('pgpDisabled', '1')]),
    ]),
  };
}

function searchOp(keysDn: string, filter: Buffer, attributes: readonly string[]): Buffer {
  return constructed(0x63, [
    octets(keysDn),
    integer(2, Tag.enumerated),
    integer(0, Tag.enumerated),
    integer(0),
    integer(0),
    boolean(false),
    filter,
    constructed(Tag.sequence, attributes.map((a) => octets(a))),
  ]);
}

function fingerprints(file: string, count: number, indexes: readonly number[]): string[] {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(20);
    return indexes.map((i) => {
      readSync(fd, buf, 0, 20, i * 20);
      return buf.toString('hex');
    });
  } finally {
    closeSync(fd);
  }
}

class Session {
  readonly socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #nextId = 1;
  readonly #pending = new Map<number, { start: number; entries: number }>();
  onDone: (latencyMs: number, ok: boolean, entries: number) => void = () => undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d) => this.#data(d));
  }

  send(op: Buffer): void {
    const id = this.#nextId++;
    this.#pending.set(id, { start: performance.now(), entries: 0 });
    this.socket.write(constructed(Tag.sequence, [integer(id), op]));
  }

  #data(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    let at = 0;
    for (;;) {
      const h = readHeader(this.#buffer, at);
      if (!h || this.#buffer.length - at < h.headerBytes + h.length) break;
      const start = at + h.headerBytes;
      const idh = readHeader(this.#buffer, start) as { length: number; headerBytes: number };
      let id = 0;
      for (let i = start + idh.headerBytes; i < start + idh.headerBytes + idh.length; i++) id = id * 256 + (this.#buffer[i] as number);
      const opAt = start + idh.headerBytes + idh.length;
      const op = this.#buffer[opAt] as number;
      at += h.headerBytes + h.length;
      const p = this.#pending.get(id);
      if (!p) continue;
      if (op === 0x64) {
        p.entries++;
        continue;
      }
      // SearchResultDone: the result code is the first byte of the ENUMERATED content.
      const oph = readHeader(this.#buffer, opAt) as { headerBytes: number };
      const code = this.#buffer[opAt + oph.headerBytes + 2] as number;
      this.#pending.delete(id);
      this.onDone(performance.now() - p.start, code === 0, p.entries);
    }
    this.#buffer = at === this.#buffer.length ? Buffer.alloc(0) : this.#buffer.subarray(at);
  }
}

/** One search on a fresh connection: its entries (attribute name lower-cased → values) and result code. */
export function searchOnce(
  host: string,
  port: number,
  keysDn: string,
  filter: Buffer,
  attributes: readonly string[],
): Promise<{ code: number; entries: Array<Map<string, string[]>> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => socket.write(constructed(Tag.sequence, [integer(1), searchOp(keysDn, filter, attributes)])));
    let buffer = Buffer.alloc(0);
    const entries: Array<Map<string, string[]>> = [];
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const h = readHeader(buffer, 0);
        if (!h || buffer.length < h.headerBytes + h.length) return;
        const outer = element(buffer, 0);
        const id = element(buffer, outer.start, outer.end);
        const op = element(buffer, id.end, outer.end);
        if (op.tag === 0x64) {
          const dn = element(buffer, op.start, op.end);
          const list = element(buffer, dn.end, op.end);
          const entry = new Map<string, string[]>([['dn', [buffer.toString('utf8', dn.start, dn.end)]]]);
          for (let at = list.start; at < list.end; ) {
            const attr = element(buffer, at, list.end);
            const type = element(buffer, attr.start, attr.end);
            const set = element(buffer, type.end, attr.end);
            const values: string[] = [];
            for (let v = set.start; v < set.end; ) {
              const value = element(buffer, v, set.end);
              values.push(buffer.toString('utf8', value.start, value.end));
              v = value.end;
            }
            entry.set(buffer.toString('utf8', type.start, type.end).toLowerCase(), values);
            at = attr.end;
          }
          entries.push(entry);
        } else {
          const code = element(buffer, op.start, op.end);
          socket.destroy();
          resolve({ code: buffer[code.start] as number, entries });
          return;
        }
        buffer = buffer.subarray(outer.end);
      }
    });
  });
}

const LATENCY_SAMPLES = 200_000;

export async function runClient(c: ClientConfig): Promise<ClientResult> {
  // Requests for random records, encoded now.
  const indexes = Array.from({ length: c.requests }, () => Math.floor(Math.random() * c.count));
  const fprs = fingerprints(c.idsFile, c.count, indexes);
  const attributes = c.kind === 'fingerprint' ? GET_ATTRIBUTES : SEARCH_ATTRIBUTES;
  const ops = indexes.map((index, i) => searchOp(c.keysDn, requestFilter(c.kind, fprs[i] as string, index).ber, attributes));
  const sessions = await Promise.all(
    Array.from(
      { length: c.connections },
      () =>
        new Promise<Session>((resolve, reject) => {
          const socket = connect({ host: c.host, port: c.port }, () => resolve(new Session(socket)));
          socket.on('error', reject);
        }),
    ),
  );
  let next = 0;
  let measuring = false;
  let stopping = false;
  let done = 0;
  let errors = 0;
  let wrongCount = 0;
  const samples = new Float64Array(LATENCY_SAMPLES);
  let kept = 0;
  let outstanding = 0;
  let drained: (() => void) | undefined;
  for (const s of sessions) {
    s.onDone = (latency, ok, entries) => {
      outstanding--;
      if (measuring) {
        done++;
        if (!ok) errors++;
        if (entries !== 1) wrongCount++;
        if (kept < LATENCY_SAMPLES) samples[kept++] = latency;
        else {
          const slot = Math.floor(Math.random() * done);
          if (slot < LATENCY_SAMPLES) samples[slot] = latency;
        }
      }
      if (!stopping) {
        outstanding++;
        s.send(ops[next++ % ops.length] as Buffer);
      } else if (outstanding === 0) drained?.();
    };
  }
  for (const s of sessions) {
    for (let i = 0; i < c.inFlight; i++) {
      outstanding++;
      s.send(ops[next++ % ops.length] as Buffer);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, c.warmMs));
  measuring = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, c.measureMs));
  stopping = true;
  await new Promise<void>((resolve) => {
    drained = resolve;
    if (outstanding === 0) resolve();
  });
  const elapsedMs = performance.now() - start;
  for (const s of sessions) s.socket.destroy();
  const sorted = Array.from(samples.subarray(0, kept)).sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
  return { ops: done, elapsedMs, perSecond: (done * 1000) / elapsedMs, p50: pct(50), p99: pct(99), errors, wrongCount };
}

// As a process: config as JSON in argv[2], result as one JSON line on stdout.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string) && process.argv[2]) {
  runClient(JSON.parse(process.argv[2]) as ClientConfig).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
      process.exit(1);
    },
  );
}
