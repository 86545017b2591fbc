// The transparency log (DESIGN §8): per domain, an append-only RFC 9162 Merkle tree whose
// leaves are the record versions the node accepted in that domain, appended by the store's
// derived-structure hook in the same atomic batch as the record — a version is in the log
// exactly when it is in the store. What the log keeps per domain, in its own key space:
//   T ‖ domain ‖ 0             → tree size (6 bytes)
//   B ‖ domain ‖ 0 ‖ bundle    → a bundle of up to 16 consecutive leaves, 44 bytes each: the
//                                leaf's hash, its change sequence number (6 bytes) and time
//                                (ms, 6 bytes)
//   U ‖ domain ‖ 0 ‖ level ‖ i → a strip of up to 16 consecutive hashes of tree level 4, 8,
//                                12, … (each the root of a complete strip, or bundle, below)
//   Q ‖ domain ‖ 0 ‖ seq       → the bundle whose first leaf is change `seq`: a version's
//                                leaf is found from its sequence number (they grow together)
// The levels between are hashed from the strip (or bundle) below them when needed, so a proof
// reads one value per four levels of the tree, most of them cached. An append rewrites T and
// the last bundle (and, once in 16, the strip above): the store writes a key once per batch
// however often it is put, and the next append in the batch reads both from the batch. About
// 47 bytes per leaf on disk. A leaf is text a gateway can rebuild from what the node
// answered (leafText).
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
const STRIP = 0x55; // 'U'
const SEQ = 0x51; // 'Q'
/** Hashes per strip (leaves per bundle): 2^STRIP_LEVELS; strips are kept at every STRIP_LEVELS-th level. */
const STRIP_LEVELS = 4;
const STRIP_WIDTH = 2 ** STRIP_LEVELS;
const BUNDLE_LEAVES = STRIP_WIDTH;
/** A bundle entry: leaf hash, seq (6), time in ms (6); an upper strip's entry is its hash alone. */
const ENTRY_BYTES = HASH_BYTES + 12;
const entryBytes = (level: number) => (level === 0 ? ENTRY_BYTES : HASH_BYTES);

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
const stripKey = (domain: string, level: number, index: number) =>
  level === 0 ? bundleKey(domain, index) : Buffer.concat([Uint8Array.of(STRIP), domainPart(domain), Uint8Array.of(level), uint48(index)]);
const seqKey = (domain: string, seq: number) => Buffer.concat([Uint8Array.of(SEQ), domainPart(domain), uint48(seq)]);

const readSize = (value: Uint8Array | undefined) => (value ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUIntBE(0, 6) : 0);

/** Hashes (or leaves) in a strip (or bundle) of tree level `level`. */
const count = (strip: Uint8Array | undefined, level: number) => (strip ? strip.length / entryBytes(level) : 0);
const entries = (bundle: Uint8Array | undefined) => count(bundle, 0);

/** The hash of the complete subtree of `2^height` entries at `first` in a strip of tree level `level` (height ≤ STRIP_LEVELS). */
function stripSubtree(strip: Uint8Array, level: number, height: number, first: number): Uint8Array {
  if (height === 0) {
    const at = first * entryBytes(level);
    return strip.subarray(at, at + HASH_BYTES);
  }
  const half = 2 ** (height - 1);
  return nodeHash(stripSubtree(strip, level, height - 1, first), stripSubtree(strip, level, height - 1, first + half));
}

/** A strip (or bundle) as read, and once complete every subtree hash in it, by height (0: its entries' hashes). */
interface Strip {
  readonly raw: Uint8Array;
  readonly heights?: readonly (readonly Uint8Array[])[];
}

/** All subtree hashes of a complete strip: 16 + 8 + 4 + 2 + 1. */
function completeStrip(raw: Uint8Array, level: number): Strip {
  const heights: Uint8Array[][] = [Array.from({ length: STRIP_WIDTH }, (_, i) => stripSubtree(raw, level, 0, i))];
  for (let h = 1; h <= STRIP_LEVELS; h++) {
    const below = heights[h - 1] as Uint8Array[];
    heights.push(Array.from({ length: below.length / 2 }, (_, i) => nodeHash(below[2 * i] as Uint8Array, below[2 * i + 1] as Uint8Array)));
  }
  return { raw, heights };
}

