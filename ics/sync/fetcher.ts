// Fetching the records a peer holds that this node lacks: ids queue up from reconciliation
// and announcements, go out in FETCH batches on one stream (two requests in flight, so that
// the next batch travels while the last is verified), and every record received goes
// through Ingest.submit like any other input — parse, verify, policy, merge — with
// `ingestConcurrency` in flight (verification runs on the thread pool). Memory is bounded:
// at most `maxPendingFetches` ids wait, and at most two batches of records are held.
import { isIcsError } from '../errors.ts';
import type { RecordSubmitter } from '../ingest/index.ts';
import type { RecordReader } from '../store/types.ts';
import { ErrorCode, errorName, MessageType, type NamedItem, ProtocolError } from './codec.ts';
import type { Channel } from './channel.ts';
import type { WireLimits } from './codec.ts';
import type { PeerState } from './peer.ts';

/** FETCH requests outstanding on the stream: one travelling while one is answered. */
const PIPELINE_DEPTH = 2;

/**
 * Ingest refusals that only a broken or hostile peer causes: the bytes are not a well-formed,
 * correctly signed record. (Policy and limit refusals can be honest: policies differ.)
 */
const INVALID_RECORD = new Set(['RECORD_MALFORMED', 'PACKET_NOT_ALLOWED', 'ALGORITHM_UNSUPPORTED', 'SIGNATURE_INVALID', 'RECORD_MISMATCH']);
const REFUSED_RECORD = new Set(['POLICY_REJECTED', 'LIMIT_EXCEEDED']);

export interface FetchSession {
  readonly channel: Channel;
  /** The peer's limits, from its HELLO_OK. */
  readonly limits: WireLimits;
}

export interface FetcherContext {
  readonly peer: PeerState;
  readonly store: RecordReader;
  readonly ingest: RecordSubmitter;
  readonly batchSize: number;
  readonly ingestConcurrency: number;
  readonly maxPending: number;
  readonly requestTimeoutMs: number;
  open(): Promise<FetchSession>;
  misbehaved(reason: string): void;
  failed(message: string, domain?: string): void;
  debug(message: string, detail?: object): void;
}

export interface FetchCounts {
  fetched: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** Requests or records that failed (not refusals by policy): the domain is not in sync. */
  failed: number;
}

interface Queued {
  readonly domain: string;
  readonly item: NamedItem;
}

const memoKey = (item: NamedItem) => `${item.id}:${Buffer.from(item.prefix).toString('hex')}`;

/** Ids waiting per domain, first in first out; a batch is taken from one domain. */
class FetchQueue {
  readonly #byDomain = new Map<string, { items: Queued[]; head: number }>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(q: Queued): void {
    let d = this.#byDomain.get(q.domain);
    if (!d) this.#byDomain.set(q.domain, (d = { items: [], head: 0 }));
    d.items.push(q);
    this.#size++;
  }

  /** Puts items back at the front of their domain's queue (the part of a batch not answered). */
  unshift(items: readonly Queued[]): void {
    if (items.length === 0) return;
    const domain = (items[0] as Queued).domain;
    const d = this.#byDomain.get(domain);
    if (!d) this.#byDomain.set(domain, { items: [...items], head: 0 });
    else {
      d.items = [...items, ...d.items.slice(d.head)];
      d.head = 0;
    }
    this.#size += items.length;
  }

  /** Up to `max` items of the first domain with any. */
  take(max: number): Queued[] {
    for (const [domain, d] of this.#byDomain) {
      const out = d.items.slice(d.head, d.head + max);
      d.head += out.length;
      if (d.head >= d.items.length) this.#byDomain.delete(domain);
      else if (d.head > 4096 && d.head * 2 > d.items.length) {
        d.items = d.items.slice(d.head);
        d.head = 0;
      }
      this.#size -= out.length;
      if (out.length > 0) return out;
    }
    return [];
  }

  /** Empties the queue, returning what it held. */
  clear(): Queued[] {
    const all: Queued[] = [];
    for (const d of this.#byDomain.values()) for (let i = d.head; i < d.items.length; i++) all.push(d.items[i] as Queued);
    this.#byDomain.clear();
    this.#size = 0;
    return all;
  }
}

