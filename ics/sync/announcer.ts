// Announcing changes to a peer: items (id, digest prefix) gathered for ANNOUNCE_DELAY_MS and
// sent as ANNOUNCE messages per domain; the peer fetches what it lacks. Bounded: past
// `maxPending` items, a domain's items are replaced by one hint ("reconcile with me"), which
// costs the peer a reconciliation instead of this node memory.
import { ANNOUNCE_DELAY_MS } from './consts.ts';
import type { Channel } from './channel.ts';
import { MessageType, NAMED_ITEM_BYTES, type NamedItem, ProtocolError } from './codec.ts';
import type { WireLimits } from './codec.ts';

export interface AnnouncerContext {
  readonly maxPending: number;
  readonly requestTimeoutMs: number;
  /** False while the peer is not connected: items wait (up to the cap) for the connection. */
  connected(): boolean;
  open(): Promise<{ channel: Channel; limits: WireLimits }>;
  failed(message: string): void;
  misbehaved(reason: string): void;
}

export class Announcer {
  readonly #ctx: AnnouncerContext;
  #pending = new Map<string, Map<string, Uint8Array>>();
  #hints = new Set<string>();
  #size = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #stopped = false;

  constructor(ctx: AnnouncerContext) {
    this.#ctx = ctx;
  }

  add(domain: string, items: readonly NamedItem[]): void {
    if (this.#stopped || items.length === 0) return;
    let map = this.#pending.get(domain);
    if (!map) this.#pending.set(domain, (map = new Map()));
    for (const item of items) {
      if (this.#hints.has(domain)) break;
      if (this.#size >= this.#ctx.maxPending) {
        // Too many to hold: one hint for the domain instead of its items.
        this.#size -= map.size;
        map.clear();
        this.#hints.add(domain);
        break;
      }
      if (!map.has(item.id)) this.#size++;
      map.set(item.id, item.prefix);
    }
    this.#schedule();
  }

  /** Asks the peer to reconcile `domain` with this node (no items). */
  hint(domain: string): void {
    if (this.#stopped) return;
    this.#hints.add(domain);
    this.#schedule();
  }

  /** Sends what waits now (on connect). */
  flushSoon(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#pending.clear();
    this.#hints.clear();
    this.#size = 0;
  }

  /** Resolves once nothing waits to be sent (or sending failed). */
  async idle(): Promise<void> {
    while (this.#timer || this.#flushing) {
      if (this.#flushing) await this.#flushing;
      else await new Promise((r) => setTimeout(r, ANNOUNCE_DELAY_MS));
    }
  }

  #schedule(): void {
    if (this.#timer || this.#stopped || (this.#size === 0 && this.#hints.size === 0)) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#flushing) this.#flushing = this.#flush().finally(() => (this.#flushing = undefined));
      else void this.#flushing.then(() => this.#schedule());
    }, ANNOUNCE_DELAY_MS);
    this.#timer.unref();
  }

  async #flush(): Promise<void> {
    if (!this.#ctx.connected()) return; // kept for the connection (flushSoon)
    const pending = this.#pending;
    const hints = this.#hints;
    this.#pending = new Map();
    this.#hints = new Set();
    this.#size = 0;
    let session: { channel: Channel; limits: WireLimits } | undefined;
    try {
      session = await this.#ctx.open();
      const perMessage = Math.max(1, Math.floor((session.limits.maxMessageBytes - 256) / NAMED_ITEM_BYTES));
      for (const domain of new Set([...pending.keys(), ...hints])) {
        const items = [...(pending.get(domain) ?? new Map<string, Uint8Array>())].map(([id, prefix]) => ({ id, prefix }));
        const hint = hints.has(domain);
        for (let at = 0; at < items.length || (at === 0 && hint); at += perMessage) {
          await session.channel.send(
            { type: MessageType.announce, domain, hint: hint && at === 0, items: items.slice(at, at + perMessage) },
            this.#ctx.requestTimeoutMs,
          );
          const ack = await session.channel.receive(this.#ctx.requestTimeoutMs);
          if (ack.type !== MessageType.ack) throw new ProtocolError('expected ACK');
          if (items.length === 0) break;
        }
      }
    } catch (error) {
      if (error instanceof ProtocolError) this.#ctx.misbehaved(error.message);
      else this.#ctx.failed(`announce failed: ${(error as Error).message}`);
    } finally {
      if (session) await session.channel.close();
    }
    if (this.#size > 0 || this.#hints.size > 0) this.#schedule();
  }
}
