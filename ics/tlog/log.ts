// The transparency log (DESIGN §8): per domain, an append-only RFC 9162 Merkle tree whose
// leaves are the record versions the node accepted in that domain, appended by the store's
// derived-structure hook in the same atomic batch as the record — a version is in the log
// exactly when it is in the store. What the log keeps per domain, in its own key space:
//   T ‖ domain ‖ 0             → tree size (6 bytes), then the frontier above the complete
//                                bundles: the hashes of the complete subtrees of bundles the
//                                tree is made of, largest first
//   B ‖ domain ‖ 0 ‖ bundle    → a bundle of up to 16 consecutive leaves, 44 bytes each: the
//                                leaf's hash, its change sequence number (6 bytes) and time
//                                (ms, 6 bytes)
// An append rewrites T and the last bundle: the store writes a key once per batch however
// often it is put, and the next append in the batch reads both from the batch.
//   H ‖ domain ‖ 0 ‖ level ‖ i → hash of complete subtree i at a level ≥ 4 (a bundle's root
//                                and above); the levels below are hashed from the bundle
//   Q ‖ domain ‖ 0 ‖ seq       → the bundle whose first leaf is change `seq`: a version's
//                                leaf is found from its sequence number (they grow together)
// About 48 bytes per leaf on disk and one batch entry per append (a sixteenth more for the
// rest). Roots and proofs are made from the stored complete subtrees (merkle.ts): O(log n)
// reads, cached (complete subtrees and bundles never change). A leaf is text a gateway can
// rebuild from what the node answered (leafText).
import type { ChangeEvent, DerivedBatch, DerivedReader, DerivedStructure, RecordChange } from '../store/index.ts';
import { LRUCache } from 'lru-cache';
import { IcsError } from '../errors.ts';
import { consistencyProof, HASH_BYTES, inclusionProof, leafHash, nodeHash, rootHash, type SubtreeHashes } from './merkle.ts';

export const TLOG_STRUCTURE = 'tlog';
/** C2SP tlog-tiles: a tile spans 8 levels of the tree and lists up to 256 hashes. */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
const BUNDLE = 0x42; // 'B'
const TREE = 0x54; // 'T'
const HASH = 0x48; // 'H'
const SEQ = 0x51; // 'Q'
/** Leaves per bundle: 2^BUNDLE_LEVEL. */
const BUNDLE_LEVEL = 4;
const BUNDLE_LEAVES = 2 ** BUNDLE_LEVEL;
/** A bundle entry: leaf hash, seq (6), time in ms (6). */
const ENTRY_BYTES = HASH_BYTES + 12;
const FULL_BUNDLE_BYTES = BUNDLE_LEAVES * ENTRY_BYTES;

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
const treeKey = (domain: string) => Buffer.concat([Uint8Array.of(TREE), domainPart(domain)]);
const bundleKey = (domain: string, bundle: number) => Buffer.concat([Uint8Array.of(BUNDLE), domainPart(domain), uint48(bundle)]);
const hashKey = (domain: string, level: number, index: number) => Buffer.concat([Uint8Array.of(HASH), domainPart(domain), Uint8Array.of(level), uint48(index)]);
const seqKey = (domain: string, seq: number) => Buffer.concat([Uint8Array.of(SEQ), domainPart(domain), uint48(seq)]);

/** The tree's size, and the frontier above its complete bundles: one hash per set bit of their count, the largest subtree first. */
function readTree(value: Uint8Array | undefined): { size: number; frontier: Uint8Array[] } {
  if (!value) return { size: 0, frontier: [] };
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const frontier: Uint8Array[] = [];
  for (let at = 6; at + HASH_BYTES <= bytes.length; at += HASH_BYTES) frontier.push(bytes.subarray(at, at + HASH_BYTES));
  return { size: bytes.readUIntBE(0, 6), frontier };
}

const entries = (bundle: Uint8Array | undefined) => (bundle ? bundle.length / ENTRY_BYTES : 0);
const entryHash = (bundle: Uint8Array, i: number) => bundle.subarray(i * ENTRY_BYTES, i * ENTRY_BYTES + HASH_BYTES);

/** The hash of the complete subtree of `2^level` leaves at `first` in a bundle (level ≤ BUNDLE_LEVEL). */
function bundleSubtree(bundle: Uint8Array, level: number, first: number): Uint8Array {
  if (level === 0) return entryHash(bundle, first);
  const half = 2 ** (level - 1);
  return nodeHash(bundleSubtree(bundle, level - 1, first), bundleSubtree(bundle, level - 1, first + half));
}

