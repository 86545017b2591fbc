// Peers as witnesses over sync (DESIGN §8, docs/sync-protocol.md "Witnessing"). Before it
// reconciles a domain it pulls, a node asks the peer's checkpoint of its log (CHECKPOINT),
// judges it against what it witnessed (tlog/witness.ts), has the peer prove the checkpoints
// other witnesses told of it (CONSISTENCY), cosigns (COSIGN), and trades with the peer what
// each witnessed of the domain's other logs (WITNESSED, both ways). The serving side answers
// the same messages. A split view — found here or told — keeps both signed checkpoints as
// evidence; the domain then stops with the log's node until an operator acts.
import type { Logger } from 'pino';
import type { PolicyEngine } from '../policy/index.ts';
import type { Checkpoint, HeardSplitView, WitnessOutcome } from '../tlog/index.ts';
import type { Channel } from './channel.ts';
import { DomainFlag, ErrorCode, errorName, type Message, MessageType, ProtocolError } from './codec.ts';
import type { PeerState } from './peer.ts';
import type { SyncTransparency } from './types.ts';

type SplitViewOutcome = Extract<WitnessOutcome, { outcome: 'split-view' }>;

export interface WitnessingComponents {
  readonly transparency: SyncTransparency;
  readonly policy: () => PolicyEngine;
  readonly log: Logger;
  readonly timeoutMs: number;
}

export class LogWitnessing {
  readonly #c: WitnessingComponents;

  constructor(components: WitnessingComponents) {
    this.#c = components;
  }

