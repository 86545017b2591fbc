// A minimal LDAP client for the tests: requests encoded by hand (RFC 4511 §4) so that tests
// can also send what no well-behaved client sends, and responses decoded into plain objects.
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { boolean, constructed, element, integer, octets, readHeader, Tag } from '../../ics/ldap/ber.ts';

// ---- request encoding -----------------------------------------------------------------

export type FilterSpec =
  | { and: FilterSpec[] }
  | { or: FilterSpec[] }
  | { not: FilterSpec }
  | { eq: [string, string] }
  | { ge: [string, string] }
  | { le: [string, string] }
  | { approx: [string, string] }
  | { present: string }
  | { sub: [string, { initial?: string; any?: string[]; final?: string }] };

export function filter(f: FilterSpec): Buffer {
  if ('and' in f) return constructed(0xa0, f.and.map(filter));
  if ('or' in f) return constructed(0xa1, f.or.map(filter));
  if ('not' in f) return constructed(0xa2, [filter(f.not)]);
  if ('eq' in f) return constructed(0xa3, [octets(f.eq[0]), octets(f.eq[1])]);
  if ('ge' in f) return constructed(0xa5, [octets(f.ge[0]), octets(f.ge[1])]);
  if ('le' in f) return constructed(0xa6, [octets(f.le[0]), octets(f.le[1])]);
  if ('approx' in f) return constructed(0xa8, [octets(f.approx[0]), octets(f.approx[1])]);
  if ('present' in f) return octets(f.present, 0x87);
  const [attr, parts] = f.sub;
  const items: Buffer[] = [];
  if (parts.initial !== undefined) items.push(octets(parts.initial, 0x80));
  for (const a of parts.any ?? []) items.push(octets(a, 0x81));
  if (parts.final !== undefined) items.push(octets(parts.final, 0x82));
  return constructed(0xa4, [octets(attr), constructed(Tag.sequence, items)]);
}

export interface SearchSpec {
  base: string;
  scope?: 'base' | 'one' | 'sub';
  filter?: FilterSpec | Buffer;
  attributes?: string[];
  sizeLimit?: number;
  timeLimit?: number;
  typesOnly?: boolean;
}

export function searchOp(s: SearchSpec): Buffer {
  const scope = { base: 0, one: 1, sub: 2 }[s.scope ?? 'sub'];
  const f = s.filter === undefined ? filter({ present: 'objectClass' }) : Buffer.isBuffer(s.filter) ? s.filter : filter(s.filter);
  return constructed(0x63, [
    octets(s.base),
    integer(scope, Tag.enumerated),
    integer(0, Tag.enumerated),
    integer(s.sizeLimit ?? 0),
    integer(s.timeLimit ?? 0),
    boolean(s.typesOnly ?? false),
    f,
    constructed(Tag.sequence, (s.attributes ?? []).map((a) => octets(a))),
  ]);
}

export function bindOp(name: string, password: string, version = 3): Buffer {
  return constructed(0x60, [integer(version), octets(name), octets(password, 0x80)]);
}

export function saslBindOp(name: string, mechanism: string): Buffer {
  return constructed(0x60, [integer(3), octets(name), constructed(0xa3, [octets(mechanism)])]);
}

export function addOp(dn: string, attributes: Array<[string, string[]]>): Buffer {
  return constructed(0x68, [
    octets(dn),
    constructed(
      Tag.sequence,
      attributes.map(([type, values]) => constructed(Tag.sequence, [octets(type), constructed(Tag.set, values.map((v) => octets(v)))])),
    ),
  ]);
}

export function modifyOp(dn: string, changes: Array<['add' | 'delete' | 'replace', string, string[]]>): Buffer {
  const code = { add: 0, delete: 1, replace: 2 };
  return constructed(0x66, [
    octets(dn),
    constructed(
      Tag.sequence,
      changes.map(([op, type, values]) =>
        constructed(Tag.sequence, [integer(code[op], Tag.enumerated), constructed(Tag.sequence, [octets(type), constructed(Tag.set, values.map((v) => octets(v)))])]),
      ),
    ),
  ]);
}