export class Fetcher {
  readonly #ctx: FetcherContext;
  readonly #queue = new FetchQueue();
  /** Ids queued, requested or being ingested: a second request for one is dropped. */
  readonly #inflight = new Set<string>();
  readonly #counts = new Map<string, FetchCounts>();
  #loop: Promise<void> | undefined;
  #idleWaiters: Array<() => void> = [];
  #roomWaiters: Array<() => void> = [];
  #stopped = false;

  constructor(ctx: FetcherContext) {
    this.#ctx = ctx;
  }

  /** Counters per domain since the fetcher was made (reports take differences). */
  counts(domain: string): FetchCounts {
    let c = this.#counts.get(domain);
    if (!c) this.#counts.set(domain, (c = { fetched: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0, failed: 0 }));
    return c;
  }

  get pending(): number {
    return this.#queue.size;
  }

  /**
   * Queues items to fetch; ids already queued or in flight, and versions already merged, are
   * skipped. With `bounded`, items beyond `maxPending` waiting are dropped and their count
   * returned (announcements: the caller reconciles instead). Reconciliation enqueues one
   * message's worth at most before it waits for `room()`.
   */
  enqueue(domain: string, items: readonly NamedItem[], bounded = false): number {
    if (this.#stopped) return 0;
    let dropped = 0;
    for (const item of items) {
      if (this.#inflight.has(item.id) || this.#ctx.peer.memo.has(memoKey(item))) continue;
      if (bounded && this.#queue.size >= this.#ctx.maxPending) {
        dropped++;
        continue;
      }
      this.#inflight.add(item.id);
      this.#queue.push({ domain, item });
    }
    if (this.#queue.size > 0) this.#kick();
    return dropped;
  }

  /** Resolves when fewer than `maxPending` ids wait (reconciliation pauses on it). */
  room(): Promise<void> {
    if (this.#queue.size < this.#ctx.maxPending || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Resolves when everything queued so far has been fetched and ingested (or given up). */
  idle(): Promise<void> {
    if (!this.#loop && this.#queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  stop(): void {
    this.#stopped = true;
    this.#drop();
  }

  #drop(): void {
    for (const q of this.#queue.clear()) this.#inflight.delete(q.item.id);
    this.#wakeRoom();
  }

  #wakeRoom(): void {
    if (this.#queue.size >= this.#ctx.maxPending && !this.#stopped) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }

  #kick(): void {
    if (this.#loop) return;
    this.#loop = this.#run()
      .catch((error: unknown) => {
        this.#ctx.failed(`fetch failed: ${(error as Error).message}`);
        for (const c of this.#counts.values()) c.failed += 1;
        this.#drop();
      })
      .finally(() => {
        this.#loop = undefined;
        if (this.#queue.size > 0 && !this.#stopped) {
          this.#kick();
          return;
        }
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      });
  }

  /** The next batch: items of one domain from the queue, minus versions held already. */
  async #nextBatch(maxIds: number): Promise<Queued[]> {
    const batch = this.#queue.take(maxIds);
    if (batch.length === 0) return [];
    this.#wakeRoom();
    const local = await this.#ctx.store.getMany(batch.map((q) => q.item.id));
    return batch.filter((q, i) => {
      const held = local[i]?.digest.startsWith(Buffer.from(q.item.prefix).toString('hex')) ?? false;
      if (held) this.#inflight.delete(q.item.id);
      return !held;
    });
  }

  async #run(): Promise<void> {
    const { ctx } = { ctx: this.#ctx };
    let session: FetchSession | undefined;
    const outstanding: Queued[][] = [];
    const ready: Array<{ queued: Queued; bytes: Uint8Array }> = [];
    let active = 0;
    let progress: (() => void) | undefined;
    const wake = () => {
      const p = progress;
      progress = undefined;
      p?.();
    };
    const waitProgress = () => new Promise<void>((resolve) => (progress = resolve));
    const pump = () => {
      while (active < ctx.ingestConcurrency && ready.length > 0 && !this.#stopped) {
        const next = ready.shift() as { queued: Queued; bytes: Uint8Array };
        active++;
        void this.#ingestOne(next.queued, next.bytes).finally(() => {
          active--;
          pump();
          wake();
        });
      }
    };
    try {
      session = await ctx.open();
      const maxIds = Math.max(1, Math.min(ctx.batchSize, session.limits.batchSize));
      for (;;) {
        while (!this.#stopped && outstanding.length < PIPELINE_DEPTH && this.#queue.size > 0 && ready.length + active < 2 * maxIds) {
          const batch = await this.#nextBatch(maxIds);
          if (batch.length === 0) continue;
          const domain = (batch[0] as Queued).domain;
          // Outstanding before it is sent: a send that fails (the stream reset) must release
          // its ids like any unanswered batch, or they stay "in flight" and are never asked for again.
          outstanding.push(batch);
          await session.channel.send({ type: MessageType.fetch, domain, ids: batch.map((q) => q.item.id) }, ctx.requestTimeoutMs);
        }
        if (this.#stopped) break;
        if (outstanding.length === 0) {
          if (this.#queue.size === 0) break;
          await waitProgress(); // ingest backlog: wait for some of it to clear
          continue;
        }
        const reply = await session.channel.receive(ctx.requestTimeoutMs);
        const batch = outstanding.shift() as Queued[];
        const domain = (batch[0] as Queued).domain;
        if (reply.type === MessageType.error) {
          ctx.failed(`peer refused FETCH: ${errorName(reply.code)} ${reply.text}`, domain);
          this.counts(domain).failed += 1;
          for (const q of batch) this.#inflight.delete(q.item.id);
          if (reply.code === ErrorCode.protocol) break;
          continue;
        }
        if (reply.type !== MessageType.records) throw new ProtocolError('expected RECORDS');
        if (reply.entries.length === 0 || reply.entries.length > batch.length) throw new ProtocolError(`RECORDS with ${reply.entries.length} entries for ${batch.length} ids`);
        reply.entries.forEach((entry, i) => {
          const queued = batch[i] as Queued;
          if (entry.status === 0) {
            ready.push({ queued, bytes: entry.bytes });
            this.counts(domain).fetched += 1;
          } else {
            if (entry.status === 2) {
              this.#ctx.peer.memo.add(memoKey(queued.item));
              ctx.failed(`record ${queued.item.id} is larger than the messages the peers exchange`, domain);
              this.counts(domain).failed += 1;
            }
            this.#inflight.delete(queued.item.id);
          }
        });
        // What did not fit goes back to the head of the queue.
        this.#queue.unshift(batch.slice(reply.entries.length));
        pump();
      }
      while (active > 0 || (ready.length > 0 && !this.#stopped)) {
        pump();
        await waitProgress();
      }
      for (const r of ready.splice(0)) this.#inflight.delete(r.queued.item.id);
    } catch (error) {
      if (error instanceof ProtocolError) ctx.misbehaved(error.message);
      for (const b of outstanding) for (const q of b) this.#inflight.delete(q.item.id);
      for (const r of ready) this.#inflight.delete(r.queued.item.id);
      ready.length = 0;
      while (active > 0) await waitProgress();
      throw error;
    } finally {
      if (session) await session.channel.close();
    }
  }

  async #ingestOne(queued: Queued, bytes: Uint8Array): Promise<void> {
    const { ctx } = { ctx: this.#ctx };
    const counts = this.counts(queued.domain);
    const peer = ctx.peer;
    try {
      const outcome = await ctx.ingest.submit(bytes, { source: 'peer', origin: peer.peerId });
      if (outcome.id !== queued.item.id) {
        ctx.misbehaved(`sent record ${outcome.id} when asked for ${queued.item.id}`);
        counts.failed += 1;
        this.stop();
        return;
      }
      peer.memo.add(memoKey(queued.item));
      if (outcome.action === 'unchanged') {
        counts.unchanged += 1;
        peer.recordsUnchanged += 1;
      } else {
        if (outcome.action === 'inserted') counts.inserted += 1;
        else counts.updated += 1;
        peer.recordsReceived += 1;
        peer.domain(queued.domain).recordsReceived += 1;
      }
    } catch (error) {
      const code = isIcsError(error) ? error.code : 'INTERNAL';
      if (INVALID_RECORD.has(code)) {
        ctx.misbehaved(`sent an invalid record for ${queued.item.id} (${code})`);
        counts.failed += 1;
        this.stop();
      } else if (REFUSED_RECORD.has(code)) {
        counts.rejected += 1;
        peer.recordsRejected += 1;
        peer.memo.add(memoKey(queued.item));
        ctx.debug('record from peer refused by ingest', { id: queued.item.id, code });
      } else {
        ctx.failed(`ingest of ${queued.item.id} failed: ${code}`, queued.domain);
        counts.failed += 1;
      }
    } finally {
      this.#inflight.delete(queued.item.id);
    }
  }
}
