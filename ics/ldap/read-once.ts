// A search's view of the store that reads each record once. Resolving a plan checks which of
// a lookup's records the reader may see, and the candidates then read the same records again
// to build their entries: at scale, where most records are in no cache, that second read was
// a third of a search's LevelDB reads. Kept for one search only, so it holds what the search
// read a moment ago and nothing older; bounded, so that a wide search reads the rest again.
import type { RecordIndexes, RecordReader, StoredRecord } from '../store/index.ts';

type SearchStore = RecordReader & RecordIndexes;

/** Records a search keeps at most (they are the candidates of a page, usually one or a few). */
export const READ_ONCE_RECORDS = 64;

export function readOnce(store: SearchStore): SearchStore {
  const kept = new Map<string, StoredRecord>();
  const keep = <T extends ReadonlyArray<StoredRecord | undefined>>(found: T): T => {
    for (const s of found) if (s && kept.size < READ_ONCE_RECORDS) kept.set(s.id, s);
    return found;
  };
  return {
    findByKeyId: (keyId, options) => store.findByKeyId(keyId, options),
    findByFingerprint: (fingerprint, options) => store.findByFingerprint(fingerprint, options),
    findByToken: (token, options) => store.findByToken(token, options),
    listDomain: (domain, options) => store.listDomain(domain, options),
    listKind: (kind, options) => store.listKind(kind, options),
    async get(id) {
      const hit = kept.get(id);
      if (hit) return hit;
      const [found] = keep([await store.get(id)]);
      return found;
    },
    async getMany(ids) {
      const missing = ids.filter((id) => !kept.has(id));
      const read = new Map<string, StoredRecord | undefined>();
      if (missing.length > 0) keep(await store.getMany(missing)).forEach((s, i) => read.set(missing[i] as string, s));
      return ids.map((id) => kept.get(id) ?? read.get(id));
    },
  };
}