export function deleteOp(dn: string): Buffer {
  return octets(dn, 0x4a);
}

export function modifyDnOp(dn: string, newRdn: string): Buffer {
  return constructed(0x6c, [octets(dn), octets(newRdn), boolean(true)]);
}

export function compareOp(dn: string, attribute: string, value: string): Buffer {
  return constructed(0x6e, [octets(dn), constructed(Tag.sequence, [octets(attribute), octets(value)])]);
}

export function extendedOp(name: string, value?: Buffer): Buffer {
  return constructed(0x77, [octets(name, 0x80), ...(value ? [octets(value, 0x81)] : [])]);
}

export function pagedControl(size: number, cookie: Buffer, critical = false): Buffer {
  return constructed(Tag.sequence, [
    octets('1.2.840.113556.1.4.319'),
    ...(critical ? [boolean(true)] : []),
    octets(constructed(Tag.sequence, [integer(size), octets(cookie)])),
  ]);
}

export function control(type: string, critical: boolean, value?: Buffer): Buffer {
  return constructed(Tag.sequence, [octets(type), boolean(critical), ...(value ? [octets(value)] : [])]);
}

export function ldapMessage(messageId: number, op: Buffer, controls: Buffer[] = []): Buffer {
  return constructed(Tag.sequence, [integer(messageId), op, ...(controls.length > 0 ? [constructed(0xa0, controls)] : [])]);
}

// ---- response decoding ----------------------------------------------------------------

export interface Response {
  messageId: number;
  op: number;
  /** Result responses. */
  code?: number;
  matchedDn?: string;
  message?: string;
  /** Extended responses. */
  responseName?: string;
  responseValue?: Buffer;
  /** Search result entries. */
  dn?: string;
  attributes?: Map<string, string[]>;
  /** Paged-results cookie, when the response carries that control. */
  cookie?: Buffer;
}

function text(buf: Buffer, e: { start: number; end: number }): string {
  return buf.toString('utf8', e.start, e.end);
}

export function decodeResponse(buf: Buffer): Response {
  const outer = element(buf, 0);
  const id = element(buf, outer.start, outer.end);
  let messageId = 0;
  for (let i = id.start; i < id.end; i++) messageId = messageId * 256 + (buf[i] as number);
  const op = element(buf, id.end, outer.end);
  const r: Response = { messageId, op: op.tag };
  if (op.tag === 0x64) {
    const dn = element(buf, op.start, op.end);
    r.dn = text(buf, dn);
    r.attributes = new Map();
    const list = element(buf, dn.end, op.end);
    for (let at = list.start; at < list.end; ) {
      const attr = element(buf, at, list.end);
      const type = element(buf, attr.start, attr.end);
      const set = element(buf, type.end, attr.end);
      const values: string[] = [];
      for (let v = set.start; v < set.end; ) {
        const value = element(buf, v, set.end);
        values.push(text(buf, value));
        v = value.end;
      }
      r.attributes.set(text(buf, type), values);
      at = attr.end;
    }
  } else {
    const code = element(buf, op.start, op.end);
    r.code = buf[code.start] as number;
    const matched = element(buf, code.end, op.end);
    r.matchedDn = text(buf, matched);
    const message = element(buf, matched.end, op.end);
    r.message = text(buf, message);
    for (let at = message.end; at < op.end; ) {
      const e = element(buf, at, op.end);
      if (e.tag === 0x8a) r.responseName = text(buf, e);
      if (e.tag === 0x8b) r.responseValue = buf.subarray(e.start, e.end);
      at = e.end;
    }
  }
  if (op.end < outer.end) {
    const controls = element(buf, op.end, outer.end);
    for (let at = controls.start; at < controls.end; ) {
      const c = element(buf, at, controls.end);
      const type = element(buf, c.start, c.end);
      if (text(buf, type) === '1.2.840.113556.1.4.319') {
        let v = element(buf, type.end, c.end);
        if (v.tag === Tag.boolean) v = element(buf, v.end, c.end);
        const seq = element(buf, v.start, v.end);
        const size = element(buf, seq.start, seq.end);
        const cookie = element(buf, size.end, seq.end);
        r.cookie = Buffer.from(buf.subarray(cookie.start, cookie.end));
      }
      at = c.end;
    }
  }
  return r;
}

