// The change stream (`GET /ics/v1/changes`, server-sent events): a gateway is told when a
// record it may read changes, with the record's verdict now, instead of polling. Each event's
// id is the store's sequence number, so a client that reconnects with `Last-Event-ID` (as
// EventSource does by itself) or `?since=SEQ` gets what it missed from the event log, then
// the live changes. Without either, the stream starts at the present.
//
// Each stream reads the event log itself (store.changesSince after the last sequence it sent)
// and is pulled by the socket: a slow client holds back only its own stream and the memory of
// one page of events, never a queue that grows. The change feed only wakes streams up.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import { IcsError } from '../errors.ts';
import { type Caller, callerOf, type HttpContext } from '../http/index.ts';
import type { ChangeEvent } from '../store/index.ts';
import { eventJson } from '../http/describe.ts';
import type { VerdictCache } from './verdicts.ts';

/** Events read from the log per page. */
const PAGE = 256;
/** A comment line at least this often: proxies and the socket's idle timeout see a live stream. */
const MAX_HEARTBEAT_MS = 15_000;

export const changesSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { since: { type: 'string', pattern: '^(0|[1-9][0-9]{0,15})$' } },
  },
} as const;

/** A sequence number from Last-Event-ID or `since`; BAD_REQUEST for anything else. */
function sequenceOf(text: string, what: string): number {
  const value = /^(0|[1-9][0-9]{0,15})$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new IcsError('BAD_REQUEST', `${what} must be a sequence number (a non-negative integer)`);
  return value;
}

/** One stream's pump: events after `after` that the caller may read, as SSE text, pulled by the socket. */
class ChangeStream {
  #after: number;
  #wake: (() => void) | undefined;
  #closed = false;
  #lastWrite = Date.now();
  readonly #unsubscribe: () => void;

  constructor(
    private readonly ctx: HttpContext,
    private readonly verdicts: VerdictCache,
    private readonly caller: Caller,
    after: number,
    private readonly heartbeatMs: number,
  ) {
    this.#after = after;
    this.#unsubscribe = ctx.components.store.subscribe((event) => {
      if (event.seq > this.#after) this.#wakeUp();
    });
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    this.#wakeUp();
  }

  async *lines(): AsyncGenerator<string> {
    try {
      // The reconnection delay EventSource should use, and the position the stream starts at.
      yield `retry: 2000\n: after ${this.#after}\n\n`;
      while (!this.#closed) {
        const page = await this.ctx.components.store.changesSince(this.#after, PAGE);
        let text = '';
        for (const event of page) {
          this.#after = event.seq;
          text += await this.#eventText(event);
        }
        if (text !== '') {
          this.#lastWrite = Date.now();
          yield text;
        }
        if (page.length === PAGE) continue;
        if (await this.#sleep()) continue;
        if (Date.now() - this.#lastWrite >= this.heartbeatMs) {
          this.#lastWrite = Date.now();
          yield ': keep-alive\n\n';
        }
      }
    } finally {
      this.close();
    }
  }

  /** Waits for a change or the heartbeat; true when woken by a change. */
  #sleep(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, this.heartbeatMs);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve(true);
      };
    });
  }

  #wakeUp(): void {
    this.#wake?.();
  }

  /** The event as SSE text; nothing when the caller may not read the record. */
  async #eventText(event: ChangeEvent): Promise<string> {
    const engine = this.ctx.components.policy();
    const stored = await this.ctx.components.store.get(event.id);
    // Judged on the record as it is now: a record moved to a domain the caller may not read
    // is not shown, not even its old changes.
    if (!stored || !this.ctx.access.canRead(stored, engine, this.caller.principal)) return '';
    const verdict = (await this.verdicts.json(stored, engine, new Date())).toString('utf8');
    const change = JSON.stringify({ ...eventJson(event, this.caller.principal.kind !== 'anonymous'), id: event.id, kind: event.kind });
    // The verdict's JSON is spliced in as encoded once for /ics/v1/verify (verdicts.ts).
    return `id: ${event.seq}\nevent: change\ndata: ${change.slice(0, -1)},"verdict":${verdict}}\n\n`;
  }
}

export function registerChangeStream(app: FastifyInstance, ctx: HttpContext, verdicts: VerdictCache): void {
  const open = new Set<ChangeStream>();
  const name = 'ics_change_streams_open';
  if (!ctx.metrics.registry.getSingleMetric(name)) {
    new Gauge({ name, help: 'Change streams (/ics/v1/changes) open now', registers: [ctx.metrics.registry], collect() { this.set(open.size); } });
  }
  const heartbeatMs = Math.min(MAX_HEARTBEAT_MS, Math.max(100, (ctx.init.requestTimeoutSeconds * 1000) / 2));
  // A stream never ends by itself: at shutdown each is closed, so that the server stops at once.
  app.addHook('preClose', (done) => {
    for (const stream of open) stream.close();
    done();
  });

  app.get('/ics/v1/changes', { schema: changesSchema }, async (request, reply) => {
    const lastEventId = request.headers['last-event-id'];
    const since = (request.query as { since?: string }).since;
    let after: number;
    if (typeof lastEventId === 'string') after = sequenceOf(lastEventId, 'Last-Event-ID');
    else if (since !== undefined) after = sequenceOf(since, 'since');
    else after = (await ctx.components.store.stats()).lastSeq;
    const stream = new ChangeStream(ctx, verdicts, callerOf(request), after, heartbeatMs);
    open.add(stream);
    // The response's close: sent, or the connection gone (the request's fires once its body is read).
    const socket = request.raw.socket;
    reply.raw.once('close', () => {
      open.delete(stream);
      stream.close();
      socket.destroy(); // what the client left of the connection: never reused for another request
    });
    // connection: close: the connection of an ended stream is not kept for another request (a
    // stream ended at shutdown would otherwise hold the server until its keep-alive timeout).
    reply.header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-store').header('x-accel-buffering', 'no').header('connection', 'close');
    return reply.send(Readable.from(stream.lines(), { objectMode: false }));
  });
}
