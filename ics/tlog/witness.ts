// Peers as witnesses (DESIGN §8): a node that pulls a domain from a peer also watches the
// peer's log of it. Each time it sees a new checkpoint it checks that it is signed by the key
// it pinned for that log when it first saw it, and that it is consistent with the last
// checkpoint it witnessed (same tree or an extension, by the peer's consistency proof); then
// it cosigns it (an Ed25519 signed-note signature by its own log key, under its own name).
// Anything else — another key, a smaller tree, another root at the same size, a proof that
// fails — is a split view or a rewritten history: kept as evidence with both signed
// checkpoints, and the caller stops syncing that domain with the peer.
//
// A log that shows one history to one peer and another to the next passes each peer's own
// check; witnesses catch it by gossip: two nodes that sync a domain tell each other the
// checkpoints they witnessed of its logs. One heard at the size this node witnessed must
// have the same root; one of another size is kept ("heard") until this node next witnesses
// that log, which must then prove it consistent with its current tree — or is caught. No I/O
// here: what was witnessed is read and written through `WitnessMemory`, proofs are asked
// through a callback.
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
  /** Checkpoints of this log that other witnesses saw, not yet proven consistent with this one. */
  readonly heard?: readonly Heard[];
}

/** A checkpoint of a witnessed log, as another witness saw it (gossip). */
export interface Heard {
  readonly size: number;
  /** base64 */
  readonly root: string;
  readonly note: string;
  /** The peer that told it. */
  readonly via: string;
  readonly at: string;
  /** Times the log did not answer for it (error instead of a proof). */
  readonly unanswered: number;
}

export interface WitnessMemory {
  get(peer: string, domain: string): Promise<Witnessed | undefined>;
  set(peer: string, domain: string, witnessed: Witnessed): Promise<void>;
  /** Every peer's log of `domain` witnessed so far. */
  list(domain: string): Promise<ReadonlyArray<readonly [peer: string, witnessed: Witnessed]>>;
}

/** A signed checkpoint and the key of its log, as witnesses gossip them. */
export interface GossipedCheckpoint {
  readonly note: string;
  readonly vkey: string;
}

/** Checkpoints of other witnesses kept per log at most, awaiting proof (oldest dropped). */
const MAX_HEARD = 8;
/** A log that leaves a heard checkpoint unproven this many times is taken to hide a fork. */
const MAX_UNANSWERED = 3;

/** What a peer sent for one domain: its checkpoint, its log's verifier key, a consistency proof from the size asked for. */
export interface CheckpointOffer {
  readonly note: string;
  readonly vkey: string;
  readonly proof: readonly Uint8Array[];
}

export type WitnessOutcome =
  | { readonly outcome: 'cosigned'; readonly checkpoint: Checkpoint; readonly cosignature: string; readonly first: boolean }
  | { readonly outcome: 'split-view'; readonly reason: string; readonly previous: Witnessed; readonly offered: CheckpointOffer; readonly via?: string };

/** A split view found in gossip: of `peer`'s log, told by `via`. */
export type HeardSplitView = Extract<WitnessOutcome, { outcome: 'split-view' }> & { readonly peer: string };

