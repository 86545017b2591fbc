// Derived structures in the PostgreSQL store: every structure's entries are rows of one table,
// (structure, key) → value, bytea keys in byte order. A commit group collects each write's
// entries apart and joins them once the write is accepted (as the LevelDB store does); the
// group's final entries are then written in its transaction with two statements per structure.
import type { Pool, PoolClient } from 'pg';
import { IcsError } from '../../errors.ts';
import { normaliseLimit } from '../change.ts';
import { applyDerived, type DerivedBatch, type DerivedReader, type DerivedStructure, type RecordChange } from '../derived.ts';
import type { ChangeEvent } from '../model.ts';

/** One entry a write puts (value) or deletes (undefined). */
export interface DerivedOp {
  readonly key: Buffer;
  readonly value: Buffer | undefined;
}

const toBuffer = (bytes: Uint8Array) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

function lastFor(ops: readonly DerivedOp[], key: Uint8Array): Buffer | undefined | null {
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i] as DerivedOp;
    if (Buffer.compare(op.key, key) === 0) return op.value;
  }
  return null;
}

/** One commit group's derived entries, read through its transaction (which holds the writers' lock). */
export class DerivedGroup {
  readonly #client: PoolClient;
  readonly #structures: readonly DerivedStructure[];
  /** Per structure, the entries of the group's accepted writes by latin1 key: the last one wins. */
  readonly #accepted: Array<Map<string, DerivedOp>>;
  /** Committed values read for this group: nothing else writes while the group holds the lock. */
  readonly #committed = new Map<string, Promise<Buffer | undefined>>();

  constructor(client: PoolClient, structures: readonly DerivedStructure[]) {
    this.#client = client;
    this.#structures = structures;
    this.#accepted = structures.map(() => new Map());
  }

  /** Every structure's entries for one change; a promise only when a structure is asynchronous. */
  collect(change: RecordChange): DerivedOp[][] | Promise<DerivedOp[][]> {
    const mine: DerivedOp[][] = this.#structures.map(() => []);
    const waiting = applyDerived(this.#structures, change, (i) => this.#batch(i, mine[i] as DerivedOp[]));
    return waiting ? waiting.then(() => mine) : mine;
  }

  /** What structure `i` writes for an event from before it was added (DerivedStructure.replay). */
  async replayed(i: number, event: ChangeEvent): Promise<DerivedOp[][]> {
    const structure = this.#structures[i] as DerivedStructure;
    const mine: DerivedOp[][] = this.#structures.map(() => []);
    try {
      await structure.replay?.(event, this.#batch(i, mine[i] as DerivedOp[]));
    } catch (cause) {
      throw new IcsError('INTERNAL', `derived structure ${structure.name} cannot replay change ${event.seq}`, { cause });
    }
    return mine;
  }

  /** Joins an accepted write's entries to the group. */
  accept(mine: readonly DerivedOp[][]): void {
    mine.forEach((ops, i) => {
      const accepted = this.#accepted[i] as Map<string, DerivedOp>;
      for (const op of ops) accepted.set(op.key.toString('latin1'), op);
    });
  }

  /** Writes the group's entries in its transaction: per structure, its deletions, then its puts. */
  async write(): Promise<void> {
    for (let i = 0; i < this.#structures.length; i++) {
      const ops = [...(this.#accepted[i] as Map<string, DerivedOp>).values()];
      if (ops.length === 0) continue;
      const name = (this.#structures[i] as DerivedStructure).name;
      const deleted = ops.filter((op) => op.value === undefined).map((op) => op.key);
      const put = ops.filter((op) => op.value !== undefined);
      if (deleted.length > 0) await this.#client.query('DELETE FROM ics_derived WHERE structure = $1 AND key = ANY($2::bytea[])', [name, deleted]);
      if (put.length > 0) {
        await this.#client.query(
          `INSERT INTO ics_derived (structure, key, value) SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS t(k, v)
           ON CONFLICT (structure, key) DO UPDATE SET value = excluded.value`,
          [name, put.map((op) => op.key), put.map((op) => op.value)],
        );
      }
    }
  }

  #batch(i: number, mine: DerivedOp[]): DerivedBatch {
    const name = (this.#structures[i] as DerivedStructure).name;
    const accepted = this.#accepted[i] as Map<string, DerivedOp>;
    const committed = this.#committed;
    const client = this.#client;
    return {
      async get(key) {
        const own = lastFor(mine, key);
        if (own !== null) return own;
        const id = toBuffer(key).toString('latin1');
        const groupOp = accepted.get(id);
        if (groupOp) return groupOp.value;
        const slot = `${name}\0${id}`;
        let read = committed.get(slot);
        if (!read) {
          read = client
            .query<{ value: Buffer }>('SELECT value FROM ics_derived WHERE structure = $1 AND key = $2', [name, toBuffer(key)])
            .then(({ rows }) => rows[0]?.value, (cause: unknown) => Promise.reject(new IcsError('UNAVAILABLE', 'store read failed', { cause })));
          committed.set(slot, read);
        }
        return read;
      },
      put(key, value) {
        mine.push({ key: Buffer.from(key), value: Buffer.from(value) });
      },
      del(key) {
        mine.push({ key: Buffer.from(key), value: undefined });
      },
    };
  }
}

/** Runs a read, UNAVAILABLE when it fails (the database went away, or the store closed under it). */
export async function readRows<T>(run: () => Promise<{ rows: T[] }>): Promise<T[]> {
  try {
    return (await run()).rows;
  } catch (cause) {
    throw new IcsError('UNAVAILABLE', 'store read failed', { cause });
  }
}

/** A structure's committed entries, from the primary; `checkOpen` runs before every read. */
export function derivedReader(pool: Pool, name: string, checkOpen: () => void = () => {}): DerivedReader {
  return {
    async get(key) {
      checkOpen();
      const rows = await readRows(() => pool.query<{ value: Buffer }>('SELECT value FROM ics_derived WHERE structure = $1 AND key = $2', [name, toBuffer(key)]));
      return rows[0]?.value;
    },
    async getMany(keys) {
      checkOpen();
      if (keys.length === 0) return [];
      const rows = await readRows(() =>
        pool.query<{ key: Buffer; value: Buffer }>('SELECT key, value FROM ics_derived WHERE structure = $1 AND key = ANY($2::bytea[])', [name, keys.map(toBuffer)]),
      );
      const found = new Map(rows.map((r) => [r.key.toString('latin1'), r.value]));
      return keys.map((key) => found.get(toBuffer(key).toString('latin1')));
    },
    async range({ gte, lt, limit, reverse = false }) {
      checkOpen();
      const n = limit === undefined ? undefined : normaliseLimit(limit);
      if (n === 0 || (gte && lt && Buffer.compare(gte, lt) >= 0)) return [];
      const params: unknown[] = [name];
      let sql = 'SELECT key, value FROM ics_derived WHERE structure = $1';
      if (gte) sql += ` AND key >= $${params.push(toBuffer(gte))}`;
      if (lt) sql += ` AND key < $${params.push(toBuffer(lt))}`;
      sql += ` ORDER BY key ${reverse ? 'DESC' : 'ASC'}`;
      if (n !== undefined) sql += ` LIMIT $${params.push(n)}`;
      const rows = await readRows(() => pool.query<{ key: Buffer; value: Buffer }>(sql, params));
      return rows.map((r) => [r.key, r.value] as const);
    },
  };
}
