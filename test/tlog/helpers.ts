// Shared by the log tests: the Merkle tree hash of leaf hashes computed the RFC's recursive
// way, from scratch (RFC 9162 §2.1.1), to check what the log computes from stored subtrees.
import { nodeHash } from '../../ics/tlog/index.ts';

export function mth(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0] as Buffer;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
