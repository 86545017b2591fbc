// The byte stream of one LDAP session (RFC 4511 §5.1): frames LDAPMessages off the socket with
// size caps (an oversized request is skipped unread and answered, a huge one ends the session),
// pauses reading while the session is busy, writes answers, closes an idle session, swaps in
// TLS for StartTLS (RFC 4511 §4.14), and ends with a Notice of Disconnection (§4.4.1) when the
// input cannot be read. What the messages mean is the session's business (session.ts).
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { BerError, readHeader, readInteger, Tag } from './ber.ts';
import { MAX_OTHER_REQUEST_BYTES, MAX_SKIP_BYTES, MAX_WRITE_REQUEST_BYTES, TLS_HANDSHAKE_TIMEOUT_MS } from './limits.ts';
import { noticeOfDisconnection, Op, RESPONSE_OF, type Result, ResultCode, resultMessage } from './protocol.ts';

/** What is known of a message before it is decoded. */
export interface Frame {
  readonly messageId: number;
  readonly op: number;
  /** Offset of the protocol op element in the message. */
  readonly opOffset: number;
}

export interface FramingEvents {
  /** One whole message. A BerError thrown here ends the session as a protocol error. */
  message(message: Buffer, frame: Frame): void;
  /** False while the session takes no more requests: reading pauses until resume(). */
  accepting(): boolean;
  /** No traffic for the idle timeout. */
  idle(): void;
  /** The connection is closed (once). */
  closed(): void;
}

/** Bytes of a message read before its id and operation are known: header, id, op tag. */
const FRAME_PEEK_BYTES = 16;
/** Time a Notice of Disconnection gets to leave before the socket is destroyed. */
const NOTICE_GRACE_MS = 1000;

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

const isWrite = (op: number) => op === Op.addRequest || op === Op.modifyRequest;

/** One client connection: messages in, answers out. */
export class Connection {
  readonly #log: Logger;
  readonly #events: FramingEvents;
  /** The TCP socket, whose traffic (TLS or not) resets the idle timer. */
  readonly #raw: Socket;
  #socket: Socket;
  /** The socket corked for this turn's answers, if any (see #send). */
  #corked: Socket | undefined;
  #secure: boolean;
  readonly #chunks: Buffer[] = [];
  #available = 0;
  /** An oversized request being skipped: bytes left, and the frame to answer when done. */
  #skip: { remaining: number; frame: Frame } | undefined;
  #closed = false;
  #drainWaiters: Array<() => void> = [];
  readonly #onData = (data: Buffer) => this.#receive(data);

