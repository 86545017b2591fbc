// Peers as witnesses (DESIGN §8): a node that pulls a domain from a peer also watches the
// peer's log of it. Each time it sees a new checkpoint it checks that it is signed by the key
// it pinned for that log when it first saw it, and that it is consistent with the last
// checkpoint it witnessed (same tree or an extension, by the peer's consistency proof); then
// it cosigns it (an Ed25519 signed-note signature by its own log key, under its own name).
// Anything else — another key, a smaller tree, another root at the same size, a proof that
// fails — is a split view or a rewritten history: kept as evidence with both signed
// checkpoints, and the caller stops syncing that domain with the peer. No I/O here: what was
// witnessed is read and written through `WitnessMemory`.
import { sign, type KeyObject } from 'node:crypto';
import { verifyConsistency } from './merkle.ts';
import { type Checkpoint, parseCheckpoint, parseVerifierKey, rawPublicKey, signatureLine, verifierKey, verifyNote } from './note.ts';

/** The last checkpoint witnessed of one peer's log of one domain. */
export interface Witnessed {
  readonly vkey: string;
  readonly size: number;
  /** base64 */
  readonly root: string;
  readonly note: string;
  readonly at: string;
}

export interface WitnessMemory {
  get(peer: string, domain: string): Promise<Witnessed | undefined>;
  set(peer: string, domain: string, witnessed: Witnessed): Promise<void>;
}

/** What a peer sent for one domain: its checkpoint, its log's verifier key, a consistency proof from the size asked for. */
export interface CheckpointOffer {
  readonly note: string;
  readonly vkey: string;
  readonly proof: readonly Uint8Array[];
}

export type WitnessOutcome =
  | { readonly outcome: 'cosigned'; readonly checkpoint: Checkpoint; readonly cosignature: string; readonly first: boolean }
  | { readonly outcome: 'split-view'; readonly reason: string; readonly previous: Witnessed; readonly offered: CheckpointOffer };

export class Witness {
  readonly #publicKey: Buffer;

  constructor(
    private readonly memory: WitnessMemory,
    private readonly key: KeyObject,
    /** This node's witness name ("ics/<node name>"). */
    readonly name: string,
  ) {
    this.#publicKey = rawPublicKey(key);
  }

  /** The key a log checks this witness's cosignatures with. */
  get verifierKey(): string {
    return verifierKey(this.name, this.#publicKey);
  }

  /** The size to ask the peer's consistency proof from: the last one witnessed (0: none yet). */
  async since(peer: string, domain: string): Promise<number> {
    return (await this.memory.get(peer, domain))?.size ?? 0;
  }

  /**
   * Judges a peer's checkpoint of `domain`. Throws (BAD_REQUEST) for an offer that is not even
   * a signed checkpoint of that domain by the key it names: a malformed answer, not evidence.
   */
  async observe(peer: string, domain: string, offer: CheckpointOffer, now = new Date()): Promise<WitnessOutcome> {
    const verifier = parseVerifierKey(offer.vkey);
    const checkpoint = parseCheckpoint(verifyNote(offer.note, verifier));
    if (checkpoint.origin !== verifier.name || !checkpoint.origin.endsWith(`/${domain}`)) {
      throw new Error(`the checkpoint of ${domain} names origin ${checkpoint.origin} and key ${verifier.name}`);
    }
    const previous = await this.memory.get(peer, domain);
    const splitView = (reason: string): WitnessOutcome => ({ outcome: 'split-view', reason, previous: previous as Witnessed, offered: offer });
    if (previous) {
      if (previous.vkey !== offer.vkey) return splitView('the log is signed by another key than the one first seen');
      const root = Buffer.from(previous.root, 'base64');
      if (checkpoint.size < previous.size) return splitView(`the log shrank from ${previous.size} to ${checkpoint.size} leaves`);
      if (checkpoint.size === previous.size && !root.equals(checkpoint.root)) return splitView(`two different trees of ${checkpoint.size} leaves`);
      // Every tree extends the empty one: consistency from size 0 has nothing to prove.
      if (checkpoint.size > previous.size && previous.size > 0 && !verifyConsistency(previous.size, checkpoint.size, root, checkpoint.root, offer.proof)) {
        return splitView(`the tree of ${checkpoint.size} leaves does not extend the tree of ${previous.size} witnessed before`);
      }
    }
    await this.memory.set(peer, domain, { vkey: offer.vkey, size: checkpoint.size, root: checkpoint.root.toString('base64'), note: offer.note, at: now.toISOString() });
    const text = verifyNote(offer.note, verifier);
    const cosignature = signatureLine(this.name, this.#publicKey, sign(null, Buffer.from(text, 'utf8'), this.key));
    return { outcome: 'cosigned', checkpoint, cosignature, first: previous === undefined };
  }
}
