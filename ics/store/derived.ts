// Derived structures: state a store keeps from its records (the sync set of DESIGN §6; the
// transparency log and certificate index of §7–8 next), written inside the store's write and
// committed in the same atomic batch as the record, so that it cannot drift from the records
// after a crash (the reconciliation set drifting from the keys was Hockeypuck #170). Each
// structure sees every accepted change and keeps entries in an ordered key space of its own:
// bytes to bytes, so that one structure is written once for every store (LevelDB, memory,
// and a SQL table later).
import { IcsError, isIcsError } from '../errors.ts';
import type { IdentityRecord } from '../record/index.ts';
import type { ChangeEvent, StoredRecord } from './model.ts';

/** One accepted write, as derived structures see it. */
export interface RecordChange {
  /** The record written, parsed (what `after.bytes` holds). */
  readonly record: IdentityRecord;
  /** The version the write replaces; undefined for an insert. */
  readonly before: StoredRecord | undefined;
  /** The version written: its `seq` is the event's, its `domains` sorted and deduplicated. */
  readonly after: StoredRecord;
  readonly event: ChangeEvent;
}

/**
 * A structure's view of the write batch being built. Entries put or deleted join the batch
 * of the record; nothing is visible to readers before the batch commits.
 */
export interface DerivedBatch {
  /**
   * The structure's value under `key` as the batch would leave it: entries this write and
   * the writes committed together with it (earlier in the same batch) put or deleted, else
   * the committed value.
   */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
}

/** Keys in [gte, lt) (either end open when absent), ascending unless `reverse`, at most `limit`. */
export interface DerivedRange {
  readonly gte?: Uint8Array;
  readonly lt?: Uint8Array;
  readonly limit?: number;
  readonly reverse?: boolean;
}

/**
 * Committed entries of one structure. Fails with UNAVAILABLE once the store is closed. Callers
 * MUST NOT mutate what it returns: a store MAY hand out the bytes it holds.
 */
export interface DerivedReader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Several keys in one read (one round trip to a database's threads). */
  getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>>;
  range(range: DerivedRange): Promise<Array<readonly [Uint8Array, Uint8Array]>>;
}

/**
 * A structure kept in step with the records. Stores call `apply` for each write whose
 * compare-and-set passed, after their own indexes, in registration order.
 *
 * - `apply` MUST write only through `batch`, and MUST NOT call the store (it runs inside the
 *   store's writer, which waits for it). It MAY be asynchronous (to `batch.get`); the store
 *   holds later writes meanwhile, so it SHOULD be quick.
 * - When `apply` throws, that write is refused with its error (an error not an IcsError
 *   becomes INTERNAL): neither the record nor any structure's entries for it are committed.
 * - A structure added to a store that already holds records sees only the changes after it,
 *   unless it can be made from the event log alone (`replay`): a persistent store then replays
 *   every earlier event into it once, when it first opens with it, before any write.
 */
export interface DerivedStructure {
  /** Names its key space: lower-case letters, digits and '-', unique per store. */
  readonly name: string;
  apply(change: RecordChange, batch: DerivedBatch): void | Promise<void>;
  /** Called when a store opens with this structure, with the reader of its committed entries. */
  attach?(reader: DerivedReader): void;
  /** What `apply` would have written for an event from before the structure was added (the event alone, no record). */
  replay?(event: ChangeEvent, batch: DerivedBatch): void | Promise<void>;
}

/** What every store takes besides its own tuning. */
export interface StoreHooks {
  /** Derived structures written in the same batch as each record (besides the store's own sync set). */
  readonly derived?: readonly DerivedStructure[];
  /** Called when a change listener throws; the store carries on either way. */
  readonly onListenerError?: (error: unknown, event: ChangeEvent) => void;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * The structures a store writes: its own (`builtIn`, e.g. the sync set) first, then those
 * registered. INTERNAL for a malformed or repeated name: a wiring bug, found at open.
 */
export function derivedStructures(builtIn: readonly DerivedStructure[], registered: readonly DerivedStructure[] = []): DerivedStructure[] {
  const all = [...builtIn, ...registered];
  const names = new Set<string>();
  for (const structure of all) {
    if (!NAME.test(structure.name)) throw new IcsError('INTERNAL', `invalid derived structure name ${JSON.stringify(structure.name)}`);
    if (names.has(structure.name)) throw new IcsError('INTERNAL', `derived structure ${structure.name} is registered twice (or is built in)`);
    names.add(structure.name);
  }
  return all;
}

function refusal(structure: DerivedStructure, error: unknown): IcsError {
  return isIcsError(error) ? error : new IcsError('INTERNAL', `derived structure ${structure.name} failed`, { cause: error });
}

/**
 * Runs every structure's `apply` for one change, in order. Undefined when all of them
 * answered synchronously (so that a store without asynchronous structures commits without
 * yielding); otherwise a promise for the rest. Throws (or rejects) with the refusal.
 */
export function applyDerived(
  structures: readonly DerivedStructure[],
  change: RecordChange,
  batchOf: (index: number) => DerivedBatch,
): Promise<void> | undefined {
  for (let i = 0; i < structures.length; i++) {
    const structure = structures[i] as DerivedStructure;
    let result: void | Promise<void>;
    try {
      result = structure.apply(change, batchOf(i));
    } catch (error) {
      throw refusal(structure, error);
    }
    if (isThenable(result)) return finishAsync(structures, change, batchOf, i, result);
  }
  return undefined;
}

function isThenable(value: unknown): value is Promise<void> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

async function finishAsync(
  structures: readonly DerivedStructure[],
  change: RecordChange,
  batchOf: (index: number) => DerivedBatch,
  at: number,
  pending: Promise<void>,
): Promise<void> {
  for (let i = at; i < structures.length; i++) {
    const structure = structures[i] as DerivedStructure;
    try {
      await (i === at ? pending : structure.apply(change, batchOf(i)));
    } catch (error) {
      throw refusal(structure, error);
    }
  }
}

/** The smallest key above every key that starts with `prefix`; undefined when none is (all 0xff). */
export function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  let i = prefix.length - 1;
  while (i >= 0 && prefix[i] === 0xff) i--;
  if (i < 0) return undefined;
  const end = Buffer.from(prefix.subarray(0, i + 1));
  end[i] = (end[i] as number) + 1;
  return end;
}
