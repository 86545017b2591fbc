// The node's signed checkpoints (C2SP tlog-checkpoint in a signed note), one log per domain,
// all signed with the node's Ed25519 log key under the domain's origin
// ("ics/<node name>/<domain>"). A checkpoint is signed once per tree size and kept until the
// domain's log grows.
import type { KeyObject } from 'node:crypto';
import { IcsError } from '../errors.ts';
import type { TransparencyLog } from './log.ts';
import { type Checkpoint, checkpointText, rawPublicKey, signNote, verifierKey } from './note.ts';

export interface SignedCheckpoint extends Checkpoint {
  /** The whole signed note. */
  readonly note: string;
}

/** Domain names become part of an origin: policy identifiers, never spaces or '+'. */
const DOMAIN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class CheckpointSigner {
  readonly #latest = new Map<string, SignedCheckpoint>();
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
