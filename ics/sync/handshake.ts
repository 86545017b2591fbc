// HELLO / HELLO_OK (docs/sync-protocol.md "Definition digests"): each side names the domains
// it shares with the other, with their definition digests and its flags for them; each side
// records what the other said per domain — a mismatch, a domain the peer lacks or will not let
// it read is reported, not retried — and both keep the smaller of the two sides' limits.
import type { Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import type { PolicyEngine } from '../policy/index.ts';
import { type ByteCounter, Channel } from './channel.ts';
import { DomainFlag, DomainStatus, errorName, type HelloDomain, type HelloOkDomain, type Message, MessageType, ProtocolError, type WireLimits } from './codec.ts';
import { PROTOCOL, PROTOCOL_VERSION } from './consts.ts';
import type { PeerState } from './peer.ts';
import type { PeerRegistry } from './registry.ts';
import { withDeadline } from './deadline.ts';
import type { Settings } from './settings.ts';
import type { DomainSyncState } from './types.ts';

/** A client stream after the handshake. */
export interface Session {
  readonly channel: Channel;
  /** What the peer accepts (its HELLO_OK), already capped by this node's own limits. */
  readonly limits: WireLimits;
}

/** A reconciliation that failed for a reason the peer gave or this node found. */
export class SyncFailure extends Error {
  constructor(
    message: string,
    readonly state: DomainSyncState,
  ) {
    super(message);
  }
}

export const digestHex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);

/** A state the handshake sets: the domain is not reconciled with the peer until a later handshake agrees. */
export const isHandshakeProblem = (state: DomainSyncState | undefined) => state === 'definition-mismatch' || state === 'unknown-at-peer' || state === 'not-permitted';

export interface HandshakeComponents {
  readonly settings: Settings;
  readonly policy: () => PolicyEngine;
  readonly log: Logger;
  readonly registry: Pick<PeerRegistry, 'connection' | 'misbehaved' | 'localDigest'>;
  /** This node keeps a transparency log and answers CHECKPOINT (HELLO_OK flag `log`). */
  readonly keepsLog?: boolean;
}

export class Handshake {
  readonly #c: HandshakeComponents;
  /** Protocol bytes with every peer. */
  readonly #total: ByteCounter = { in: 0, out: 0 };

  constructor(components: HandshakeComponents) {
    this.#c = components;
  }

