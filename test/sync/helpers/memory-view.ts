// A reconciliation SetView over items held in memory, answering through a BucketIndex exactly
// as the stores do: for protocol tests without a store.
import { arrayReader, BucketIndex, boundKey, rawItems } from '../../../ics/store/fingerprint.ts';
import { compareIdToBound } from '../../../ics/store/ids.ts';
import type { SyncBound, SyncItem } from '../../../ics/store/types.ts';
import type { SetView } from '../../../ics/sync/reconcile.ts';

const order = (a: SyncItem, b: SyncItem) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A SetView over items held in memory, answering through a BucketIndex as the stores do. */
export function memoryView(list: readonly SyncItem[]): SetView {
  const items = [...list].sort(order);
  const raw = rawItems(items);
  const index = BucketIndex.fromItems(raw);
  const read = arrayReader(raw);
  const inRange = (i: SyncItem, from: SyncBound, to: SyncBound | undefined) => {
    const cmp = (b: SyncBound) => i.time - b.time || compareIdToBound(i.id, b.id);
    return cmp(from) >= 0 && (to === undefined || cmp(to) < 0);
  };
  return {
    summaries: (bounds, to) => index.summaries(bounds.map(boundKey), to && boundKey(to), read),
    split: (from, to, parts) => index.split(boundKey(from), from, to && boundKey(to), parts, read),
    items: async (from, to, limit) => {
      // Binary search for the first item ≥ from, then walk.
      let lo = 0;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (inRange(items[mid] as SyncItem, { time: 0, id: '' }, from)) lo = mid + 1;
        else hi = mid;
      }
      const out: SyncItem[] = [];
      for (let i = lo; i < items.length && out.length < limit; i++) {
        const it = items[i] as SyncItem;
        if (!inRange(it, from, to)) break;
        out.push(it);
      }
      return out;
    },
  };
}

