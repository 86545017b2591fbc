// Derived structures in the LevelDB store: each keeps its entries under a key-space prefix of
// its own (keys.ts: the sync set in 07, where it has always been; others under 0a name 00),
// its batch entries join the group's one LevelDB batch once their write is accepted, and
// its reader is a range over its prefix.
import { IcsError } from '../../errors.ts';
import { normaliseLimit } from '../change.ts';
import type { ChangeEvent } from '../model.ts';
import { applyDerived, type DerivedBatch, type DerivedReader, type DerivedStructure, prefixEnd, type RecordChange } from '../derived.ts';
import { derivedPrefix } from './keys.ts';
import type { BatchOp } from './ops.ts';
import { readAll, type SteppedIterator } from './read.ts';

/** What the derived entries are read from: the database, by full key or by range. */
export interface DerivedSource {
  get(key: Buffer): Promise<Buffer | undefined>;
  getMany(keys: Buffer[]): Promise<Array<Buffer | undefined>>;
  /** A read on the calling thread (classic-level ≥ 3): for the few keys a group reads, quicker than a trip to the database's threads. */
  getSync?(key: Buffer): Buffer | undefined;
  iterator(options: { gte: Buffer; lt: Buffer; limit: number; reverse: boolean }): SteppedIterator<[Buffer, Buffer]>;
}

/** A structure with its key-space prefix. */
export interface DerivedSpace {
  readonly structure: DerivedStructure;
  readonly prefix: Buffer;
}

export function derivedSpaces(structures: readonly DerivedStructure[]): DerivedSpace[] {
  return structures.map((structure) => ({ structure, prefix: derivedPrefix(structure.name) }));
}

const toBuffer = (bytes: Uint8Array) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/** `prefix` + `key` in one allocation. */
function prefixed(prefix: Buffer, key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + key.length);
  prefix.copy(out, 0);
  out.set(key, prefix.length);
  return out;
}

/** The value the last of `ops` for `key` leaves, null when none of them touches it. */
function lastFor(ops: readonly BatchOp[], key: Buffer): Buffer | undefined | null {
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i] as BatchOp;
    if (op.key.equals(key)) return op.type === 'put' ? op.value : undefined;
  }
  return null;
}

async function readCommitted(source: DerivedSource, key: Buffer): Promise<Buffer | undefined> {
  try {
    return source.getSync ? source.getSync(key) : await source.get(key);
  } catch (cause) {
    throw new IcsError('UNAVAILABLE', 'store read failed', { cause });
  }
}

/** One commit group's derived entries: each write's kept apart until it is accepted. */
export class DerivedGroup {
  readonly #source: DerivedSource;
  readonly #spaces: readonly DerivedSpace[];
  readonly #structures: readonly DerivedStructure[];
  /** Accepted entries of the group so far, per structure: what `get` sees before the database. */
  readonly #accepted: BatchOp[][];
  /** Where in the group's batch each derived key was last written (latin1 of the key). */
  readonly #slots = new Map<string, number>();
  /**
   * Committed values read for this group, by latin1 key: nothing else writes while a group is
   * built, so a key every write reads (a log's tree state) is read from the database once.
   */
  readonly #committed = new Map<string, Promise<Buffer | undefined>>();

  constructor(source: DerivedSource, spaces: readonly DerivedSpace[]) {
    this.#source = source;
    this.#spaces = spaces;
    this.#structures = spaces.map((s) => s.structure);
    this.#accepted = spaces.map(() => []);
  }

  /** Every structure's entries for one change, per structure; a promise only when a structure is asynchronous. */
  collect(change: RecordChange): BatchOp[][] | Promise<BatchOp[][]> {
    const mine: BatchOp[][] = this.#spaces.map(() => []);
    const waiting = applyDerived(this.#structures, change, (i) => this.#batch(i, mine[i] as BatchOp[]));
    return waiting ? waiting.then(() => mine) : mine;
  }

  /** What structure `i` writes for an event from before it was added (DerivedStructure.replay). */
  async replayed(i: number, event: ChangeEvent): Promise<BatchOp[]> {
    const structure = this.#structures[i] as DerivedStructure;
    const mine: BatchOp[] = [];
    try {
      await structure.replay?.(event, this.#batch(i, mine));
    } catch (cause) {
      throw new IcsError('INTERNAL', `derived structure ${structure.name} cannot replay change ${event.seq}`, { cause });
    }
    return mine;
  }

  /**
   * Joins an accepted write's entries to the group's batch. A key written again replaces its
   * earlier entry in place: a structure that rewrites one key per change (a log's last bundle)
   * costs the batch one entry per group, and the result is the same (the last write wins; no
   * other entry touches that key).
   */
  accept(mine: readonly BatchOp[][], ops: BatchOp[]): void {
    mine.forEach((entries, i) => {
      const accepted = this.#accepted[i] as BatchOp[];
      for (const op of entries) {
        const key = op.key.toString('latin1');
        const slot = this.#slots.get(key);
        if (slot === undefined) {
          this.#slots.set(key, ops.length);
          ops.push(op);
        } else {
          ops[slot] = op;
        }
        accepted.push(op);
      }
    });
  }

  #batch(i: number, mine: BatchOp[]): DerivedBatch {
    const { prefix } = this.#spaces[i] as DerivedSpace;
    const accepted = this.#accepted[i] as BatchOp[];
    const source = this.#source;
    const committed = this.#committed;
    return {
      async get(key) {
        const full = prefixed(prefix, key);
        const pending = lastFor(mine, full) ?? lastFor(accepted, full);
        if (pending !== null) return pending;
        const name = full.toString('latin1');
        let read = committed.get(name);
        if (!read) {
          read = readCommitted(source, full);
          committed.set(name, read);
        }
        return read;
      },
      put(key, value) {
        mine.push({ type: 'put', key: prefixed(prefix, key), value: toBuffer(value) });
      },
      del(key) {
        mine.push({ type: 'del', key: prefixed(prefix, key) });
      },
    };
  }
}

/** A structure's committed entries; `checkOpen` runs before every read (readers handed out fail once the store closes). */
export function derivedReader(source: DerivedSource, prefix: Buffer, checkOpen: () => void = () => {}): DerivedReader {
  const end = prefixEnd(prefix) as Buffer;
  return {
    async get(key) {
      checkOpen();
      return source.get(prefixed(prefix, key));
    },
    async getMany(keys) {
      checkOpen();
      return source.getMany(keys.map((key) => prefixed(prefix, key)));
    },
    async range({ gte, lt, limit, reverse = false }) {
      checkOpen();
      const lower = gte ? prefixed(prefix, gte) : prefix;
      const upper = lt ? prefixed(prefix, lt) : end;
      const n = limit === undefined ? Infinity : normaliseLimit(limit);
      if (n === 0 || Buffer.compare(lower, upper) >= 0) return [];
      const entries = await readAll(source.iterator({ gte: lower, lt: upper, limit: n, reverse }));
      return entries.map(([key, value]) => [key.subarray(prefix.length), value] as const);
    },
  };
}