  /** A protocol stream with the peer, framed and counted. */
  channel(stream: Stream, peer: PeerState): Channel {
    const max = this.#c.settings.maxMessageBytes;
    return new Channel(stream, max, { maxFetchIds: this.#c.settings.batchSize, maxRecordBytes: max }, [peer.bytes, this.#total]);
  }

  /** This node's limits, as its HELLO and HELLO_OK carry them. */
  wireLimits(): WireLimits {
    return { maxMessageBytes: this.#c.settings.maxMessageBytes, batchSize: this.#c.settings.batchSize };
  }

  /** Limits both sides keep: the smaller of each. */
  agreed(theirs: WireLimits): WireLimits {
    return {
      maxMessageBytes: Math.min(theirs.maxMessageBytes, this.#c.settings.maxMessageBytes),
      batchSize: Math.min(theirs.batchSize, this.#c.settings.batchSize),
    };
  }

  /** Client side: a new stream to the peer with the handshake done. */
  async open(peer: PeerState): Promise<Session> {
    const connection = await this.#c.registry.connection(peer);
    const timeout = this.#c.settings.limits.requestTimeoutMs;
    const stream = await withDeadline(timeout, (signal) => connection.newStream(PROTOCOL, { signal }));
    const channel = this.channel(stream, peer);
    try {
      await channel.send(this.#hello(peer), timeout);
      const reply = await channel.receive(timeout);
      if (reply.type === MessageType.error) throw new SyncFailure(`peer refused the handshake: ${errorName(reply.code)} ${reply.text}`, 'error');
      if (reply.type !== MessageType.helloOk) throw new ProtocolError('expected HELLO_OK');
      if (reply.version !== PROTOCOL_VERSION) throw new SyncFailure(`peer speaks protocol version ${reply.version}`, 'error');
      this.#applyHelloOk(peer, reply.domains);
      return { channel, limits: this.agreed(reply.limits) };
    } catch (error) {
      channel.abort('handshake failed');
      if (error instanceof ProtocolError) this.#c.registry.misbehaved(peer, error.message);
      throw error;
    }
  }

  #hello(peer: PeerState): Message {
    const policy = this.#c.policy();
    const names = new Set([...(peer.entry?.pull ?? []), ...(peer.entry?.push ?? [])]);
    const domains: HelloDomain[] = [];
    for (const name of names) {
      const digest = this.#c.registry.localDigest(name);
      if (!digest) continue;
      const flags =
        (peer.pulls(name) ? DomainFlag.pull : 0) |
        (peer.pushes(name) ? DomainFlag.push : 0) |
        (policy.canRead(name, { kind: 'peer', peerId: peer.peerId }) ? DomainFlag.readable : 0);
      domains.push({ name, digest: Buffer.from(digest, 'hex'), flags });
    }
    return { type: MessageType.hello, version: PROTOCOL_VERSION, limits: this.wireLimits(), domains };
  }

  /** Client side: what the peer said of each domain this node named. */
  #applyHelloOk(peer: PeerState, domains: readonly HelloOkDomain[]): void {
    const said = new Map(domains.map((d) => [d.name, d]));
    for (const name of new Set([...(peer.entry?.pull ?? []), ...(peer.entry?.push ?? [])])) {
      const local = this.#c.registry.localDigest(name);
      if (!local) continue;
      const d = peer.domain(name);
      const theirs = said.get(name);
      d.remoteFlags = theirs?.flags ?? 0;
      d.remoteDigest = digestHex(theirs?.digest);
      let state: DomainSyncState | undefined;
      if (!theirs || theirs.status === DomainStatus.unknown) state = 'unknown-at-peer';
      else if (theirs.status === DomainStatus.mismatch || d.remoteDigest !== local) state = 'definition-mismatch';
      else if (peer.pulls(name) && (theirs.flags & DomainFlag.readable) === 0) state = 'not-permitted';
      this.setState(peer, name, state);
    }
  }

  /** Server side: what the peer said in its HELLO, and this node's answer for each domain. */
  answer(peer: PeerState, domains: readonly HelloDomain[]): HelloOkDomain[] {
    const policy = this.#c.policy();
    return domains.map((theirs) => {
      const local = this.#c.registry.localDigest(theirs.name);
      const remote = digestHex(theirs.digest);
      const status = local === undefined ? DomainStatus.unknown : local === remote ? DomainStatus.match : DomainStatus.mismatch;
      const flags =
        (policy.canRead(theirs.name, { kind: 'peer', peerId: peer.peerId }) ? DomainFlag.readable : 0) |
        (peer.pulls(theirs.name) ? DomainFlag.pull : 0) |
        (peer.pushes(theirs.name) ? DomainFlag.push : 0) |
        (this.#c.keepsLog === true && local !== undefined ? DomainFlag.log : 0);
      if (local !== undefined || peer.pulls(theirs.name) || peer.pushes(theirs.name)) {
        const d = peer.domain(theirs.name);
        d.remoteDigest = remote;
        d.remoteFlags = theirs.flags;
        this.setState(peer, theirs.name, status === DomainStatus.mismatch ? 'definition-mismatch' : status === DomainStatus.unknown ? 'unknown-at-peer' : undefined);
      }
      return { name: theirs.name, status, flags, digest: local === undefined ? undefined : Buffer.from(local, 'hex') };
    });
  }

  /**
   * Records a handshake verdict: a problem state (logged once when it starts), or undefined
   * for "nothing wrong" (which clears a problem state the handshake had set).
   */
  setState(peer: PeerState, name: string, state: DomainSyncState | undefined): void {
    const d = peer.domain(name);
    if (state && isHandshakeProblem(state)) {
      if (d.state !== state) {
        const why =
          state === 'definition-mismatch'
            ? 'domain definitions differ (selectors, accept or write rules, or trusted issuers): the domain will not converge and is not synced until one side changes'
            : state === 'unknown-at-peer'
              ? 'the peer has no such domain'
              : 'the peer does not let this node read the domain';
        this.#c.log.warn({ peer: peer.peerId, name: peer.name, domain: name, local: this.#c.registry.localDigest(name), remote: d.remoteDigest }, `sync: ${why}`);
      }
      d.state = state;
      d.lastError = state;
    } else if (isHandshakeProblem(d.state)) {
      d.state = 'pending';
      d.lastError = undefined;
    }
  }
}
