// The store's format version (meta `format`) and the upgrades from older ones, run at open
// before anything else reads the store. An upgrade writes what the new format adds in batches,
// then the new version: a crash part-way leaves the old version, and the next open starts the
// upgrade again (its writes are puts of values it derives afresh, so repeating them is safe).
//
//   1  the first format
//   2  adds the token heads (keys.ts, 0c)
import type { ClassicLevel } from 'classic-level';
import { IcsError } from '../../errors.ts';
import { encodeRecordId } from '../ids.ts';
import { eventRecordId } from './codec.ts';
import { docOf, eventKey, metaKey, range, Space } from './keys.ts';
import { type BatchOp, MANY_IDS, TOKEN_HEAD_IDS } from './ops.ts';

type Db = ClassicLevel<Buffer, Buffer>;

export const STORE_FORMAT = 2;
/** Formats this version upgrades from at open. */
const UPGRADABLE = new Set([1]);
/** Token index keys read at a time while building heads, and heads written per batch. */
const UPGRADE_STEP = 4096;
/** Bytes after a token in its index key: the separator and the record number. */
const TOKEN_KEY_TAIL = 7;

export interface FormatUpgrade {
  readonly from: number;
  readonly to: number;
  readonly ms: number;
  /** Token heads written. */
  readonly heads: number;
}

/** Whether a snapshot of format `format` can be loaded (it is upgraded at the next open). */
export function loadableFormat(format: number): boolean {
  return format === STORE_FORMAT || UPGRADABLE.has(format);
}

/**
 * Marks an empty database as a store of this format, upgrades one of an older format, and
 * refuses anything else. Returns what was upgraded, for the log.
 */
export async function checkFormat(db: Db, isEmpty: () => Promise<boolean>): Promise<FormatUpgrade | undefined> {
  const format = await db.get(metaKey('format'));
  if (format === undefined) {
    if (!(await isEmpty())) throw new IcsError('UNAVAILABLE', 'the directory holds a LevelDB database that is not an ICS store');
    await db.put(metaKey('format'), Buffer.of(STORE_FORMAT), { sync: true });
    return undefined;
  }
  const from = format[0] as number;
  if (from === STORE_FORMAT) return undefined;
  if (!UPGRADABLE.has(from)) throw new IcsError('UNAVAILABLE', `store format ${from} is not supported (this version reads ${STORE_FORMAT})`);
  const start = performance.now();
  const heads = await buildTokenHeads(db);
  await db.put(metaKey('format'), Buffer.of(STORE_FORMAT), { sync: true });
  return { from, to: STORE_FORMAT, ms: performance.now() - start, heads };
}

/** Writes every token's head from the token index (format 1 → 2). */
async function buildTokenHeads(db: Db): Promise<number> {
  let heads = 0;
  /** Heads whose ids are still to be found: the token's head key and its record numbers. */
  let pending: Array<{ key: Buffer; docs: number[] }> = [];
  let ops: BatchOp[] = [];
  const flush = async () => {
    const docs = pending.flatMap((p) => p.docs);
    const events = await db.getMany(docs.map(eventKey));
    let at = 0;
    for (const p of pending) {
      const ids = p.docs.map(() => {
        const event = events[at];
        if (!event) throw new IcsError('INTERNAL', `record number ${docs[at]} has no insert event`);
        at++;
        return encodeRecordId(eventRecordId(event));
      });
      ops.push({ type: 'put', key: p.key, value: Buffer.concat(ids) });
    }
    if (ops.length > 0) await db.batch(ops);
    heads += ops.length;
    pending = [];
    ops = [];
  };
  let token: Buffer | undefined;
  let docs: number[] = [];
  const close = () => {
    if (!token) return;
    const key = Buffer.concat([Buffer.of(Space.tokenHead), token]);
    if (docs.length > TOKEN_HEAD_IDS) ops.push({ type: 'put', key, value: MANY_IDS });
    else pending.push({ key, docs });
  };
  const iterator = db.keys(range(Buffer.of(Space.token)));
  try {
    for (;;) {
      const keys = await iterator.nextv(UPGRADE_STEP);
      if (keys.length === 0) break;
      for (const key of keys) {
        const t = key.subarray(1, key.length - TOKEN_KEY_TAIL);
        if (!token || !t.equals(token)) {
          close();
          token = Buffer.from(t);
          docs = [];
        }
        if (docs.length <= TOKEN_HEAD_IDS) docs.push(docOf(key));
      }
      if (pending.length + ops.length >= UPGRADE_STEP) await flush();
    }
    close();
    await flush();
  } finally {
    await iterator.close();
  }
  return heads;
}
