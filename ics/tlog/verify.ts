// What a gateway runs to check, offline, that what a node told it is in the node's log: the
// checkpoint carries a valid signature by the log's key (the verifier key, obtained once and
// pinned), it is the log of the domain the proof names, and the leaf — which names the record
// version the gateway was told about — is in the checkpoint's tree. No I/O, no state.
import { IcsError } from '../errors.ts';
import type { LogLeaf } from './log.ts';
import { leafHash, verifyInclusion } from './merkle.ts';
import { type Checkpoint, type NoteVerifier, parseCheckpoint, parseVerifierKey, verifyNote } from './note.ts';

/** A record version's inclusion in a domain's log, as `GET /ics/v1/verify/{id}?proof=1` answers it. */
export interface LogProof {
  readonly domain: string;
  /** The leaf's text (six lines: format, domain, id, digest, seq, time in ms). */
  readonly leaf: string;
  readonly index: number;
  /** The base64 hashes of the inclusion proof in the checkpoint's tree. */
  readonly inclusion: readonly string[];
  /** The signed checkpoint (C2SP signed note). */
  readonly checkpoint: string;
}

function refused(why: string): IcsError {
  return new IcsError('BAD_REQUEST', `log proof refused: ${why}`);
}

/** The fields of a leaf's text; BAD_REQUEST when it is not one. */
export function parseLeaf(text: string): LogLeaf {
  const lines = text.split('\n');
  const [format, domain, id, digest, seq, time, end, ...rest] = lines;
  if (format !== 'cm4it-ics-log-leaf/v1' || end !== '' || rest.length > 0 || !domain || !id || !/^[0-9a-f]{64}$/.test(digest ?? '') || !/^[0-9]{1,16}$/.test(seq ?? '') || !/^[0-9]{1,16}$/.test(time ?? '')) {
    throw refused('not a log leaf');
  }
  return { domain, id, digest: digest as string, seq: Number(seq), time: new Date(Number(time)) };
}

/**
 * Checks `proof` with the log's verifier key ("<origin>+<hash>+<key>"); with `expect`, also
 * that the leaf names that record id and digest. Returns the leaf and the checkpoint;
 * BAD_REQUEST (the reason in the message) when anything does not hold.
 */
export function verifyLogProof(proof: LogProof, key: NoteVerifier | string, expect: { readonly id?: string; readonly digest?: string } = {}): { leaf: LogLeaf; checkpoint: Checkpoint } {
  const verifier = typeof key === 'string' ? parseVerifierKey(key) : key;
  const checkpoint = parseCheckpoint(verifyNote(proof.checkpoint, verifier));
  if (checkpoint.origin !== verifier.name) throw refused(`the checkpoint is of ${checkpoint.origin}, the key of ${verifier.name}`);
  if (!checkpoint.origin.endsWith(`/${proof.domain}`)) throw refused(`the checkpoint is not the log of domain ${proof.domain}`);
  const leaf = parseLeaf(proof.leaf);
  if (leaf.domain !== proof.domain) throw refused(`the leaf is in domain ${leaf.domain}, not ${proof.domain}`);
  if (expect.id !== undefined && leaf.id !== expect.id) throw refused(`the leaf names ${leaf.id}, not ${expect.id}`);
  if (expect.digest !== undefined && leaf.digest !== expect.digest) throw refused('the leaf names another version of the record');
  const hashes = proof.inclusion.map((h) => Buffer.from(h, 'base64'));
  if (!verifyInclusion(proof.index, checkpoint.size, leafHash(Buffer.from(proof.leaf, 'utf8')), hashes, checkpoint.root)) {
    throw refused(`the leaf is not at ${proof.index} in the checkpoint's tree of ${checkpoint.size}`);
  }
  return { leaf, checkpoint };
}
