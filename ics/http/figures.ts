// Store figures as a caller may see them (op=stats, /ics/v1/status). Counts are data too:
// a caller learns the size of the domains it may read, and the node-wide totals (which
// count private records, and whose change sequence shows private activity) only when it
// may read every domain.
import type { PolicyEngine, Principal } from '../policy/index.ts';
import type { StoreLifecycle, SyncSet } from '../store/types.ts';

export interface StoreFigures {
  /** Records per domain the caller may read. */
  readonly domains: Readonly<Record<string, number>>;
  /** Node-wide figures: only for a caller who may read every domain. */
  readonly totals?: { readonly records: number; readonly byKind: Readonly<Record<string, number>>; readonly lastSeq: number };
}

/** Whole reconciliation set of a domain: one entry per record it holds. */
const EVERYTHING = { time: 0, id: '' };

/** Whether `principal` may read every domain: the condition for figures that count all of them. */
export function readsEveryDomain(engine: PolicyEngine, principal: Principal): boolean {
  return engine.domainNames().every((name) => engine.canRead(name, principal));
}

export async function storeFigures(store: SyncSet & StoreLifecycle, engine: PolicyEngine, principal: Principal): Promise<StoreFigures> {
  const names = engine.domainNames();
  const readable = names.filter((name) => engine.canRead(name, principal));
  // The sync set's summary counts from its bucket index, without reading every record.
  const counts = await Promise.all(readable.map(async (name) => (await store.syncSummaries(name, [EVERYTHING], undefined))[0]?.count ?? 0));
  const domains = Object.fromEntries(readable.map((name, i) => [name, counts[i] ?? 0]));
  if (readable.length < names.length) return { domains };
  const stats = await store.stats();
  return { domains, totals: { records: stats.records, byKind: stats.byKind, lastSeq: stats.lastSeq } };
}