/**
 * Complete subtrees and complete bundles read lately: they never change once written, so
 * proofs — whose upper levels every proof shares — read most of them from memory.
 */
const HASH_CACHE_ENTRIES = 200_000;
const BUNDLE_CACHE_ENTRIES = 20_000;

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
  readonly #hashes = new LRUCache<string, Uint8Array>({ max: HASH_CACHE_ENTRIES });
  readonly #bundles = new LRUCache<string, Uint8Array>({ max: BUNDLE_CACHE_ENTRIES });
  /** Committed keys asked for in this turn, by latin1 key: read together (#read). */
  #asked = new Map<string, { key: Uint8Array; read: Promise<Uint8Array | undefined>; settle: (value: Promise<Uint8Array | undefined>) => void }>();

  attach(reader: DerivedReader): void {
    this.#reader = reader;
  }

  async apply(change: RecordChange, batch: DerivedBatch): Promise<void> {
    const { after, event } = change;
    for (const domain of after.domains) await this.#append(batch, domain, after.id, after.digest, event.seq, event.at);
  }

  /** A version written before the log was added to the store: its leaves, from its event (the store replays them once, in order, before any write). */
  async replay(event: ChangeEvent, batch: DerivedBatch): Promise<void> {
    for (const domain of event.domains) await this.#append(batch, domain, event.id, event.digest, event.seq, event.at);
  }

  async #append(batch: DerivedBatch, domain: string, id: string, digest: string, seq: number, at: Date): Promise<void> {
    const tree = readTree(await batch.get(treeKey(domain)));
    const number = Math.floor(tree.size / BUNDLE_LEAVES);
    if (tree.frontier.length !== popcount(number)) throw new IcsError('INTERNAL', `the log of ${domain} has a frontier of ${tree.frontier.length} for ${number} bundles`);
    const held = tree.size % BUNDLE_LEAVES;
    // A new bundle is not read: it does not exist yet.
    const last = held > 0 ? await batch.get(bundleKey(domain, number)) : undefined;
    if (entries(last) !== held) throw new IcsError('INTERNAL', `the log of ${domain} has ${entries(last)} leaves in bundle ${number}, not ${held}`);
    const bundle = Buffer.allocUnsafe((held + 1) * ENTRY_BYTES);
    if (last) bundle.set(last, 0);
    const offset = held * ENTRY_BYTES;
    leafHash(Buffer.from(leafText({ domain, id, digest, seq, time: at }), 'utf8')).copy(bundle, offset);
    bundle.writeUIntBE(seq, offset + HASH_BYTES, 6);
    bundle.writeUIntBE(at.getTime(), offset + HASH_BYTES + 6, 6);
    batch.put(bundleKey(domain, number), bundle);
    if (held === 0) batch.put(seqKey(domain, seq), uint48(number));
    if (held + 1 === BUNDLE_LEAVES) {
      // The bundle is complete: its root joins the tree, and each completed pair above makes
      // its parent complete — the right edge climbs while it is a right child, its left
      // siblings being the frontier's last hashes.
      let hash = bundleSubtree(bundle, BUNDLE_LEVEL, 0);
      batch.put(hashKey(domain, BUNDLE_LEVEL, number), hash);
      for (let level = BUNDLE_LEVEL, i = number; i % 2 === 1; level++, i = (i - 1) / 2) {
        hash = nodeHash(tree.frontier.pop() as Uint8Array, hash);
        batch.put(hashKey(domain, level + 1, (i - 1) / 2), hash);
      }
      tree.frontier.push(hash);
    }
    batch.put(treeKey(domain), Buffer.concat([uint48(tree.size + 1), ...tree.frontier]));
  }

  #committed(): DerivedReader {
    if (!this.#reader) throw new IcsError('UNAVAILABLE', 'the transparency log is not attached to a store');
    return this.#reader;
  }

  /**
   * A committed value, read with the others asked for in the same turn: a proof asks for all
   * its hashes at once, and one read of them all waits once for the database, not once per
   * hash behind the others.
   */
  #read(key: Uint8Array): Promise<Uint8Array | undefined> {
    const name = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    const asked = this.#asked.get(name);
    if (asked) return asked.read;
    if (this.#asked.size === 0) queueMicrotask(() => this.#readAsked());
    let settle!: (value: Promise<Uint8Array | undefined>) => void;
    const read = new Promise<Uint8Array | undefined>((resolve) => {
      settle = resolve;
    });
    this.#asked.set(name, { key, read, settle });
    return read;
  }

  #readAsked(): void {
    const asked = [...this.#asked.values()];
    this.#asked = new Map();
    const values = Promise.resolve().then(() => this.#committed().getMany(asked.map((a) => a.key)));
    asked.forEach((a, i) => a.settle(values.then((all) => all[i])));
  }

  /** A committed bundle; complete ones through the cache. */
  async #bundle(domain: string, bundle: number): Promise<Uint8Array | undefined> {
    const key = `${domain}\0${bundle}`;
    const cached = this.#bundles.get(key);
    if (cached) return cached;
    const value = await this.#read(bundleKey(domain, bundle));
    if (value?.length === FULL_BUNDLE_BYTES) this.#bundles.set(key, value);
    return value;
  }

  /** A committed complete subtree's hash (level ≥ BUNDLE_LEVEL), through the cache. */
  async #hash(domain: string, level: number, index: number): Promise<Uint8Array | undefined> {
    const key = `${domain}\0${level}\0${index}`;
    const cached = this.#hashes.get(key);
    if (cached) return cached;
    const value = await this.#read(hashKey(domain, level, index));
    // Read from committed state only: a subtree there is complete and final.
    if (value) this.#hashes.set(key, value);
    return value;
  }

  #subtrees(domain: string): SubtreeHashes {
    return async (level, index) => {
      if (level >= BUNDLE_LEVEL) {
        const value = await this.#hash(domain, level, index);
        if (!value) throw new IcsError('INTERNAL', `the log of ${domain} lacks node ${level}/${index}`);
        return value;
      }
      // Below a bundle's root: hashed from the bundle's leaves.
      const first = index * 2 ** level;
      const bundle = await this.#bundle(domain, Math.floor(first / BUNDLE_LEAVES));
      const offset = first % BUNDLE_LEAVES;
      if (entries(bundle) < offset + 2 ** level) throw new IcsError('INTERNAL', `the log of ${domain} lacks node ${level}/${index}`);
      return bundleSubtree(bundle as Uint8Array, level, offset);
    };
  }

  /** Leaves in the domain's log now. */
  async size(domain: string): Promise<number> {
    return readTree(await this.#committed().get(treeKey(domain))).size;
  }

  async root(domain: string, size: number): Promise<Uint8Array> {
    return rootHash(size, this.#subtrees(domain));
  }

  /** The leaf of the version the node accepted as change `seq` (with `id` and `digest`) in `domain`; undefined when the log does not hold it. */
  async position(domain: string, id: string, digest: string, seq: number): Promise<LeafPosition | undefined> {
    // The bundle that starts at or before `seq`: the last one whose first leaf is not later.
    const [found] = await this.#committed().range({ gte: seqKey(domain, 0), lt: seqKey(domain, seq + 1), limit: 1, reverse: true });
    if (!found) return undefined;
    const number = Buffer.from(found[1]).readUIntBE(0, 6);
    const bundle = await this.#bundle(domain, number);
    if (!bundle) return undefined;
    const bytes = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
    for (let i = 0; i < entries(bundle); i++) {
      const at = i * ENTRY_BYTES + HASH_BYTES;
      if (bytes.readUIntBE(at, 6) !== seq) continue;
      return { index: number * BUNDLE_LEAVES + i, leaf: { domain, id, digest, seq, time: new Date(bytes.readUIntBE(at + 6, 6)) } };
    }
    return undefined;
  }

  /**
   * The change sequence numbers and times of leaves [start, start + count) — with the records'
   * ids and digests (from the store's event log) what C2SP entry bundles serve. Undefined when
   * the log does not have them all yet.
   */
  async leaves(domain: string, start: number, count: number): Promise<Array<{ seq: number; time: Date }> | undefined> {
    if (!(start >= 0 && count >= 1) || start + count > (await this.size(domain))) return undefined;
    const out: Array<{ seq: number; time: Date }> = [];
    for (let b = Math.floor(start / BUNDLE_LEAVES); out.length < count; b++) {
      const bundle = await this.#bundle(domain, b);
      if (!bundle) throw new IcsError('INTERNAL', `the log of ${domain} lacks bundle ${b}`);
      const bytes = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
      for (let i = Math.max(0, start - b * BUNDLE_LEAVES); i < entries(bundle) && out.length < count; i++) {
        const at = i * ENTRY_BYTES + HASH_BYTES;
        out.push({ seq: bytes.readUIntBE(at, 6), time: new Date(bytes.readUIntBE(at + 6, 6)) });
      }
    }
    return out;
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