/**
 * Complete strips and bundles read lately: they never change once complete, so proofs —
 * whose upper levels every proof shares — take most of them from memory. A strip is kept
 * with its subtree hashes (~1 KiB), so that those levels hash nothing; a bundle (0.7 KiB)
 * is not: a random leaf's bundle is seldom asked twice, and only its path is hashed.
 */
const STRIP_CACHE_ENTRIES = 16_384;
const BUNDLE_CACHE_ENTRIES = 16_384;

/** Where a record version is in a domain's log. */
export interface LeafPosition {
  readonly index: number;
  readonly leaf: LogLeaf;
}

export class TransparencyLog implements DerivedStructure {
  readonly name = TLOG_STRUCTURE;
  #reader: DerivedReader | undefined;
  readonly #strips = new LRUCache<string, Strip>({ max: STRIP_CACHE_ENTRIES });
  readonly #bundles = new LRUCache<string, Strip>({ max: BUNDLE_CACHE_ENTRIES });
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
    const size = readSize(await batch.get(treeKey(domain)));
    const leaf = Buffer.allocUnsafe(ENTRY_BYTES);
    leafHash(Buffer.from(leafText({ domain, id, digest, seq, time: at }), 'utf8')).copy(leaf, 0);
    leaf.writeUIntBE(seq, HASH_BYTES, 6);
    leaf.writeUIntBE(at.getTime(), HASH_BYTES + 6, 6);
    if (size % BUNDLE_LEAVES === 0) batch.put(seqKey(domain, seq), uint48(size / BUNDLE_LEAVES));
    // The leaf joins its bundle; a bundle (or strip) it completes gives its root to the strip
    // above, and so on up.
    let entry: Uint8Array = leaf;
    for (let level = 0, index = size; ; level += STRIP_LEVELS, index = Math.floor(index / STRIP_WIDTH)) {
      const number = Math.floor(index / STRIP_WIDTH);
      const held = index % STRIP_WIDTH;
      // A new strip is not read: it does not exist yet.
      const last = held > 0 ? await batch.get(stripKey(domain, level, number)) : undefined;
      if (count(last, level) !== held) throw new IcsError('INTERNAL', `the log of ${domain} has ${count(last, level)} entries in strip ${level}/${number}, not ${held}`);
      const strip = Buffer.allocUnsafe((held + 1) * entryBytes(level));
      if (last) strip.set(last, 0);
      strip.set(entry, held * entryBytes(level));
      batch.put(stripKey(domain, level, number), strip);
      if (held + 1 < STRIP_WIDTH) break;
      entry = stripSubtree(strip, level, STRIP_LEVELS, 0);
    }
    batch.put(treeKey(domain), uint48(size + 1));
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

  /** A committed strip (level 0: a bundle); complete ones through the cache, with their subtree hashes. */
  async #strip(domain: string, level: number, index: number): Promise<Strip | undefined> {
    const key = `${domain}\0${level}\0${index}`;
    const cache = level === 0 ? this.#bundles : this.#strips;
    const cached = cache.get(key);
    if (cached) return cached;
    const raw = await this.#read(stripKey(domain, level, index));
    if (!raw) return undefined;
    if (count(raw, level) < STRIP_WIDTH) return { raw };
    const strip = level === 0 ? { raw } : completeStrip(raw, level);
    cache.set(key, strip);
    return strip;
  }

  async #bundle(domain: string, index: number): Promise<Uint8Array | undefined> {
    return (await this.#strip(domain, 0, index))?.raw;
  }

  #subtrees(domain: string): SubtreeHashes {
    return async (level, index) => {
      // From the strip of the nearest kept level at or below it.
      const height = level % STRIP_LEVELS;
      const kept = level - height;
      const first = index * 2 ** height;
      const strip = await this.#strip(domain, kept, Math.floor(first / STRIP_WIDTH));
      const offset = first % STRIP_WIDTH;
      if (strip?.heights) return strip.heights[height]?.[offset / 2 ** height] as Uint8Array;
      if (count(strip?.raw, kept) < offset + 2 ** height) throw new IcsError('INTERNAL', `the log of ${domain} lacks node ${level}/${index}`);
      return stripSubtree((strip as Strip).raw, kept, height, offset);
    };
  }

  /** Leaves in the domain's log now. */
  async size(domain: string): Promise<number> {
    return readSize(await this.#committed().get(treeKey(domain)));
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
