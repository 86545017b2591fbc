// RFC 9162 proofs: transparency-dev's vectors (every happy path accepted, every mutation
// refused), and the proofs the log makes from its stored subtrees checked against roots
// computed from the leaves directly, for every (leaf, size) and (size1, size2) up to 40.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consistencyProof, inclusionProof, leafHash, rootHash, verifyConsistency, verifyInclusion } from '../../ics/tlog/index.ts';
import { mth } from './helpers.ts';

const VECTORS = fileURLToPath(new URL('../vectors/merkle/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : name.endsWith('.json') ? [path] : [];
  });
}

const b64 = (text: string) => Buffer.from(text, 'base64');

describe('tlog: Merkle proofs (RFC 9162)', () => {
  it('transparency-dev inclusion vectors: happy paths accepted, mutations refused', () => {
    const all = files(join(VECTORS, 'inclusion'));
    assert.ok(all.length > 50, `${all.length} vectors found`);
    for (const file of all) {
      const v = JSON.parse(readFileSync(file, 'utf8')) as { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; wantErr: boolean };
      const ok = verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), (v.proof ?? []).map(b64), b64(v.root));
      assert.equal(ok, !v.wantErr, file);
    }
  });

  it('transparency-dev consistency vectors: happy paths accepted, mutations refused', () => {
    const all = files(join(VECTORS, 'consistency'));
    assert.ok(all.length > 50, `${all.length} vectors found`);
    for (const file of all) {
      const v = JSON.parse(readFileSync(file, 'utf8')) as { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; wantErr: boolean };
      const ok = verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), (v.proof ?? []).map(b64));
      assert.equal(ok, !v.wantErr, `${file}: ${JSON.stringify(v)}`);
    }
  });

  it('proofs made from stored complete subtrees verify against roots computed from the leaves, sizes 1 to 40', async () => {
    const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
    // What the log stores: every complete, aligned subtree.
    const stored = async (level: number, index: number) => mth(leaves.slice(index * 2 ** level, (index + 1) * 2 ** level));
    for (let size = 1; size <= leaves.length; size++) {
      const root = mth(leaves.slice(0, size));
      assert.deepEqual(Buffer.from(await rootHash(size, stored)), root);
      for (let m = 0; m < size; m++) {
        const proof = await inclusionProof(m, size, stored);
        assert.ok(verifyInclusion(m, size, leaves[m] as Buffer, proof, root), `inclusion ${m} in ${size}`);
        assert.ok(!verifyInclusion(m, size, leaves[(m + 1) % leaves.length] as Buffer, proof, root) || size === 1, 'another leaf does not verify');
      }
      for (let first = 1; first <= size; first++) {
        const proof = await consistencyProof(first, size, stored);
        assert.ok(verifyConsistency(first, size, mth(leaves.slice(0, first)), root, proof), `consistency ${first} → ${size}`);
        if (first < size) assert.ok(!verifyConsistency(first, size, mth(leaves.slice(1, first + 1)), root, proof), `a rewritten prefix ${first} → ${size} is refused`);
      }
    }
  });
});
