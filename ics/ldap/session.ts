// One LDAP session (RFC 4511 §5): the framing (framing.ts) hands over whole messages; the
// session checks the rate and the shape of each, decodes it, and passes it to the handler of
// its operation (ops/). Operations run concurrently except bind and StartTLS, which wait for
// the others (RFC 4511 §4.2.1) and hold back later requests until they are done.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { isIcsError } from '../errors.ts';
import { clientAddress } from '../net/clients.ts';
import type { Principal } from '../policy/index.ts';
import { BerError, shapeOf } from './ber.ts';
import { Connection, type Frame } from './framing.ts';
import { DecodeError, type DecodedRequest, decodeRequest, PAGED_RESULTS_OID } from './ldapjs.ts';
import { MAX_BER_DEPTH, MAX_BER_ELEMENTS, MAX_OUTSTANDING_PER_SESSION } from './limits.ts';
import { bind } from './ops/bind.ts';
import { compareOperation } from './ops/compare.ts';
import { extendedOperation, startTls } from './ops/extended.ts';
import { searchOperation } from './ops/search.ts';
import { abandon, type Outstanding, unbind } from './ops/unbind-abandon.ts';
import { addOperation, deleteOrRenameOperation, modifyOperation } from './ops/write.ts';
import { OID, Op, RESPONSE_OF, ResultCode } from './protocol.ts';
import { decodeSearchRequest } from './search-request.ts';
import { ANONYMOUS, type Identity, type SessionContext, type SessionScope } from './session-context.ts';
import { undecodableAnswer } from './undecodable.ts';

export class Session {
  readonly #ctx: SessionContext;
  readonly #log: Logger;
  readonly #connection: Connection;
  readonly #scope: SessionScope;
  readonly #outstanding = new Map<number, Outstanding>();
  /** Set while a bind or StartTLS waits for or holds the session; later requests queue. */
  #exclusive = false;
  readonly #queue: Array<{ message: Buffer; frame: Frame }> = [];
  /** The exclusive operation waiting for those in progress to finish. */
  #waitingForIdle: (() => void) | undefined;
  readonly #onClose: () => void;

