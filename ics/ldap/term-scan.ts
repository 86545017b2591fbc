// The records of one index lookup that a reader may see. An index holds the records of every
// domain, so a term can match many records the reader may not see: only the readable ones
// count toward a limit (README "No existence oracle"), and the index is read in growing
// windows until it has no more ids, more readable ones than wanted are found, or the search's
// scan budget is spent. Only the last, a term shared with that many records in all, lets what
// the reader may not see decide an answer (see SCAN_BUDGET_IN_CAPS).
import { inReadableDomain } from '../policy/index.ts';
import { compareIds, type RecordIndexes, type RecordReader } from '../store/index.ts';

/** What a term scan reads: the indexes, then the records they name. */
type ScanStore = RecordReader & RecordIndexes;
import type { Lookup } from './plan.ts';

/** Records read at once when checking which ids are readable. */
const CHECK_BATCH = 1024;

/** Ids one search may still read from the indexes while looking for readable records. */
export interface ScanBudget {
  left: number;
}

export interface Readability {
  readonly readableSet: ReadonlySet<string>;
}

export async function runLookup(store: ScanStore, l: Lookup, limit: number): Promise<string[]> {
  switch (l.index) {
    case 'id':
      return [l.value];
    case 'fingerprint':
      return store.findByFingerprint(l.value, { limit });
    case 'keyId':
      return store.findByKeyId(l.value, { limit });
    case 'token':
      return store.findByToken(l.value, { limit, prefix: l.prefix });
  }
}

/** What a scan found: every readable match, more than wanted, or the budget ran out first. */
export type ScanOutcome = 'all' | 'more' | 'unknown';

/** One lookup's readable matches, read on demand (see the header). */
export class TermScan {
  readonly #store: ScanStore;
  readonly #lookup: Lookup;
  readonly #reader: Readability;
  readonly #budget: ScanBudget;
  readonly #seen = new Set<string>();
  /** Ids read from the index whose records are not checked yet. */
  #unchecked: string[] = [];
  readonly #readable: string[] = [];
  /** Ids asked of the index by the last read; the index had no more when it gave fewer. */
  #window = 0;
  #exhausted = false;

  constructor(store: ScanStore, lookup: Lookup, reader: Readability, budget: ScanBudget) {
    this.#store = store;
    this.#lookup = lookup;
    this.#reader = reader;
    this.#budget = budget;
  }

  /** The readable matches found so far, sorted. */
  get ids(): string[] {
    return [...this.#readable].sort(compareIds);
  }

  /**
   * Reads the lookup's first `window` ids from the index (within the budget), checking none:
   * true when the index has no more. Cheap: records are read by find() only.
   */
  async read(window: number): Promise<boolean> {
    const wanted = Math.min(window, this.#window + this.#budget.left);
    if (this.#exhausted || wanted <= this.#window) return this.#exhausted;
    // The budget counts how deep the index is read; the store reads each window from the
    // start of the lookup, which at most doubles that cost since windows double.
    this.#budget.left -= wanted - this.#window;
    const ids = await runLookup(this.#store, this.#lookup, wanted);
    this.#exhausted = ids.length < wanted;
    this.#window = wanted;
    // Ids seen before are skipped, so that a write between two reads counts nothing twice.
    for (const id of ids) {
      if (this.#seen.has(id)) continue;
      this.#seen.add(id);
      this.#unchecked.push(id);
    }
    return this.#exhausted;
  }

  /**
   * Reads on until the index has no more (`all`: `ids` holds every readable match), more than
   * `want` readable matches are found (`more`), or the budget is spent (`unknown`). Windows
   * start at want + 1 ids and double.
   */
  async find(want: number): Promise<ScanOutcome> {
    for (;;) {
      await this.#keepReadable();
      if (this.#readable.length > want) return 'more';
      if (this.#exhausted) return 'all';
      const window = this.#window;
      await this.read(Math.max(want + 1, 2 * window));
      if (this.#window === window) return 'unknown';
    }
  }

  async #keepReadable(): Promise<void> {
    const ids = this.#unchecked;
    this.#unchecked = [];
    for (let i = 0; i < ids.length; i += CHECK_BATCH) {
      for (const s of await this.#store.getMany(ids.slice(i, i + CHECK_BATCH))) {
        if (s && inReadableDomain(s, this.#reader.readableSet)) this.#readable.push(s.id);
      }
    }
  }
}
