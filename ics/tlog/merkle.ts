// RFC 9162 §2.1 Merkle trees: leaf and node hashing, inclusion and consistency proofs (made
// from a tree's stored subtree hashes, and checked by anyone who holds a root). No I/O: the
// tree's hashes come from `SubtreeHashes`, which the log reads from the store. Checked against
// transparency-dev's proof vectors (test/tlog/merkle.test.ts): every happy path accepted,
// every mutated proof refused.
import { hash } from 'node:crypto';
import { IcsError } from '../errors.ts';

export const HASH_BYTES = 32;

// One-shot hashing: a Hash object per call costs more than the hash of these few bytes.
const sha256 = (bytes: Uint8Array): Buffer => hash('sha256', bytes, 'buffer') as unknown as Buffer;

export function leafHash(leaf: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(1 + leaf.length);
  input[0] = 0;
  input.set(leaf, 1);
  return sha256(input);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(1 + left.length + right.length);
  input[0] = 1;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return sha256(input);
}

/** SHA-256 of nothing: the root of the empty tree. */
export const EMPTY_ROOT = sha256(new Uint8Array(0));

/** The largest power of two below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The hash of the complete subtree holding leaves [index·2^level, (index+1)·2^level): what a
 * log stores for every complete subtree as it grows.
 */
export type SubtreeHashes = (level: number, index: number) => Promise<Uint8Array>;

/** MTH of leaves [start, end) (RFC 9162 §2.1.1), from the stored complete subtrees it is made of. */
export async function rangeHash(start: number, end: number, stored: SubtreeHashes): Promise<Uint8Array> {
  const n = end - start;
  if (n <= 0) return EMPTY_ROOT;
  // A complete, aligned subtree is stored as such.
  if ((n & (n - 1)) === 0 && start % n === 0) return stored(Math.log2(n), start / n);
  const k = split(n);
  // Both halves at once: the reads of a right edge's subtrees overlap instead of queueing.
  const [left, right] = await Promise.all([rangeHash(start, start + k, stored), rangeHash(start + k, end, stored)]);
  return nodeHash(left, right);
}

/** The root of a tree of `size` leaves. */
export function rootHash(size: number, stored: SubtreeHashes): Promise<Uint8Array> {
  return rangeHash(0, size, stored);
}

/** RFC 9162 §2.1.3.1 PATH(m, D[n]) for leaf `m` of a tree of `size` leaves, bottom first. */
export async function inclusionProof(m: number, size: number, stored: SubtreeHashes): Promise<Uint8Array[]> {
  if (!(m >= 0 && m < size)) throw new IcsError('BAD_REQUEST', `leaf ${m} is not in a tree of ${size}`);
  const path: Uint8Array[] = [];
  let [start, end] = [0, size];
  const siblings: Array<Promise<Uint8Array>> = [];
  while (end - start > 1) {
    const k = split(end - start);
    if (m - start < k) {
      siblings.push(rangeHash(start + k, end, stored));
      end = start + k;
    } else {
      siblings.push(rangeHash(start, start + k, stored));
      start += k;
    }
  }
  // Found top-down; the proof lists them bottom-up.
  for (const sibling of (await Promise.all(siblings)).reverse()) path.push(sibling);
  return path;
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]): consistency of the tree of `m` leaves with the tree of `n`. */
export async function consistencyProof(m: number, n: number, stored: SubtreeHashes): Promise<Uint8Array[]> {
  if (!(m >= 0 && m <= n)) throw new IcsError('BAD_REQUEST', `no consistency proof from ${m} to ${n} leaves`);
  if (m === 0 || m === n) return [];
  const parts: Array<Promise<Uint8Array>> = [];
  // SUBPROOF(m, D[start:end], b), unrolled: the parts are collected top-down, listed bottom-up.
  let [start, end, b] = [0, n, true];
  for (;;) {
    const size = end - start;
    if (m - start === size) {
      if (!b) parts.push(rangeHash(start, end, stored));
      break;
    }
    const k = split(size);
    if (m - start <= k) {
      parts.push(rangeHash(start + k, end, stored));
      end = start + k;
    } else {
      parts.push(rangeHash(start, start + k, stored));
      start += k;
      b = false;
    }
  }
  return (await Promise.all(parts)).reverse();
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;
const isHash = (h: Uint8Array) => h.length === HASH_BYTES;

/**
 * The walk both proof checks make (RFC 9162 §2.1.3.2 and §2.1.4.2) up the tree from node `fn`
 * of a level whose last node is `sn`: each proof hash is a left or a right sibling. False when
 * the proof does not end at the root (too long, or too short).
 */
function walk(fnStart: number, snStart: number, proof: readonly Uint8Array[], step: (hash: Uint8Array, left: boolean) => void): boolean {
  let fn = fnStart;
  let sn = snStart;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      step(p, true);
      // A last node with no right sibling climbs levels with nothing to hash.
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      step(p, false);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0;
}

/** The root an inclusion proof leads to (RFC 9162 §2.1.3.2); undefined when the proof cannot be one for this leaf and size. */
export function rootFromInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Uint8Array | undefined {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size) || !isHash(leaf) || !proof.every(isHash)) return undefined;
  let r: Uint8Array = leaf;
  const ended = walk(index, size - 1, proof, (p, left) => {
    r = left ? nodeHash(p, r) : nodeHash(r, p);
  });
  return ended ? r : undefined;
}

/** Whether `proof` shows leaf hash `leaf` at `index` in the tree of `size` leaves whose root is `root`. */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  const computed = rootFromInclusion(index, size, leaf, proof);
  return computed !== undefined && isHash(root) && equal(computed, root);
}

/** Whether `proof` shows the tree of `size1` leaves with `root1` to be a prefix of the tree of `size2` with `root2` (RFC 9162 §2.1.4.2). */
export function verifyConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!(Number.isSafeInteger(size1) && Number.isSafeInteger(size2)) || size1 < 0 || size2 < size1) return false;
  if (!proof.every(isHash)) return false;
  // From the empty tree, as transparency-dev's vectors have it: nothing to prove, so no proof is accepted.
  if (size1 === 0) return false;
  if (size1 === size2) return proof.length === 0 && equal(root1, root2);
  if (proof.length === 0 || !isHash(root1) || !isHash(root2)) return false;
  const path = (size1 & (size1 - 1)) === 0 ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Uint8Array;
  let sr = path[0] as Uint8Array;
  const ended = walk(fn, sn, path.slice(1), (c, left) => {
    if (left) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
    } else {
      sr = nodeHash(sr, c);
    }
  });
  return ended && equal(fr, root1) && equal(sr, root2);
}
