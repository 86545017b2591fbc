// The transparency log (DESIGN §8): per domain, an append-only RFC 9162 Merkle tree whose
// leaves are the record versions the node accepted in that domain, appended by the store's
// derived-structure hook in the same atomic batch as the record — a version is in the log
// exactly when it is in the store. What the log keeps per domain, in its own key space:
//   S ‖ domain ‖ 0            → tree size (6 bytes), then the frontier: the hashes of the
//                                complete subtrees the tree is made of, largest first (one per
//                                bit of the size), so that an append reads this key alone
//   N ‖ domain ‖ 0 ‖ level ‖ i → hash of complete subtree i at that level, once both halves
//                                exist; at level 1 followed by its two leaves' hashes (96
//                                bytes), so that leaves need no key of their own: a leaf not
//                                yet paired is the frontier's last hash
//   V ‖ domain ‖ 0 ‖ seq      → the version's leaf index (6 bytes) and time (8 bytes)
// Roots and proofs are made from the stored complete subtrees (merkle.ts): O(log n) reads.
// A leaf is text a gateway can rebuild from what the node answered (leafText).
import type { DerivedBatch, DerivedReader, DerivedStructure, RecordChange } from '../store/index.ts';
import { LRUCache } from 'lru-cache';
import { IcsError } from '../errors.ts';
import { consistencyProof, HASH_BYTES, inclusionProof, leafHash, nodeHash, rootHash, type SubtreeHashes } from './merkle.ts';

export const TLOG_STRUCTURE = 'tlog';
/** C2SP tlog-tiles: a tile spans 8 levels of the tree and lists up to 256 hashes. */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
const SIZE = 0x53; // 'S'
const NODE = 0x4e; // 'N'
const VERSION = 0x56; // 'V'

/** What a leaf says: this record version was accepted in this domain, as the node's change `seq`, at `time`. */
export interface LogLeaf {
  readonly domain: string;
  readonly id: string;
  /** SHA-256 of the record version, hex (the record's digest). */
  readonly digest: string;
  readonly seq: number;
  readonly time: Date;
}

/** The leaf's bytes, hashed as an RFC 9162 leaf: six lines, the first naming the format. */
export function leafText(leaf: LogLeaf): string {
  return `cm4it-ics-log-leaf/v1\n${leaf.domain}\n${leaf.id}\n${leaf.digest}\n${leaf.seq}\n${leaf.time.getTime()}\n`;
}

function uint48(n: number): Buffer {
  const out = Buffer.alloc(6);
  out.writeUIntBE(n, 0, 6);
  return out;
}

const domainPart = (domain: string) => Buffer.from(`${domain}\0`, 'utf8');
const sizeKey = (domain: string) => Buffer.concat([Uint8Array.of(SIZE), domainPart(domain)]);
const nodeKey = (domain: string, level: number, index: number) => Buffer.concat([Uint8Array.of(NODE), domainPart(domain), Uint8Array.of(level), uint48(index)]);
const versionKey = (domain: string, seq: number) => Buffer.concat([Uint8Array.of(VERSION), domainPart(domain), uint48(seq)]);

const readSize = (value: Uint8Array | undefined) => (value ? Buffer.from(value).readUIntBE(0, 6) : 0);

/** The frontier kept after the size: one hash per set bit of the size, the largest subtree first. */
function readFrontier(value: Uint8Array | undefined): Buffer[] {
  if (!value) return [];
  const bytes = Buffer.from(value);
  const out: Buffer[] = [];
  for (let at = 6; at + HASH_BYTES <= bytes.length; at += HASH_BYTES) out.push(bytes.subarray(at, at + HASH_BYTES));
  return out;
}

/**
 * Committed subtree hashes read lately, by domain, level and index: they never change once
 * written (a complete subtree is final), so proofs — whose upper levels every proof shares —
 * read most of them from memory. ~100 bytes each.
 */
const NODE_CACHE_ENTRIES = 200_000;

/** Where a record version is in a domain's log. */
export interface LeafPosition {
  readonly index: number;
  readonly leaf: LogLeaf;
}

function popcount(n: number): number {
  let count = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) count += x % 2;
  return count;
}

export class TransparencyLog implements DerivedStructure {
  readonly name = TLOG_STRUCTURE;
  #reader: DerivedReader | undefined;
  readonly #nodes = new LRUCache<string, Uint8Array>({ max: NODE_CACHE_ENTRIES });

  attach(reader: DerivedReader): void {
    this.#reader = reader;
  }

