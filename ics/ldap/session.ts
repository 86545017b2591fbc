// One LDAP session (RFC 4511 §5): framing of the byte stream into LDAPMessages with size caps,
// a shape check before decoding, dispatch of each operation, the bind state, StartTLS
// (RFC 4511 §4.14, RFC 4513 §3) and the Notice of Disconnection for input that cannot be
// read. Operations run concurrently except bind and StartTLS, which wait for the others
// (RFC 4511 §4.2.1) and hold back later requests until they are done.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { isIcsError } from '../errors.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { Authenticator, AuthenticatedUser } from '../node/auth.ts';
import { type AddressRateLimiter, clientAddress, type ThrottledWarning } from '../net/clients.ts';
import type { Principal } from '../policy/index.ts';
import { BerError, element, readHeader, readInteger, shapeOf, Tag } from './ber.ts';
import type { Directory } from './directory.ts';
import { selectionOf } from './entry.ts';
import { compareValues, compileFilter, FilterError, FilterLimitError } from './filter.ts';
import { DecodeError, type DecodedRequest, decodeRequest, PAGED_RESULTS_OID, pagedValue, parseDn } from './ldapjs.ts';
import {
  MAX_BER_DEPTH,
  MAX_BER_ELEMENTS,
  MAX_OTHER_REQUEST_BYTES,
  MAX_OUTSTANDING_PER_SESSION,
  MAX_REQUESTED_ATTRIBUTES,
  MAX_SKIP_BYTES,
  MAX_WRITE_REQUEST_BYTES,
  TLS_HANDSHAKE_TIMEOUT_MS,
} from './limits.ts';
import {
  envelope,
  extendedResponse,
  noticeOfDisconnection,
  OID,
  Op,
  RESPONSE_OF,
  type Result,
  ResultCode,
  resultMessage,
} from './protocol.ts';
import { attributeType } from './schema.ts';
import { type SearchLimits, search } from './search.ts';
import { decodeSearchRequest, rawFilter } from './search-request.ts';
import { add, modify, type Writer } from './write.ts';

export interface SessionContext {
  readonly directory: Directory;
  readonly ingest: Ingest;
  readonly authenticator: Authenticator | undefined;
  readonly logger: Logger;
  readonly limits: SearchLimits;
  readonly allowInsecureBind: boolean;
  /** For StartTLS on a plain listener; undefined when the server has no certificate or serves LDAPS. */
  readonly startTls: SecureContext | undefined;
  readonly maxKeyBytes: number;
  /** A session without traffic is closed after this long: short while anonymous, longer once bound. */
  readonly idleTimeoutMs: { readonly anonymous: number; readonly bound: number };
  /** Operations per client address (all its sessions together); beyond, busy (51). */
  readonly rate: {
    readonly limiter: AddressRateLimiter;
    readonly perSecond: number;
    readonly refused: () => void;
    readonly log: ThrottledWarning;
  };
}

interface Frame {
  readonly messageId: number;
  readonly op: number;
  /** Offset of the protocol op element in the message. */
  readonly opOffset: number;
}

interface Outstanding {
  abandoned: boolean;
}

const ANONYMOUS: Principal = { kind: 'anonymous' };
/** Search output gathered before a write: big enough for most results, small enough not to hoard memory. */
const OUTPUT_CHUNK_BYTES = 256 * 1024;

/** Reads the message id and the protocol op tag that follow an LDAPMessage header, if present yet. */
function frameOf(buf: Buffer, headerBytes: number): Frame | undefined {
  const id = readHeader(buf, headerBytes);
  if (!id) return undefined;
  if (id.tag !== Tag.integer || id.length < 1 || id.length > 4) throw new BerError('message id is not a small INTEGER');
  const opOffset = headerBytes + id.headerBytes + id.length;
  if (opOffset >= buf.length) return undefined;
  const { value } = readInteger(buf, headerBytes, opOffset);
  if (value < 0) throw new BerError('negative message id');
  return { messageId: value, op: buf[opOffset] as number, opOffset };
}

