// The node's signed checkpoints (C2SP tlog-checkpoint in a signed note), one log per domain,
// all signed with the node's Ed25519 log key under the domain's origin
// ("ics/<node name>/<domain>"). A checkpoint is signed once per tree size and kept until the
// domain's log grows.
import type { KeyObject } from 'node:crypto';
import { IcsError } from '../errors.ts';
import type { TransparencyLog } from './log.ts';
import { type Checkpoint, checkpointText, parseVerifierKey, rawPublicKey, signNote, verifierKey, verifyNote } from './note.ts';

export interface SignedCheckpoint extends Checkpoint {
  /** The whole signed note. */
  readonly note: string;
}

/** Domain names become part of an origin: policy identifiers, never spaces or '+'. */
const DOMAIN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Witnesses' cosignatures of one checkpoint, by witness name. */
interface Cosigned {
  readonly size: number;
  readonly root: Buffer;
  readonly lines: Map<string, string>;
}

/** Witnesses a checkpoint keeps at most: a federation's peers, not an open list. */
const MAX_WITNESSES = 32;

export class CheckpointSigner {
  readonly #latest = new Map<string, SignedCheckpoint>();
  readonly #cosigned = new Map<string, Cosigned>();
  readonly #publicKey: Buffer;

  constructor(
    private readonly log: TransparencyLog,
    private readonly key: KeyObject,
    /** Names the node in every origin: "ics/<node name>". */
    private readonly originPrefix: string,
  ) {
    this.#publicKey = rawPublicKey(key);
  }

  origin(domain: string): string {
    if (!DOMAIN.test(domain)) throw new IcsError('BAD_REQUEST', `not a domain name: ${JSON.stringify(domain.slice(0, 40))}`);
    return `${this.originPrefix}/${domain}`;
  }

  /** The verifier key a gateway or peer checks this domain's checkpoints with. */
  verifierKey(domain: string): string {
    return verifierKey(this.origin(domain), this.#publicKey);
  }

  /**
   * A witness's cosignature of the domain's checkpoint: kept when it is a valid signature, by
   * the key it comes with, of the checkpoint this node signed at that size. Returns whether it
   * was kept. (Which witnesses to believe is the reader's choice: their keys are published.)
   */
  async cosigned(domain: string, line: string, witnessKey: string): Promise<boolean> {
    const checkpoint = await this.checkpoint(domain);
    const body = checkpoint.note.slice(0, checkpoint.note.indexOf('\n\n') + 1);
    let verifier;
    try {
      verifier = parseVerifierKey(witnessKey);
      verifyNote(`${body}\n${line}`, verifier);
    } catch {
      return false;
    }
    let entry = this.#cosigned.get(domain);
    if (!entry || entry.size !== checkpoint.size || !entry.root.equals(checkpoint.root)) {
      entry = { size: checkpoint.size, root: checkpoint.root, lines: new Map() };
      this.#cosigned.set(domain, entry);
    }
    if (entry.lines.size >= MAX_WITNESSES && !entry.lines.has(verifier.name)) return false;
    entry.lines.set(verifier.name, line.endsWith('\n') ? line : `${line}\n`);
    return true;
  }

  /** The domain's checkpoint with the cosignatures witnesses gave it (the node's own signature first). */
  async cosignedCheckpoint(domain: string): Promise<SignedCheckpoint> {
    const checkpoint = await this.checkpoint(domain);
    const entry = this.#cosigned.get(domain);
    if (!entry || entry.size !== checkpoint.size || !entry.root.equals(checkpoint.root)) return checkpoint;
    return { ...checkpoint, note: checkpoint.note + [...entry.lines.values()].join('') };
  }

  /** The domain's checkpoint at its current size. */
  async checkpoint(domain: string): Promise<SignedCheckpoint> {
    const origin = this.origin(domain);
    const size = await this.log.size(domain);
    const cached = this.#latest.get(domain);
    if (cached && cached.size >= size) return cached;
    const root = Buffer.from(await this.log.root(domain, size));
    const signed = { origin, size, root, note: signNote(checkpointText({ origin, size, root }), origin, this.key) };
    const now = this.#latest.get(domain);
    // Two requests may sign at once: the larger tree wins.
    if (!now || now.size < size) this.#latest.set(domain, signed);
    return signed;
  }
}
