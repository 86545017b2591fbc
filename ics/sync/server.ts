// The serving side (docs/sync-protocol.md "Who gets what", "Limits"): a peer's stream begins
// with HELLO; then each request — RECONCILE, FETCH, ANNOUNCE — is answered in turn, paced by
// the peer's request rate. A domain is served only when the peer may read it and both sides
// define it alike; a FETCH gets only records of the domain asked for.
import type { Connection, Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import type { PolicyEngine } from '../policy/index.ts';
import type { RecordReader, SyncSet } from '../store/types.ts';
import { StreamEnded } from './channel.ts';
import { ErrorCode, type Message, MessageType, ProtocolError, type WireLimits } from './codec.ts';
import { MESSAGE_SLACK, PROTOCOL_VERSION } from './consts.ts';
import { digestHex, type Handshake } from './handshake.ts';
import type { PeerState } from './peer.ts';
import { Reconciler, storeView } from './reconcile.ts';
import type { PeerRegistry } from './registry.ts';
import type { Settings } from './settings.ts';
import type { LogWitnessing } from './witnessing.ts';

/** A server stream left idle this long is closed (a client keeps one per task, then closes it). */
const SERVER_IDLE_MS = 300_000;

export interface SyncServerComponents {
  readonly settings: Settings;
  readonly store: SyncSet & RecordReader;
  readonly policy: () => PolicyEngine;
  readonly log: Logger;
  readonly registry: PeerRegistry;
  readonly handshake: Pick<Handshake, 'channel' | 'wireLimits' | 'agreed' | 'answer'>;
  /** Answers the log messages (CHECKPOINT, CONSISTENCY, COSIGN, WITNESSED); absent: the node keeps no log. */
  readonly witnessing?: LogWitnessing;
}

export class SyncServer {
  readonly #c: SyncServerComponents;

  constructor(components: SyncServerComponents) {
    this.#c = components;
  }

  /** Serves one stream a peer opened, until the peer closes it or it idles out. */
  async serve(stream: Stream, connection: Connection): Promise<void> {
    const { registry, handshake } = this.#c;
    const peerId = connection.remotePeer.toString();
    registry.refresh();
    const peer = registry.get(peerId);
    if (!peer || peer.banned()) {
      // The gater refuses such connections; a policy reload may have removed the peer since.
      stream.abort(new Error('not a peer of this node'));
      await connection.close().catch(() => undefined);
      return;
    }
    const channel = handshake.channel(stream, peer);
    const { limits } = this.#c.settings;
    try {
      const hello = await channel.receive(limits.requestTimeoutMs);
      if (hello.type !== MessageType.hello) throw new ProtocolError('the first message must be HELLO');
      if (hello.version !== PROTOCOL_VERSION) {
        await channel.send({ type: MessageType.error, code: ErrorCode.version, text: `this node speaks version ${PROTOCOL_VERSION}` });
        await channel.close();
        return;
      }
      const theirDomains = new Map(hello.domains.map((d) => [d.name, digestHex(d.digest)]));
      const agreed = handshake.agreed(hello.limits);
      await channel.send({ type: MessageType.helloOk, version: PROTOCOL_VERSION, limits: handshake.wireLimits(), domains: handshake.answer(peer, hello.domains) });
      for (;;) {
        let message: Message;
        try {
          message = await channel.receive(SERVER_IDLE_MS);
        } catch (error) {
          if (error instanceof StreamEnded) break;
          throw error;
        }
        const wait = peer.rate.take();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const reply = await this.#answer(peer, message, theirDomains, agreed);
        await channel.send(reply, limits.requestTimeoutMs);
      }
      await channel.close();
    } catch (error) {
      if (error instanceof ProtocolError) {
        registry.misbehaved(peer, error.message);
        channel.abort(error.message);
      } else if (!(error instanceof StreamEnded)) {
        this.#c.log.debug({ peer: peerId, err: (error as Error).message }, 'sync stream ended with an error');
        channel.abort('error');
      }
    }
  }

  /** Why `domain` is not served to the peer, or undefined when it is. */
  #refusal(peer: PeerState, domain: string, theirDigest: string | undefined): Message | undefined {
    const local = this.#c.registry.localDigest(domain);
    if (local === undefined) return { type: MessageType.error, code: ErrorCode.unknownDomain, text: `no domain ${domain} here` };
    if (!this.#c.policy().canRead(domain, { kind: 'peer', peerId: peer.peerId })) return { type: MessageType.error, code: ErrorCode.notPermitted, text: `${domain} is not readable by this peer` };
    if (theirDigest !== local) return { type: MessageType.error, code: ErrorCode.mismatch, text: `${domain} is defined differently here` };
    return undefined;
  }

  async #answer(peer: PeerState, message: Message, theirDomains: ReadonlyMap<string, string | undefined>, agreed: WireLimits): Promise<Message> {
    const { store, registry } = this.#c;
    try {
      switch (message.type) {
        case MessageType.reconcile: {
          const refused = this.#refusal(peer, message.domain, theirDomains.get(message.domain));
          if (refused) return refused;
          peer.domain(message.domain).lastServed = Date.now();
          const responder = new Reconciler(storeView(store, message.domain), 'responder', { maxBytes: agreed.maxMessageBytes - MESSAGE_SLACK });
          const started = performance.now();
          const outcome = await responder.process(message.ranges);
          this.#c.log.debug({ peer: peer.peerId, domain: message.domain, in: message.ranges.length, out: outcome.ranges?.length, ms: Math.round(performance.now() - started) }, 'served a reconciliation round');
          return { type: MessageType.reconcileReply, ranges: outcome.ranges ?? [] };
        }
        case MessageType.fetch: {
          const refused = this.#refusal(peer, message.domain, theirDomains.get(message.domain));
          if (refused) return refused;
          return await this.#records(peer, message.domain, message.ids, agreed.maxMessageBytes - MESSAGE_SLACK);
        }
        case MessageType.announce: {
          const d = peer.domains.get(message.domain);
          const local = registry.localDigest(message.domain);
          const pulled = peer.pulls(message.domain) && local !== undefined && theirDomains.get(message.domain) === local;
          if (!pulled || d?.state === 'not-permitted') return { type: MessageType.ack, status: 1 };
          // More than the fetcher holds: the rest is found by reconciling instead.
          const dropped = message.items.length > 0 ? registry.fetcher(peer).enqueue(message.domain, message.items, true) : 0;
          if (message.hint || dropped > 0) peer.domain(message.domain).due = 0;
          return { type: MessageType.ack, status: 0 };
        }
        case MessageType.checkpoint:
        case MessageType.consistency:
        case MessageType.cosign:
        case MessageType.witnessed: {
          const refused = this.#refusal(peer, message.domain, theirDomains.get(message.domain));
          if (refused) return refused;
          // Its HELLO_OK did not offer a log (flag `log`): asking anyway is what a node from before logs would not understand.
          if (!this.#c.witnessing) throw new ProtocolError('a log message to a node that keeps no log');
          return await this.#c.witnessing.answer(peer, message);
        }
        default:
          throw new ProtocolError(`unexpected message type ${message.type}`);
      }
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      this.#c.log.error({ err: error, peer: peer.peerId }, 'sync request failed');
      return { type: MessageType.error, code: ErrorCode.unavailable, text: 'internal error' };
    }
  }

  /** RECORDS for a FETCH: records of the domain, in order, while they fit the message. */
  async #records(peer: PeerState, domain: string, ids: readonly string[], budget: number): Promise<Message> {
    const stored = await this.#c.store.getMany(ids);
    const entries: Array<{ status: 0; bytes: Uint8Array } | { status: 1 | 2 }> = [];
    let size = 16;
    let sent = 0;
    for (const record of stored) {
      if (!record || !record.domains.includes(domain)) {
        entries.push({ status: 1 });
        size += 1;
        continue;
      }
      const need = record.bytes.length + 6;
      if (need > budget) {
        entries.push({ status: 2 });
        size += 1;
        continue;
      }
      if (entries.length > 0 && size + need > budget) break;
      entries.push({ status: 0, bytes: record.bytes });
      size += need;
      sent++;
    }
    peer.recordsSent += sent;
    peer.domain(domain).recordsSent += sent;
    return { type: MessageType.records, entries };
  }
}