  /**
   * The pulling side, on an open session: witnesses the peer's log of `domain`. Returns the
   * reason when the peer showed a split view (evidence kept: nothing is to be taken from it).
   */
  async witnessPeer(peer: PeerState, channel: Channel, domain: string): Promise<string | undefined> {
    // A peer whose HELLO_OK did not say it keeps a log of the domain (one from before logs) is not asked.
    if ((peer.domain(domain).remoteFlags & DomainFlag.log) === 0) return undefined;
    const { transparency, log } = this.#c;
    const witness = await transparency.witness();
    const reply = await this.#ask(channel, { type: MessageType.checkpoint, domain, since: await witness.since(peer.peerId, domain) });
    if (reply.type === MessageType.error) {
      log.debug({ peer: peer.peerId, domain, code: errorName(reply.code), text: reply.text }, 'the peer offers no checkpoint of its log');
      return undefined;
    }
    if (reply.type !== MessageType.checkpointReply) throw new ProtocolError('expected CHECKPOINT_REPLY');
    let outcome: WitnessOutcome;
    try {
      outcome = await witness.observe(peer.peerId, domain, reply);
    } catch (error) {
      log.warn({ peer: peer.peerId, domain, err: (error as Error).message }, 'the peer sent a checkpoint that is not one: not witnessed');
      return undefined;
    }
    if (outcome.outcome === 'split-view') return this.#splitView(peer.peerId, peer.name, domain, outcome);
    const told = await witness.settle(peer.peerId, domain, outcome.checkpoint, (from, to) => this.#prove(channel, domain, from, to));
    if (told?.outcome === 'split-view') return this.#splitView(peer.peerId, peer.name, domain, told);
    transparency.count?.('cosigned');
    const ack = await this.#ask(channel, { type: MessageType.cosign, domain, line: outcome.cosignature, vkey: witness.verifierKey });
    if (ack.type !== MessageType.ack && ack.type !== MessageType.error) throw new ProtocolError('expected ACK');
    await this.#gossip(peer, channel, domain, outcome.checkpoint);
    return undefined;
  }

  /** The serving side: CHECKPOINT, CONSISTENCY, COSIGN and WITNESSED of a domain the peer may read. */
  async answer(peer: PeerState, message: Message): Promise<Message> {
    const { transparency } = this.#c;
    switch (message.type) {
      case MessageType.checkpoint: {
        const signer = await transparency.signer();
        const checkpoint = await signer.checkpoint(message.domain);
        // From what the peer witnessed last to now; nothing to prove from 0, or when it has seen more (it will say so).
        const proof = message.since > 0 && message.since < checkpoint.size ? await transparency.log.consistency(message.domain, message.since, checkpoint.size) : [];
        return { type: MessageType.checkpointReply, note: checkpoint.note, vkey: signer.verifierKey(message.domain), proof };
      }
      case MessageType.consistency: {
        const size = await transparency.log.size(message.domain);
        if (message.to > size) return { type: MessageType.error, code: ErrorCode.limit, text: `the log of ${message.domain} has ${size} leaves` };
        return { type: MessageType.consistencyReply, proof: await transparency.log.consistency(message.domain, message.from, message.to) };
      }
      case MessageType.cosign: {
        const kept = await (await transparency.signer()).cosigned(message.domain, message.line, message.vkey);
        transparency.count?.(kept ? 'cosignature-kept' : 'cosignature-refused');
        return { type: MessageType.ack, status: kept ? 0 : 1 };
      }
      case MessageType.witnessed: {
        const witness = await transparency.witness();
        await this.#heard(peer, message.domain, await witness.hear(peer.peerId, message.domain, message.checkpoints));
        // The peer may read the domain (checked before): it gets what this node witnessed of its other logs.
        return { type: MessageType.witnessed, domain: message.domain, checkpoints: await witness.gossip(message.domain, peer.peerId) };
      }
      default:
        throw new ProtocolError(`unexpected message type ${message.type}`);
    }
  }

  async #ask(channel: Channel, message: Message): Promise<Message> {
    await channel.send(message, this.#c.timeoutMs);
    return channel.receive(this.#c.timeoutMs);
  }

  async #prove(channel: Channel, domain: string, from: number, to: number): Promise<readonly Uint8Array[] | undefined> {
    const reply = await this.#ask(channel, { type: MessageType.consistency, domain, from, to });
    if (reply.type === MessageType.error) return undefined;
    if (reply.type !== MessageType.consistencyReply) throw new ProtocolError('expected CONSISTENCY_REPLY');
    return reply.proof;
  }

  /** WITNESSED both ways: what this node witnessed of the domain's other logs (if the peer may read it), and what the peer did. */
  async #gossip(peer: PeerState, channel: Channel, domain: string, checkpoint: Checkpoint): Promise<void> {
    const witness = await this.#c.transparency.witness();
    const mayRead = this.#c.policy().canRead(domain, { kind: 'peer', peerId: peer.peerId });
    const reply = await this.#ask(channel, { type: MessageType.witnessed, domain, checkpoints: mayRead ? await witness.gossip(domain, peer.peerId) : [] });
    if (reply.type === MessageType.error) return;
    if (reply.type !== MessageType.witnessed || reply.domain !== domain) throw new ProtocolError('expected WITNESSED');
    await this.#heard(peer, domain, await witness.hear(peer.peerId, domain, reply.checkpoints));
    this.#c.log.debug({ peer: peer.peerId, domain, size: checkpoint.size, told: reply.checkpoints.length }, 'witnessed the peer’s checkpoint');
  }

  async #heard(via: PeerState, domain: string, heard: { splitViews: HeardSplitView[]; ignored: number }): Promise<void> {
    if (heard.ignored > 0) this.#c.log.debug({ peer: via.peerId, domain, ignored: heard.ignored }, 'checkpoints told of logs this node does not witness, or that do not verify: ignored');
    for (const found of heard.splitViews) await this.#splitView(found.peer, undefined, domain, found);
  }

  /** Keeps both signed checkpoints as evidence (the domain stops with that peer) and returns the reason. */
  async #splitView(peerId: string, name: string | undefined, domain: string, outcome: SplitViewOutcome): Promise<string> {
    const { transparency, log } = this.#c;
    await transparency.evidence.keep(peerId, domain, {
      peer: peerId,
      ...(name && { name }),
      domain,
      reason: outcome.reason,
      ...(outcome.via && { toldBy: outcome.via }),
      at: new Date().toISOString(),
      witnessed: outcome.previous,
      offered: outcome.offered,
    });
    transparency.count?.('split-view');
    log.error({ peer: peerId, name, domain, reason: outcome.reason, toldBy: outcome.via }, 'split view of a peer’s log: both signed checkpoints kept as evidence; the domain is not synced with this peer until an operator acts');
    return `split view: ${outcome.reason}`;
  }
}