  async apply(change: RecordChange, batch: DerivedBatch): Promise<void> {
    const { after, event } = change;
    for (const domain of after.domains) {
      const state = await batch.get(sizeKey(domain));
      const index = readSize(state);
      const frontier = readFrontier(state);
      if (frontier.length !== popcount(index)) throw new IcsError('INTERNAL', `the log of ${domain} has a frontier of ${frontier.length} for ${index} leaves`);
      let hash = leafHash(Buffer.from(leafText({ domain, id: after.id, digest: after.digest, seq: event.seq, time: event.at }), 'utf8'));
      // Each completed pair makes its parent complete: the right edge climbs while it is a right
      // child, its left siblings being the frontier's last hashes.
      for (let level = 0, i = index; i % 2 === 1; level++, i = (i - 1) / 2) {
        const left = frontier.pop() as Buffer;
        const right = hash;
        hash = nodeHash(left, right);
        batch.put(nodeKey(domain, level + 1, (i - 1) / 2), level === 0 ? Buffer.concat([hash, left, right]) : hash);
      }
      frontier.push(hash);
      batch.put(sizeKey(domain), Buffer.concat([uint48(index + 1), ...frontier]));
      const time = Buffer.alloc(8);
      time.writeBigUInt64BE(BigInt(event.at.getTime()));
      batch.put(versionKey(domain, event.seq), Buffer.concat([uint48(index), time]));
    }
  }

  #committed(): DerivedReader {
    if (!this.#reader) throw new IcsError('UNAVAILABLE', 'the transparency log is not attached to a store');
    return this.#reader;
  }

  /** A committed node's stored value (a level-1 node with its leaves), through the cache. */
  async #node(domain: string, level: number, index: number): Promise<Uint8Array | undefined> {
    const key = `${domain}\0${level}\0${index}`;
    const cached = this.#nodes.get(key);
    if (cached) return cached;
    const value = await this.#committed().get(nodeKey(domain, level, index));
    // Read from committed state only: a subtree there is complete and final.
    if (value) this.#nodes.set(key, value);
    return value;
  }

  #subtrees(domain: string): SubtreeHashes {
    return async (level, index) => {
      if (level === 0) {
        // A leaf is in its pair's node; the last one, while unpaired, is the frontier's last hash.
        const pair = await this.#node(domain, 1, Math.floor(index / 2));
        if (pair) return pair.subarray(HASH_BYTES * (1 + (index % 2)), HASH_BYTES * (2 + (index % 2)));
        const state = await this.#committed().get(sizeKey(domain));
        if (readSize(state) === index + 1 && index % 2 === 0) return readFrontier(state).at(-1) as Buffer;
        throw new IcsError('INTERNAL', `the log of ${domain} lacks leaf ${index}`);
      }
      const value = await this.#node(domain, level, index);
      if (!value) throw new IcsError('INTERNAL', `the log of ${domain} lacks node ${level}/${index}`);
      return value.subarray(0, HASH_BYTES);
    };
  }

  /** Leaves in the domain's log now. */
  async size(domain: string): Promise<number> {
    return readSize(await this.#committed().get(sizeKey(domain)));
  }

  async root(domain: string, size: number): Promise<Uint8Array> {
    return rootHash(size, this.#subtrees(domain));
  }

  /** The leaf of the version the node accepted as change `seq` (with `id` and `digest`) in `domain`; undefined when the log does not hold it. */
  async position(domain: string, id: string, digest: string, seq: number): Promise<LeafPosition | undefined> {
    const value = await this.#committed().get(versionKey(domain, seq));
    if (!value) return undefined;
    const bytes = Buffer.from(value);
    return { index: bytes.readUIntBE(0, 6), leaf: { domain, id, digest, seq, time: new Date(Number(bytes.readBigUInt64BE(6))) } };
  }

  inclusion(domain: string, index: number, size: number): Promise<Uint8Array[]> {
    return inclusionProof(index, size, this.#subtrees(domain));
  }

  /**
   * A C2SP tlog-tiles hash tile: `width` consecutive hashes of the tree's level 8·`level`,
   * starting at hash 256·`index`, as the tree of the domain's current size has them (they
   * never change once there). Undefined when the tree does not have that many yet.
   */
  async tile(domain: string, level: number, index: number, width: number): Promise<Buffer | undefined> {
    const height = TILE_HEIGHT * level;
    const available = Math.floor((await this.size(domain)) / 2 ** height) - index * TILE_WIDTH;
    if (!(width >= 1 && width <= TILE_WIDTH) || available < width) return undefined;
    const hashes = this.#subtrees(domain);
    return Buffer.concat(await Promise.all(Array.from({ length: width }, (_, i) => hashes(height, index * TILE_WIDTH + i))));
  }

  consistency(domain: string, from: number, to: number): Promise<Uint8Array[]> {
    return consistencyProof(from, to, this.#subtrees(domain));
  }
}