// ---- client ---------------------------------------------------------------------------

export class WireClient {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  readonly #waiting = new Map<number, { responses: Response[]; resolve: (r: Response[]) => void; reject: (e: Error) => void }>();
  /** Unsolicited messages (message id 0): the Notice of Disconnection. */
  readonly notices: Response[] = [];
  readonly closed: Promise<void>;
  #nextId = 1;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (d) => this.#data(d));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        for (const w of this.#waiting.values()) w.reject(new Error('connection closed'));
        this.#waiting.clear();
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  /** `localAddress`: the source address (any of 127/8 reaches a loopback listener), to act as another client. */
  static async connect(port: number, options: { tls?: boolean; ca?: string | Buffer; localAddress?: string } = {}): Promise<WireClient> {
    const source = options.localAddress === undefined ? {} : { localAddress: options.localAddress };
    const socket = options.tls
      ? tlsConnect({ host: '127.0.0.1', port, ca: options.ca, servername: 'localhost', ...source })
      : netConnect({ host: '127.0.0.1', port, ...source });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new WireClient(socket);
  }

  /** Upgrades this connection after a successful StartTLS response. */
  async startTls(ca: string | Buffer): Promise<WireClient> {
    const [done] = await this.request(extendedOp('1.3.6.1.4.1.1466.20037'));
    assert.equal(done?.code, 0, `StartTLS failed: ${done?.message}`);
    this.#socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.#socket, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    return new WireClient(secure);
  }

  #data(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const h = readHeader(this.#buffer, 0);
      if (!h || this.#buffer.length < h.headerBytes + h.length) return;
      const message = this.#buffer.subarray(0, h.headerBytes + h.length);
      this.#buffer = this.#buffer.subarray(h.headerBytes + h.length);
      const r = decodeResponse(message);
      if (r.messageId === 0) {
        this.notices.push(r);
        continue;
      }
      const w = this.#waiting.get(r.messageId);
      if (!w) continue;
      w.responses.push(r);
      if (r.op !== 0x64 && r.op !== 0x73) {
        this.#waiting.delete(r.messageId);
        w.resolve(w.responses);
      }
    }
  }

  /** Holds writes until `uncork`, so that several requests leave in one segment. */
  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }

  /** Sends raw bytes. */
  send(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  /** Sends one request op (with a fresh message id) and resolves with every response to it. */
  request(op: Buffer, controls: Buffer[] = []): Promise<Response[]> {
    const messageId = this.#nextId++;
    const done = new Promise<Response[]>((resolve, reject) => this.#waiting.set(messageId, { responses: [], resolve, reject }));
    this.send(ldapMessage(messageId, op, controls));
    return done;
  }

  /** A request whose only interesting part is the final result. */
  async result(op: Buffer, controls: Buffer[] = []): Promise<Response> {
    const responses = await this.request(op, controls);
    return responses[responses.length - 1] as Response;
  }

  async search(spec: SearchSpec, controls: Buffer[] = []): Promise<{ entries: Response[]; done: Response }> {
    const responses = await this.request(searchOp(spec), controls);
    return { entries: responses.filter((r) => r.op === 0x64), done: responses[responses.length - 1] as Response };
  }

  async bind(name: string, password: string): Promise<Response> {
    return this.result(bindOp(name, password));
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Values of an entry attribute, looked up case-insensitively. */
export function values(entry: Response, name: string): string[] {
  for (const [k, v] of entry.attributes ?? []) if (k.toLowerCase() === name.toLowerCase()) return v;
  return [];
}