export class Session {
  readonly #ctx: SessionContext;
  readonly #log: Logger;
  readonly #remote: string;
  readonly #address: string;
  /** Names this connection in the paged-results cookies it is given (cookie.ts). */
  readonly #connectionId = randomBytes(16);
  /** The TCP socket, whose traffic (TLS or not) resets the idle timer. */
  readonly #raw: Socket;
  #socket: Socket;
  #secure: boolean;
  #principal: Principal = ANONYMOUS;
  #user: AuthenticatedUser | undefined;
  #userName: string | undefined;
  readonly #chunks: Buffer[] = [];
  #available = 0;
  #skip: { remaining: number; frame: Frame } | undefined;
  readonly #outstanding = new Map<number, Outstanding>();
  /** Set while a bind or StartTLS waits for or holds the session; later requests queue. */
  #exclusive = false;
  readonly #queue: Array<{ message: Buffer; frame: Frame }> = [];
  #closed = false;
  #drainWaiters: Array<() => void> = [];
  readonly #onData = (data: Buffer) => this.#receive(data);
  readonly #onClose: () => void;

  constructor(socket: Socket, secure: boolean, ctx: SessionContext, onClose: () => void) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.#secure = secure;
    this.#remote = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    this.#address = clientAddress(socket.remoteAddress);
    this.#raw = socket;
    this.#log = ctx.logger.child({ session: this.#remote });
    this.#onClose = onClose;
    // ldapjs's server leaves Nagle on: one-at-a-time searches then wait for delayed ACKs.
    socket.setNoDelay(true);
    socket.setTimeout(ctx.idleTimeoutMs.anonymous, () => {
      this.#log.debug({ bound: this.#userName !== undefined }, 'idle session closed');
      this.#disconnect(ResultCode.unavailable, 'idle timeout');
    });
    this.#attach(socket);
  }

  #attach(socket: Socket): void {
    socket.on('data', this.#onData);
    socket.on('drain', () => {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    });
    socket.on('error', (error) => this.#log.debug({ err: error }, 'connection error'));
    socket.on('close', () => this.#closed || this.#close());
  }

  get principal(): Principal {
    return this.#principal;
  }

  /** Ends the session: Notice of Disconnection (RFC 4511 §4.4.1), then close. */
  shutdown(code: number = ResultCode.unavailable, text = 'server shutting down'): void {
    this.#disconnect(code, text);
  }

  /** Closes the connection at once. */
  destroy(): void {
    this.#socket.destroy();
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const o of this.#outstanding.values()) o.abandoned = true;
    for (const w of this.#drainWaiters) w();
    this.#drainWaiters = [];
    this.#socket.destroy();
    this.#onClose();
  }

  #disconnect(code: number, text: string): void {
    if (this.#closed) return;
    this.#log.debug({ code, reason: text }, 'notice of disconnection');
    this.#socket.end(noticeOfDisconnection(code, text));
    this.#closed = true;
    for (const o of this.#outstanding.values()) o.abandoned = true;
    setTimeout(() => this.#socket.destroy(), 1000).unref();
    this.#onClose();
  }

  #write(bytes: Buffer): void {
    if (this.#closed) return;
    this.#socket.write(bytes);
  }

  /** Writes several messages with one system call. */
  #writeAll(messages: readonly Buffer[]): void {
    if (this.#closed || messages.length === 0) return;
    if (messages.length === 1) {
      this.#socket.write(messages[0] as Buffer);
      return;
    }
    this.#socket.cork();
    for (const m of messages) this.#socket.write(m);
    this.#socket.uncork();
  }

  #drain(): Promise<void> {
    if (this.#closed || !this.#socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #respond(messageId: number, op: number, result: Result): void {
    const responseOp = RESPONSE_OF.get(op);
    if (responseOp === undefined) return;
    this.#write(resultMessage(messageId, responseOp, result));
  }

  // ---- framing ------------------------------------------------------------------------

  #receive(data: Buffer): void {
    if (this.#closed) return;
    this.#chunks.push(data);
    this.#available += data.length;
    this.#pump();
  }

  /** Frames and dispatches what has arrived; input that cannot be read ends the session. */
  #pump(): void {
    try {
      this.#frames();
    } catch (error) {
      if (error instanceof BerError) this.#disconnect(ResultCode.protocolError, `malformed message: ${error.message}`);
      else {
        this.#log.error({ err: error }, 'session failed');
        this.#disconnect(ResultCode.other, 'internal error');
      }
    }
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n || this.#chunks.length === 1) return first.subarray(0, n);
    const joined = Buffer.concat(this.#chunks);
    this.#chunks.length = 0;
    this.#chunks.push(joined);
    return joined.subarray(0, n);
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.#chunks[0] as Buffer;
        const part = Math.min(c.length, n - at);
        c.copy(out, at, 0, part);
        at += part;
        if (part === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(part);
      }
    }
    this.#available -= n;
    return out;
  }

  #frames(): void {
    while (!this.#closed && this.#available > 0) {
      if (this.#outstanding.size >= MAX_OUTSTANDING_PER_SESSION) {
        // Backpressure: read no more until requests in progress finish.
        this.#socket.pause();
        return;
      }
      if (this.#skip) {
        const n = Math.min(this.#skip.remaining, this.#available);
        this.#take(n);
        this.#skip.remaining -= n;
        if (this.#skip.remaining > 0) return;
        const { frame } = this.#skip;
        this.#skip = undefined;
        const write = frame.op === Op.addRequest || frame.op === Op.modifyRequest;
        this.#respond(frame.messageId, frame.op, {
          code: write ? ResultCode.sizeLimitExceeded : ResultCode.adminLimitExceeded,
          message: `request larger than ${write ? MAX_WRITE_REQUEST_BYTES : MAX_OTHER_REQUEST_BYTES} bytes`,
        });
        continue;
      }
      const head = this.#peek(Math.min(this.#available, 16));
      const header = readHeader(head, 0);
      if (!header) {
        if (head.length >= 6) throw new BerError('unreadable message header');
        return;
      }
      if (header.tag !== Tag.sequence) throw new BerError('an LDAPMessage is a SEQUENCE');
      const total = header.headerBytes + header.length;
      const frame = frameOf(head, header.headerBytes);
      if (!frame) {
        if (head.length >= 16 || this.#available >= total) throw new BerError('truncated message id');
        return;
      }
      const cap = frame.op === Op.addRequest || frame.op === Op.modifyRequest ? MAX_WRITE_REQUEST_BYTES : MAX_OTHER_REQUEST_BYTES;
      if (total > cap) {
        if (total > MAX_SKIP_BYTES || !RESPONSE_OF.has(frame.op)) {
          this.#disconnect(ResultCode.protocolError, `message of ${total} bytes exceeds ${cap}`);
          return;
        }
        this.#skip = { remaining: total, frame };
        continue;
      }
      if (this.#available < total) return;
      const message = this.#take(total);
      if (this.#exclusive) this.#queue.push({ message, frame });
      else this.#dispatch(message, frame);
    }
  }

  // ---- dispatch -----------------------------------------------------------------------

  #dispatch(message: Buffer, frame: Frame): void {
    // Unbind and abandon only free resources; everything answered counts against the rate.
    if (RESPONSE_OF.has(frame.op)) {
      const retryAfter = this.#ctx.rate.limiter.take(this.#address);
      if (retryAfter > 0) {
        this.#ctx.rate.refused();
        this.#ctx.rate.log.warn({ listener: 'ldap', client: this.#address, limit: `${this.#ctx.rate.perSecond}/s` });
        this.#respond(frame.messageId, frame.op, {
          code: ResultCode.busy,
          message: `more than ${this.#ctx.rate.perSecond} operations a second from this address; retry in ${retryAfter} s`,
        });
        return;
      }
    }
    try {
      shapeOf(message, 0, message.length, MAX_BER_DEPTH, MAX_BER_ELEMENTS);
    } catch (error) {
      if (!(error instanceof BerError)) throw error;
      if ((error as { limit?: string }).limit && RESPONSE_OF.has(frame.op)) {
        this.#respond(frame.messageId, frame.op, { code: ResultCode.adminLimitExceeded, message: error.message });
        return;
      }
      throw error;
    }
    let request: DecodedRequest;
    try {
      request = frame.op === Op.searchRequest ? this.#decodeSearch(message) : decodeRequest(message);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.#undecodable(message, frame, error);
      return;
    }
    for (const control of request.controls) {
      const supported = control.type === PAGED_RESULTS_OID && request.op === 'search';
      if (control.criticality && !supported) {
        this.#respond(frame.messageId, frame.op, { code: ResultCode.unavailableCriticalExtension, message: `control ${control.type} is not supported` });
        return;
      }
    }
    switch (request.op) {
      case 'unbind':
        this.#socket.end();
        this.#close();
        return;
      case 'abandon': {
        const o = this.#outstanding.get(request.abandonId);
        if (o) o.abandoned = true;
        return;
      }
      case 'bind':
        this.#exclusively(() => this.#bind(request));
        return;
      case 'extended':
        if (request.name === OID.startTls) {
          this.#exclusively(() => this.#startTls(request.messageId));
          return;
        }
        break;
    }
    this.#run(frame, request, message);
  }

  /** Searches take the direct decoder; what it refuses, ldapjs decodes (or explains). */
  #decodeSearch(message: Buffer): DecodedRequest {
    try {
      return decodeSearchRequest(message);
    } catch (error) {
      if (!(error instanceof DecodeError) && !(error instanceof BerError)) throw error;
      return decodeRequest(message);
    }
  }

  /** A message ldapjs could not decode: name the DN problem or the protocol error, keep the session. */
  #undecodable(message: Buffer, frame: Frame, error: DecodeError): void {
    if (!RESPONSE_OF.has(frame.op)) throw new BerError(`undecodable message: ${error.message}`);
    const op = element(message, frame.opOffset);
    let at = op.start;
    if (frame.op === Op.bindRequest) {
      at = element(message, at, op.end).end; // version
      const name = element(message, at, op.end);
      const auth = element(message, name.end, op.end);
      if (auth.tag === 0xa3) {
        this.#respond(frame.messageId, frame.op, { code: ResultCode.authMethodNotSupported, message: 'only simple binds are supported' });
        return;
      }
      const text = message.toString('utf8', name.start, name.end);
      if (!this.#validDn(text)) {
        this.#respond(frame.messageId, frame.op, { code: ResultCode.invalidDNSyntax, message: 'invalid bind DN' });
        return;
      }
    } else if (frame.op !== Op.extendedRequest) {
      // Every other request with a response starts with the DN it is about.
      const dn = frame.op === Op.delRequest ? op : element(message, at, op.end);
      const text = message.toString('utf8', dn.start, dn.end);
      if (!this.#validDn(text)) {
        this.#respond(frame.messageId, frame.op, { code: ResultCode.invalidDNSyntax, message: `invalid DN: ${text.slice(0, 80)}` });
        return;
      }
    }
    this.#log.debug({ op: frame.op, reason: error.message }, 'undecodable request');
    this.#respond(frame.messageId, frame.op, { code: ResultCode.protocolError, message: `cannot decode request: ${error.message}` });
  }

  #validDn(text: string): boolean {
    try {
      parseDn(text);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs an operation concurrently with others; pauses reading above the outstanding cap. */
  #run(frame: Frame, request: DecodedRequest, message: Buffer): void {
    const state: Outstanding = { abandoned: false };
    this.#outstanding.set(frame.messageId, state);
    this.#operate(request, state, message)
      .catch((error: unknown) => {
        if (isIcsError(error) && error.code !== 'INTERNAL') {
          this.#log.debug({ code: error.code, reason: error.message }, 'request refused');
          this.#respond(frame.messageId, frame.op, { code: error.ldapResultCode, message: error.publicMessage });
        } else {
          this.#log.error({ err: error, op: request.op }, 'request failed');
          this.#respond(frame.messageId, frame.op, { code: ResultCode.other, message: 'internal error' });
        }
      })
      .finally(() => {
        const wasFull = this.#outstanding.size >= MAX_OUTSTANDING_PER_SESSION;
        this.#outstanding.delete(frame.messageId);
        this.#settled();
        if (wasFull && !this.#closed) {
          this.#socket.resume();
          if (!this.#exclusive) this.#pump();
        }
      });
  }

  #waitingForIdle: (() => void) | undefined;

  #settled(): void {
    if (this.#outstanding.size === 0 && this.#waitingForIdle) {
      const go = this.#waitingForIdle;
      this.#waitingForIdle = undefined;
      go();
    }
  }

  /** Runs `task` once no other operation is in progress, holding back later requests until it ends. */
  #exclusively(task: () => Promise<void>): void {
    this.#exclusive = true;
    const start = () => {
      task()
        .catch((error: unknown) => {
          this.#log.error({ err: error }, 'session operation failed');
          this.#disconnect(ResultCode.other, 'internal error');
        })
        .finally(() => {
          this.#exclusive = false;
          while (!this.#exclusive && !this.#closed && this.#queue.length > 0) {
            const next = this.#queue.shift() as { message: Buffer; frame: Frame };
            try {
              this.#dispatch(next.message, next.frame);
            } catch (error) {
              if (error instanceof BerError) this.#disconnect(ResultCode.protocolError, `malformed message: ${error.message}`);
              else throw error;
            }
          }
        });
    };
    if (this.#outstanding.size === 0) start();
    else this.#waitingForIdle = start;
  }

  // ---- operations ---------------------------------------------------------------------

  async #operate(request: DecodedRequest, state: Outstanding, message: Buffer): Promise<void> {
    const { directory: dir } = this.#ctx;
    const id = request.messageId;
    switch (request.op) {
      case 'search': {
        if (request.attributes.length > MAX_REQUESTED_ATTRIBUTES) {
          this.#respond(id, Op.searchRequest, { code: ResultCode.adminLimitExceeded, message: `more than ${MAX_REQUESTED_ATTRIBUTES} attributes requested` });
          return;
        }
        let filter;
        try {
          filter = compileFilter(request.filter);
        } catch (error) {
          if (error instanceof FilterLimitError) {
            this.#respond(id, Op.searchRequest, { code: ResultCode.adminLimitExceeded, message: error.message });
            return;
          }
          if (error instanceof FilterError) {
            this.#respond(id, Op.searchRequest, { code: ResultCode.protocolError, message: error.message });
            return;
          }
          throw error;
        }
        const pagedControl = request.controls.find((c) => c.type === PAGED_RESULTS_OID);
        const paged = pagedControl ? pagedValue(pagedControl) : undefined;
        if (pagedControl && !paged) {
          this.#respond(id, Op.searchRequest, { code: ResultCode.protocolError, message: 'malformed paged results control' });
          return;
        }
        // Entries are gathered and written with the SearchResultDone in one system call (or
        // in chunks for large results): one write per search, not one per message.
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        const flush = (last?: Buffer) => {
          if (last) pending.push(last);
          this.#writeAll(pending);
          pending = [];
          pendingBytes = 0;
        };
        const sink = {
          send: (op: Buffer) => {
            const message = envelope(id, op);
            pending.push(message);
            pendingBytes += message.length;
            if (pendingBytes >= OUTPUT_CHUNK_BYTES) flush();
          },
          get stopped() {
            return state.abandoned;
          },
          drain: () => this.#drain(),
        };
        const outcome = await search(
          dir,
          dir.reader(this.#principal),
          {
            base: request.base,
            scope: request.scope,
            sizeLimit: request.sizeLimit,
            timeLimit: request.timeLimit,
            filter,
            filterKey: () => rawFilter(message),
            selection: selectionOf(request.attributes, request.typesOnly),
            binding: Buffer.from(
              JSON.stringify([this.#connectionId.toString('base64'), this.#principal, request.attributes, request.typesOnly]),
            ),
            paged,
          },
          this.#ctx.limits,
          sink,
        );
        if (outcome.result && !state.abandoned) flush(resultMessage(id, Op.searchResultDone, outcome.result, outcome.controls));
        return;
      }
      case 'add':
        this.#respond(id, Op.addRequest, await add(dir, this.#ctx.ingest, this.#writer(), request, this.#ctx.maxKeyBytes));
        return;
      case 'modify':
        this.#respond(id, Op.modifyRequest, await modify(dir, this.#ctx.ingest, this.#writer(), request, this.#ctx.maxKeyBytes));
        return;
      case 'delete':
      case 'modifyDn': {
        const op = request.op === 'delete' ? Op.delRequest : Op.modDnRequest;
        if (!this.#validDn(request.entry)) {
          this.#respond(id, op, { code: ResultCode.invalidDNSyntax, message: 'invalid DN' });
          return;
        }
        if (!this.#user?.write) {
          this.#respond(id, op, { code: ResultCode.insufficientAccessRights, message: 'writes need a bind as a user allowed to write' });
          return;
        }
        this.#respond(id, op, {
          code: ResultCode.unwillingToPerform,
          message: 'records are never deleted or renamed: revoke the key or withdraw signatures instead',
        });
        return;
      }
      case 'compare':
        this.#respond(id, Op.compareRequest, await this.#compare(request));
        return;
      case 'extended':
        if (request.name === OID.whoAmI) {
          const authz = this.#userName === undefined ? '' : `dn:${dir.dit.userDn(this.#userName)}`;
          this.#write(extendedResponse(id, { code: ResultCode.success }, undefined, Buffer.from(authz)));
          return;
        }
        this.#write(extendedResponse(id, { code: ResultCode.protocolError, message: `extended operation ${request.name} is not supported` }));
        return;
      default:
        return;
    }
  }

  #writer(): Writer {
    return {
      reader: this.#ctx.directory.reader(this.#principal),
      name: this.#userName,
      mayWrite: this.#user?.write === true,
      origin: `${this.#userName ?? 'anonymous'}@${this.#remote}`,
    };
  }

  async #compare(request: Extract<DecodedRequest, { op: 'compare' }>): Promise<Result> {
    const dir = this.#ctx.directory;
    let target;
    try {
      target = dir.dit.resolve(request.entry);
    } catch (error) {
      if (error instanceof DecodeError) return { code: ResultCode.invalidDNSyntax, message: error.message };
      throw error;
    }
    const reader = dir.reader(this.#principal);
    let entry;
    switch (target.node) {
      case 'root':
        entry = dir.rootDse;
        break;
      case 'base':
        entry = dir.base;
        break;
      case 'serverInfo':
        entry = dir.serverInfo;
        break;
      case 'keys':
        entry = dir.keys;
        break;
      case 'records':
        entry = dir.records;
        break;
      case 'key': {
        const [stored] = await dir.keyRecords(reader, target.keyId);
        if (stored) entry = await dir.keyEntry(stored);
        break;
      }
      case 'record': {
        const stored = await dir.record(reader, target.id);
        if (stored) entry = await dir.recordEntry(reader, stored);
        break;
      }
      default:
        break;
    }
    if (!entry) return { code: ResultCode.noSuchObject, message: 'no such entry' };
    const type = attributeType(request.attribute);
    if (!type) return { code: ResultCode.undefinedAttributeType, message: `unknown attribute ${request.attribute}` };
    if (!entry.has(type.name.toLowerCase())) return { code: ResultCode.noSuchAttribute, message: `the entry has no ${type.name}` };
    const result = compareValues(type, entry, request.value);
    if (result === undefined) return { code: ResultCode.invalidAttributeSyntax, message: `not a valid ${type.name} value` };
    return { code: result ? ResultCode.compareTrue : ResultCode.compareFalse };
  }

  /** Simple bind (RFC 4513 §5.1) as `cn=<name>,ou=users,<base>`; a failed bind leaves the session anonymous. */
  async #bind(request: Extract<DecodedRequest, { op: 'bind' }>): Promise<void> {
    const id = request.messageId;
    const reply = (result: Result) => this.#write(resultMessage(id, Op.bindResponse, result));
    this.#principal = ANONYMOUS;
    this.#user = undefined;
    this.#userName = undefined;
    this.#raw.setTimeout(this.#ctx.idleTimeoutMs.anonymous);
    if (request.version !== 3) {
      reply({ code: ResultCode.protocolError, message: 'only LDAPv3 is supported' });
      return;
    }
    if (request.name === '' && request.credentials === '') {
      reply({ code: ResultCode.success });
      return;
    }
    if (request.credentials === '') {
      // An unauthenticated bind (a name, no password): refused by default (RFC 4513 §5.1.2).
      reply({ code: ResultCode.unwillingToPerform, message: 'unauthenticated binds are not allowed' });
      return;
    }
    if (!this.#secure && !this.#ctx.allowInsecureBind) {
      reply({ code: ResultCode.confidentialityRequired, message: 'binds with a password need LDAPS or StartTLS' });
      return;
    }
    let target;
    try {
      target = this.#ctx.directory.dit.resolve(request.name);
    } catch {
      reply({ code: ResultCode.invalidDNSyntax, message: 'invalid bind DN' });
      return;
    }
    const user =
      target.node === 'user' && this.#ctx.authenticator ? await this.#ctx.authenticator.authenticate(target.name, request.credentials) : undefined;
    if (!user || target.node !== 'user') {
      this.#log.debug({ bind: request.name.slice(0, 200) }, 'bind refused');
      reply({ code: ResultCode.invalidCredentials });
      return;
    }
    this.#principal = user.principal;
    this.#user = user;
    this.#userName = target.name;
    this.#raw.setTimeout(this.#ctx.idleTimeoutMs.bound);
    this.#log.debug({ user: target.name, write: user.write }, 'bound');
    reply({ code: ResultCode.success });
  }

  /** StartTLS (RFC 4511 §4.14): answer, then run the TLS handshake on the same connection. */
  async #startTls(messageId: number): Promise<void> {
    const context = this.#ctx.startTls;
    if (!context) {
      this.#write(extendedResponse(messageId, { code: ResultCode.protocolError, message: 'StartTLS is not offered: the node has no certificate or serves LDAPS' }));
      return;
    }
    if (this.#secure) {
      this.#write(extendedResponse(messageId, { code: ResultCode.operationsError, message: 'TLS is already established' }));
      return;
    }
    if (this.#available > 0 || this.#queue.length > 0) {
      this.#disconnect(ResultCode.protocolError, 'data after a StartTLS request');
      return;
    }
    const raw = this.#socket;
    await new Promise<void>((resolve) => raw.write(extendedResponse(messageId, { code: ResultCode.success }, OID.startTls), () => resolve()));
    if (this.#closed) return;
    raw.removeListener('data', this.#onData);
    const secure = new TLSSocket(raw, { isServer: true, secureContext: context });
    this.#socket = secure;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#log.debug('TLS handshake timed out');
        this.#close();
        resolve();
      }, TLS_HANDSHAKE_TIMEOUT_MS);
      secure.once('secure', () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once('error', (error) => {
        clearTimeout(timer);
        this.#log.debug({ err: error }, 'TLS handshake failed');
        this.#close();
        resolve();
      });
    });
    if (this.#closed) return;
    this.#secure = true;
    this.#attach(secure);
  }
}