/** Asks the log for a consistency proof between two of its sizes; undefined: it did not answer. */
export type ProveConsistency = (from: number, to: number) => Promise<readonly Uint8Array[] | undefined>;

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
    await this.memory.set(peer, domain, { vkey: offer.vkey, size: checkpoint.size, root: checkpoint.root.toString('base64'), note: offer.note, at: now.toISOString(), ...(previous?.heard && { heard: previous.heard }) });
    const text = verifyNote(offer.note, verifier);
    const cosignature = signatureLine(this.name, this.#publicKey, sign(null, Buffer.from(text, 'utf8'), this.key));
    return { outcome: 'cosigned', checkpoint, cosignature, first: previous === undefined };
  }

  /** What this node witnessed of the logs of `domain`, to tell a peer (not the peer's own log). */
  async gossip(domain: string, recipient: string): Promise<GossipedCheckpoint[]> {
    return (await this.memory.list(domain)).filter(([peer]) => peer !== recipient).map(([, w]) => ({ note: w.note, vkey: w.vkey }));
  }

  /**
   * Takes what peer `via` witnessed of the logs of `domain`. A checkpoint of a log this node
   * witnesses is compared with what it witnessed: another root at the same size is a split
   * view (returned: both are signed by the log); another size is kept for the log to prove.
   * Checkpoints of logs this node does not witness, or that do not verify, are ignored.
   */
  async hear(via: string, domain: string, told: readonly GossipedCheckpoint[], now = new Date()): Promise<{ splitViews: HeardSplitView[]; ignored: number }> {
    const splitViews: HeardSplitView[] = [];
    let ignored = 0;
    const witnessed = await this.memory.list(domain);
    for (const item of told) {
      const logs = witnessed.filter(([peer, w]) => w.vkey === item.vkey && peer !== via);
      let checkpoint: Checkpoint;
      try {
        checkpoint = parseCheckpoint(verifyNote(item.note, parseVerifierKey(item.vkey)));
      } catch {
        ignored++;
        continue;
      }
      if (logs.length === 0) {
        ignored++;
        continue;
      }
      const root = checkpoint.root.toString('base64');
      for (const [peer, known] of logs) {
        const w = (await this.memory.get(peer, domain)) ?? known;
        const offered = { note: item.note, vkey: item.vkey, proof: [] };
        const same = [{ size: w.size, root: w.root }, ...(w.heard ?? [])].find((h) => h.size === checkpoint.size);
        if (same) {
          if (same.root !== root) splitViews.push({ outcome: 'split-view', peer, via, previous: w, offered, reason: `${via} was shown another tree of ${checkpoint.size} leaves than this node knows of` });
          continue;
        }
        const heard: Heard = { size: checkpoint.size, root, note: item.note, via, at: now.toISOString(), unanswered: 0 };
        await this.memory.set(peer, domain, { ...w, heard: [...(w.heard ?? []), heard].slice(-MAX_HEARD) });
      }
    }
    return { splitViews, ignored };
  }

  /**
   * After `observe` cosigned the peer's `current` checkpoint: each checkpoint heard of its log
   * must be proven consistent with it (asked through `prove`). Returns the first split view
   * found; proven ones are forgotten, unanswered ones kept (a log that leaves one unanswered
   * MAX_UNANSWERED times is taken to hide a fork).
   */
  async settle(peer: string, domain: string, current: Checkpoint, prove: ProveConsistency): Promise<WitnessOutcome | undefined> {
    const w = await this.memory.get(peer, domain);
    if (!w?.heard?.length) return undefined;
    const root = current.root;
    const left: Heard[] = [];
    let found: WitnessOutcome | undefined;
    for (const h of w.heard) {
      const splitView = (reason: string): WitnessOutcome => ({ outcome: 'split-view', reason, previous: w, offered: { note: h.note, vkey: w.vkey, proof: [] }, via: h.via });
      const heardRoot = Buffer.from(h.root, 'base64');
      if (found) {
        left.push(h);
      } else if (h.size > current.size) {
        found = splitView(`it signed a tree of ${h.size} leaves for ${h.via}, and shows this node ${current.size}`);
      } else if (h.size === current.size) {
        if (!heardRoot.equals(root)) found = splitView(`${h.via} was shown another tree of ${h.size} leaves`);
      } else if (h.size > 0) {
        const proof = await prove(h.size, current.size);
        if (proof === undefined) {
          if (h.unanswered + 1 >= MAX_UNANSWERED) found = splitView(`it did not prove the tree of ${h.size} leaves shown to ${h.via} consistent with its tree of ${current.size}, asked ${MAX_UNANSWERED} times`);
          else left.push({ ...h, unanswered: h.unanswered + 1 });
        } else if (!verifyConsistency(h.size, current.size, heardRoot, root, proof)) {
          found = splitView(`the tree of ${h.size} leaves shown to ${h.via} is not part of its tree of ${current.size}`);
        }
      }
    }
    const { heard: _, ...rest } = w;
    await this.memory.set(peer, domain, left.length > 0 ? { ...rest, heard: left } : rest);
    return found;
  }
}
