// The transparency log (DESIGN §8): Merkle trees of accepted record versions per domain,
// signed checkpoints, proofs, and what a gateway runs to check them. Core: depends on the
// store's types only.
export { CheckpointSigner, type SignedCheckpoint } from './checkpoints.ts';
export { type LeafPosition, type LogLeaf, leafText, TILE_HEIGHT, TILE_WIDTH, TLOG_STRUCTURE, TransparencyLog } from './log.ts';
export { consistencyProof, EMPTY_ROOT, HASH_BYTES, inclusionProof, leafHash, nodeHash, rootFromInclusion, rootHash, verifyConsistency, verifyInclusion } from './merkle.ts';
export { type Checkpoint, checkpointText, keyHash, MAX_NOTE_BYTES, type NoteVerifier, parseCheckpoint, parseNote, parseVerifierKey, rawPublicKey, signatureLine, signNote, verifierKey, verifyNote } from './note.ts';
export { type LogProof, parseLeaf, verifyLogProof } from './verify.ts';
export { type CheckpointOffer, type GossipedCheckpoint, type Heard, type HeardSplitView, type ProveConsistency, type WitnessMemory, Witness, type Witnessed, type WitnessOutcome } from './witness.ts';