  constructor(socket: Socket, secure: boolean, ctx: SessionContext, onClose: () => void) {
    this.#ctx = ctx;
    this.#onClose = onClose;
    const remote = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    this.#log = ctx.logger.child({ session: remote });
    const identity: Identity = { principal: ANONYMOUS, user: undefined, name: undefined };
    this.#connection = new Connection(socket, secure, ctx.idleTimeoutMs.anonymous, this.#log, {
      message: (message, frame) => this.#received(message, frame),
      accepting: () => this.#outstanding.size < MAX_OUTSTANDING_PER_SESSION,
      idle: () => {
        this.#log.debug({ bound: identity.name !== undefined }, 'idle session closed');
        this.#connection.disconnect(ResultCode.unavailable, 'idle timeout');
      },
      closed: () => {
        for (const o of this.#outstanding.values()) o.abandoned = true;
        this.#onClose();
      },
    });
    this.#scope = {
      ctx,
      connection: this.#connection,
      log: this.#log,
      identity,
      connectionId: randomBytes(16),
      address: clientAddress(socket.remoteAddress),
      remote,
    };
  }

  get principal(): Principal {
    return this.#scope.identity.principal;
  }

  /** Ends the session: Notice of Disconnection (RFC 4511 §4.4.1), then close. */
  shutdown(code: number = ResultCode.unavailable, text = 'server shutting down'): void {
    this.#connection.disconnect(code, text);
  }

  /** Closes the connection at once. */
  destroy(): void {
    this.#connection.close();
  }

  #received(message: Buffer, frame: Frame): void {
    if (this.#exclusive) this.#queue.push({ message, frame });
    else this.#dispatch(message, frame);
  }

  #dispatch(message: Buffer, frame: Frame): void {
    const connection = this.#connection;
    // Unbind and abandon only free resources; everything answered counts against the rate.
    if (RESPONSE_OF.has(frame.op)) {
      const rate = this.#ctx.rate;
      const retryAfter = rate.limiter.take(this.#scope.address);
      if (retryAfter > 0) {
        rate.refused();
        rate.log.warn({ listener: 'ldap', client: this.#scope.address, limit: `${rate.perSecond}/s` });
        connection.respond(frame.messageId, frame.op, {
          code: ResultCode.busy,
          message: `more than ${rate.perSecond} operations a second from this address; retry in ${retryAfter} s`,
        });
        return;
      }
    }
    try {
      shapeOf(message, 0, message.length, MAX_BER_DEPTH, MAX_BER_ELEMENTS);
    } catch (error) {
      if (!(error instanceof BerError)) throw error;
      if ((error as { limit?: string }).limit && RESPONSE_OF.has(frame.op)) {
        connection.respond(frame.messageId, frame.op, { code: ResultCode.adminLimitExceeded, message: error.message });
        return;
      }
      throw error;
    }
    let request: DecodedRequest;
    try {
      request = frame.op === Op.searchRequest ? decodeSearchRequest(message) : decodeRequest(message);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      const answer = undecodableAnswer(message, frame, error);
      if (answer.code === ResultCode.protocolError) this.#log.debug({ op: frame.op, reason: error.message }, 'undecodable request');
      connection.respond(frame.messageId, frame.op, answer);
      return;
    }
    for (const control of request.controls) {
      const supported = control.type === PAGED_RESULTS_OID && request.op === 'search';
      if (control.criticality && !supported) {
        connection.respond(frame.messageId, frame.op, { code: ResultCode.unavailableCriticalExtension, message: `control ${control.type} is not supported` });
        return;
      }
    }
    switch (request.op) {
      case 'unbind':
        unbind(connection);
        return;
      case 'abandon':
        abandon(this.#outstanding, request.abandonId);
        return;
      case 'bind':
        this.#exclusively(() => bind(this.#scope, request));
        return;
      case 'extended':
        if (request.name === OID.startTls) {
          this.#exclusively(() => startTls(this.#scope, request.messageId, this.#queue.length > 0));
          return;
        }
        break;
    }
    this.#run(frame, request, message);
  }

  /** Runs an operation concurrently with others; the framing pauses reading above the outstanding cap. */
  #run(frame: Frame, request: DecodedRequest, message: Buffer): void {
    const state: Outstanding = { abandoned: false };
    this.#outstanding.set(frame.messageId, state);
    this.#operate(request, message, state)
      .catch((error: unknown) => {
        if (isIcsError(error) && error.code !== 'INTERNAL') {
          this.#log.debug({ code: error.code, reason: error.message }, 'request refused');
          this.#connection.respond(frame.messageId, frame.op, { code: error.ldapResultCode, message: error.publicMessage });
        } else {
          this.#log.error({ err: error, op: request.op }, 'request failed');
          this.#connection.respond(frame.messageId, frame.op, { code: ResultCode.other, message: 'internal error' });
        }
      })
      .finally(() => {
        const wasFull = this.#outstanding.size >= MAX_OUTSTANDING_PER_SESSION;
        this.#outstanding.delete(frame.messageId);
        if (this.#outstanding.size === 0 && this.#waitingForIdle) {
          const go = this.#waitingForIdle;
          this.#waitingForIdle = undefined;
          go();
        }
        if (wasFull && !this.#connection.closed) {
          this.#connection.resume();
          if (!this.#exclusive) this.#connection.pump();
        }
      });
  }

  /** The handler of each operation that runs concurrently with others. */
  async #operate(request: DecodedRequest, message: Buffer, state: Outstanding): Promise<void> {
    const scope = this.#scope;
    switch (request.op) {
      case 'search':
        return searchOperation(scope, request, message, () => state.abandoned);
      case 'add':
        return addOperation(scope, request);
      case 'modify':
        return modifyOperation(scope, request);
      case 'delete':
      case 'modifyDn':
        return deleteOrRenameOperation(scope, request);
      case 'compare':
        return compareOperation(scope, request);
      case 'extended':
        return extendedOperation(scope, request);
      default:
        return undefined;
    }
  }

  /** Runs `task` once no other operation is in progress, holding back later requests until it ends. */
  #exclusively(task: () => Promise<void>): void {
    this.#exclusive = true;
    const start = () => {
      task()
        .catch((error: unknown) => {
          this.#log.error({ err: error }, 'session operation failed');
          this.#connection.disconnect(ResultCode.other, 'internal error');
        })
        .finally(() => {
          this.#exclusive = false;
          while (!this.#exclusive && !this.#connection.closed && this.#queue.length > 0) {
            const next = this.#queue.shift() as { message: Buffer; frame: Frame };
            try {
              this.#dispatch(next.message, next.frame);
            } catch (error) {
              if (error instanceof BerError) this.#connection.disconnect(ResultCode.protocolError, `malformed message: ${error.message}`);
              else throw error;
            }
          }
        });
    };
    if (this.#outstanding.size === 0) start();
    else this.#waitingForIdle = start;
  }
}