  constructor(socket: Socket, secure: boolean, idleTimeoutMs: number, log: Logger, events: FramingEvents) {
    this.#raw = socket;
    this.#socket = socket;
    this.#secure = secure;
    this.#log = log;
    this.#events = events;
    // ldapjs's server leaves Nagle on: one-at-a-time searches then wait for delayed ACKs.
    socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs, () => this.#events.idle());
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
    socket.on('close', () => this.#closed || this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get secure(): boolean {
    return this.#secure;
  }

  /** Bytes received and not yet handed out as messages. */
  get pendingInput(): boolean {
    return this.#available > 0;
  }

  /** A session without traffic for this long is closed. */
  setIdleTimeout(ms: number): void {
    this.#raw.setTimeout(ms);
  }

  // ---- output -------------------------------------------------------------------------

  write(bytes: Buffer): void {
    if (this.#closed) return;
    this.#send(bytes);
  }

  /** Writes several messages (with one system call, as every write of a turn). */
  writeAll(messages: readonly Buffer[]): void {
    if (this.#closed) return;
    for (const m of messages) this.#send(m);
  }

  /**
   * Answers written in one turn of the event loop leave in one system call: the socket is
   * corked at the first and uncorked once the turn's callbacks have run. A client that
   * pipelines searches gets the answers to one read's worth of them in one write, where each
   * answer's own write cost as much as the search itself.
   */
  #send(bytes: Buffer): void {
    const socket = this.#socket;
    if (this.#corked !== socket) {
      this.#flush();
      socket.cork();
      this.#corked = socket;
      setImmediate(this.#flush);
    }
    socket.write(bytes);
  }

  /** Sends what this turn wrote (once per cork: a later call finds nothing corked). */
  readonly #flush = (): void => {
    const corked = this.#corked;
    this.#corked = undefined;
    corked?.uncork();
  };

  /** The response to request `op` (none for those without one: unbind, abandon). */
  respond(messageId: number, op: number, result: Result): void {
    const responseOp = RESPONSE_OF.get(op);
    if (responseOp === undefined) return;
    this.write(resultMessage(messageId, responseOp, result));
  }

  /** Resolves when the socket can take more output (at once unless its buffer is full). */
  drain(): Promise<void> {
    if (this.#closed || !this.#socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  // ---- ending -------------------------------------------------------------------------

  /** Closes the connection at once. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    for (const w of this.#drainWaiters) w();
    this.#drainWaiters = [];
    this.#socket.destroy();
    this.#events.closed();
  }

  /** Ends the output, then closes (unbind). */
  end(): void {
    this.#socket.end();
    this.close();
  }

  /** Notice of Disconnection (RFC 4511 §4.4.1), then close. */
  disconnect(code: number, text: string): void {
    if (this.#closed) return;
    this.#flush();
    this.#log.debug({ code, reason: text }, 'notice of disconnection');
    this.#socket.end(noticeOfDisconnection(code, text));
    this.#closed = true;
    setTimeout(() => this.#socket.destroy(), NOTICE_GRACE_MS).unref();
    this.#events.closed();
  }

  // ---- TLS ----------------------------------------------------------------------------

  /**
   * Sends `response` (the StartTLS success) in the clear, then runs the TLS handshake on the
   * same connection. False when it failed or timed out: the connection is closed then.
   */
  async upgrade(context: SecureContext, response: Buffer): Promise<boolean> {
    const raw = this.#socket;
    this.#flush();
    await new Promise<void>((resolve) => raw.write(response, () => resolve()));
    if (this.#closed) return false;
    raw.removeListener('data', this.#onData);
    const secure = new TLSSocket(raw, { isServer: true, secureContext: context });
    this.#socket = secure;
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#log.debug('TLS handshake timed out');
        resolve(false);
      }, TLS_HANDSHAKE_TIMEOUT_MS);
      secure.once('secure', () => {
        clearTimeout(timer);
        resolve(true);
      });
      secure.once('error', (error) => {
        clearTimeout(timer);
        this.#log.debug({ err: error }, 'TLS handshake failed');
        resolve(false);
      });
    });
    if (!ok) this.close();
    if (this.#closed) return false;
    this.#secure = true;
    this.#attach(secure);
    return true;
  }

  // ---- input --------------------------------------------------------------------------

  #receive(data: Buffer): void {
    if (this.#closed) return;
    this.#chunks.push(data);
    this.#available += data.length;
    this.pump();
  }

  /** Reads from the socket again after a pause (the session takes requests again). */
  resume(): void {
    if (!this.#closed) this.#socket.resume();
  }

  /** Frames and hands out what has arrived; input that cannot be read ends the session. */
  pump(): void {
    try {
      this.#frames();
    } catch (error) {
      if (error instanceof BerError) this.disconnect(ResultCode.protocolError, `malformed message: ${error.message}`);
      else {
        this.#log.error({ err: error }, 'session failed');
        this.disconnect(ResultCode.other, 'internal error');
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
      if (!this.#events.accepting()) {
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
        const write = isWrite(frame.op);
        this.respond(frame.messageId, frame.op, {
          code: write ? ResultCode.sizeLimitExceeded : ResultCode.adminLimitExceeded,
          message: `request larger than ${write ? MAX_WRITE_REQUEST_BYTES : MAX_OTHER_REQUEST_BYTES} bytes`,
        });
        continue;
      }
      const head = this.#peek(Math.min(this.#available, FRAME_PEEK_BYTES));
      const header = readHeader(head, 0);
      if (!header) {
        if (head.length >= 6) throw new BerError('unreadable message header');
        return;
      }
      if (header.tag !== Tag.sequence) throw new BerError('an LDAPMessage is a SEQUENCE');
      const total = header.headerBytes + header.length;
      const frame = frameOf(head, header.headerBytes);
      if (!frame) {
        if (head.length >= FRAME_PEEK_BYTES || this.#available >= total) throw new BerError('truncated message id');
        return;
      }
      const cap = isWrite(frame.op) ? MAX_WRITE_REQUEST_BYTES : MAX_OTHER_REQUEST_BYTES;
      if (total > cap) {
        if (total > MAX_SKIP_BYTES || !RESPONSE_OF.has(frame.op)) {
          this.disconnect(ResultCode.protocolError, `message of ${total} bytes exceeds ${cap}`);
          return;
        }
        this.#skip = { remaining: total, frame };
        continue;
      }
      if (this.#available < total) return;
      this.#events.message(this.#take(total), frame);
    }
  }
}
