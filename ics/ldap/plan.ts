// Which records a search must look at, chosen from the filter and the store's indexes
// (store/types.ts: by id, fingerprint, key id, user-ID token, domain, kind) so that a search
// never reads every record. The plan only narrows: every candidate is still checked against
// the whole filter. A filter no index answers (e.g. only `(icsStatus=stolen)`) walks the
// records of the domains the reader may see, in id order and resumable, and the search bounds
// how many it examines (search.ts).
//
// Only records the reader may see are candidates, and only they count, so that what it may
// not see never changes an answer (README "No existence oracle"): an index term's ids are
// checked against the readable domains before use (term-scan.ts), and walks (of a kind too)
// go over the readable domains only. A term with more than `cap` ids (the candidate cap) is
// checked the other way round when the readable domains hold at most `cap` records: each of
// those is tested for the term. Otherwise the index is read on, past the records the reader
// may not see, until more than `cap` readable ones are found: then the search walks the
// readable domains like a filter no index narrows. Which term of an `&` drives the search is
// chosen by readable matches too.
//
// User-ID tokens are words (runs of letters and digits, store/indexing.ts). A substring
// piece is looked up as the words it contains: whole words exactly, a word cut by the
// pattern's edge as a prefix. A piece inside `*…*` is taken to start at a word boundary, as
// keyservers match words: `*SN0042*` finds `…:SN0042` and `…:SN00421`, not `…:XSN0042`.
import { inReadableDomain, readableDomainsOf } from '../policy/index.ts';
import { type EntityKind, reviveRecord } from '../record/index.ts';
import { compareIds, indexTermsOf, isRecordId, MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH, type RecordIndexes, type RecordReader, type StoredRecord } from '../store/index.ts';

/** What resolving a plan reads: the indexes and domain lists, then the records. */
type PlanStore = RecordReader & RecordIndexes;
import type { Filter } from './filter.ts';
import { FETCH_BATCH, MAX_LOOKUP_IDS, PROBE_IDS, SCAN_BUDGET_IN_CAPS } from './limits.ts';
import { type ScanBudget, TermScan } from './term-scan.ts';

/** Which entries a search looks for: pgpKeyInfo (key records) or icsRecord (all records). */
export type View = 'key' | 'record';

export type Lookup =
  | { readonly index: 'id'; readonly value: string }
  | { readonly index: 'fingerprint'; readonly value: string }
  | { readonly index: 'keyId'; readonly value: string }
  | { readonly index: 'token'; readonly value: string; readonly prefix: boolean };

export type Walk = { readonly over: 'all' } | { readonly over: 'domain'; readonly domain: string } | { readonly over: 'kind'; readonly kind: EntityKind };

/** A set of candidate records, as an expression over index lookups. */
export type Plan =
  | { readonly kind: 'none' }
  | { readonly kind: 'lookup'; readonly lookup: Lookup }
  | { readonly kind: 'walk'; readonly walk: Walk }
  /** Any one option holds every match (from `and`, or the words of a substring). */
  | { readonly kind: 'any'; readonly options: readonly Plan[] }
  /** Every part is needed (from `or`). */
  | { readonly kind: 'union'; readonly parts: readonly Plan[] };

const KINDS: readonly EntityKind[] = ['device', 'gateway', 'service', 'org', 'key', 'code'];
const HEX16 = /^[0-9a-f]{16}$/;
const HEX40 = /^[0-9a-f]{40}$/;
const NONE: Plan = { kind: 'none' };
const ALL: Plan = { kind: 'walk', walk: { over: 'all' } };
const RUN = /[a-z0-9]+/g;

const lookup = (l: Lookup): Plan => ({ kind: 'lookup', lookup: l });
const any = (options: Plan[]): Plan => (options.length === 0 ? ALL : options.length === 1 ? (options[0] as Plan) : { kind: 'any', options });
const indexable = (t: string) => t.length >= MIN_TOKEN_LENGTH && t.length <= MAX_TOKEN_LENGTH;

/** How likely a word is to be rare: longer, with digits (serial numbers), exact before prefix. */
function score(l: Lookup): number {
  if (l.index !== 'token') return 1000;
  return l.value.length + (/\d/.test(l.value) ? 8 : 0) + (l.prefix ? 0 : 2);
}

function byScore(plans: Plan[]): Plan[] {
  const s = (p: Plan) => (p.kind === 'lookup' ? score(p.lookup) : p.kind === 'walk' ? -1 : 0);
  return plans.sort((a, b) => s(b) - s(a));
}

/**
 * Exact-token lookups for the words of an equality value on a user-ID-like attribute: every
 * value equal to it holds the same runs of letters and digits, hence these tokens.
 */
function wordsOf(value: string): Plan {
  const words = new Set([...value.toLowerCase().matchAll(RUN)].map((m) => m[0]).filter(indexable));
  return any(byScore([...words].map((t) => lookup({ index: 'token', value: t, prefix: false }))));
}

/** Token lookups for the pieces of a substring assertion (see the header). */
export function substringLookups(initial: string | undefined, anyPieces: readonly string[], final: string | undefined): Lookup[] {
  const out = new Map<string, Lookup>();
  const pieces: Array<{ text: string; startBound: boolean; endBound: boolean }> = [];
  // Every piece is taken to start at a word (the initial one truly does); only the final
  // piece is known to end where a word ends.
  if (initial !== undefined) pieces.push({ text: initial, startBound: true, endBound: false });
  for (const a of anyPieces) pieces.push({ text: a, startBound: true, endBound: false });
  if (final !== undefined) pieces.push({ text: final, startBound: true, endBound: true });
  for (const piece of pieces) {
    const lower = piece.text.toLowerCase();
    for (const m of lower.matchAll(RUN)) {
      const start = m.index as number;
      const end = start + m[0].length;
      const leftBound = start > 0 || piece.startBound;
      const rightBound = end < lower.length || piece.endBound;
      if (!leftBound || !indexable(m[0])) continue;
      const l: Lookup = { index: 'token', value: m[0], prefix: !rightBound };
      out.set(`${l.prefix ? 'p' : 'e'}:${l.value}`, l);
    }
  }
  return [...out.values()];
}

function substringPlan(f: Extract<Filter, { kind: 'sub' }>): Plan {
  return any(byScore(substringLookups(f.initial, f.any, f.final).map(lookup)));
}

/** Attributes each view can answer from an index. */
function equalityPlan(view: View, name: string, raw: string, readable: ReadonlySet<string>): Plan | undefined {
  const v = raw.trim().toLowerCase();
  const keyAttr = (n: string) => view === 'key' && n === name;
  const recAttr = (n: string) => view === 'record' && n === name;
  if (keyAttr('gpgfingerprint') || recAttr('icsid')) {
    if (view === 'key') return HEX40.test(v) ? lookup({ index: 'id', value: v }) : NONE;
    return isRecordId(v) ? lookup({ index: 'id', value: v }) : NONE;
  }
  // The fingerprint index answers "is it a record? which records hold it as a subkey?": the
  // first reads the record itself, which the search then builds its entry from (the store
  // keeps what it just read), and the second is mostly a Bloom-filtered miss.
  if (keyAttr('gpgsubfingerprint') || recAttr('icsfingerprint')) return HEX40.test(v) ? lookup({ index: 'fingerprint', value: v }) : NONE;
  if (keyAttr('pgpcertid') || keyAttr('pgpsubkeyid') || recAttr('icskeyid')) return HEX16.test(v) ? lookup({ index: 'keyId', value: v }) : NONE;
  if (keyAttr('pgpuserid') || recAttr('icsuserid') || keyAttr('gpgmailbox')) return wordsOf(raw);
  if (recAttr('icscodedigest') || recAttr('icscodeversion')) return indexable(v) ? lookup({ index: 'token', value: v, prefix: false }) : wordsOf(raw);
  if (recAttr('icscodename')) return any([...(indexable(v) ? [lookup({ index: 'token', value: v, prefix: false })] : []), wordsOf(raw)]);
  if (recAttr('icsdomain')) return readable.has(v) ? { kind: 'walk', walk: { over: 'domain', domain: v } } : NONE;
  if (recAttr('icskind')) return (KINDS as readonly string[]).includes(v) && (v !== 'code' || view === 'record') ? { kind: 'walk', walk: { over: 'kind', kind: v as EntityKind } } : NONE;
  return undefined;
}

/** Attributes that are on every entry of a view (their presence is no restriction). */
const EVERYWHERE: Record<View, ReadonlySet<string>> = {
  key: new Set(['objectclass', 'pgpcertid', 'pgpkey', 'pgpkeyid', 'pgpkeycreatetime', 'pgpkeytype', 'pgpkeysize', 'pgprevoked', 'pgpdisabled', 'gpgfingerprint', 'modifytimestamp']),
  record: new Set(['objectclass', 'icsid', 'icskind', 'icstrusted', 'icshistorysize', 'icsdigest', 'icscontenttime', 'icsupdated', 'modifytimestamp']),
};

/** Attributes entries of a view can hold at all. */
function viewHas(view: View, name: string): boolean {
  if (name === 'objectclass' || name === 'modifytimestamp') return true;
  if (view === 'key') return name.startsWith('pgp') || name.startsWith('gpg');
  return name.startsWith('ics') || name === 'createtimestamp';
}

/** The candidate plan for a filter over a view. */
export function planFor(filter: Filter, view: View, readable: ReadonlySet<string>): Plan {
  switch (filter.kind) {
    case 'and':
      return simplifyAny(filter.clauses.map((c) => planFor(c, view, readable)));
    case 'or': {
      let parts = filter.clauses.map((c) => planFor(c, view, readable)).filter((p) => p.kind !== 'none');
      if (parts.length === 0) return NONE;
      // GnuPG's `(|(gpgFingerprint=F)(gpgSubFingerprint=F))`: the fingerprint lookup for F
      // finds record F too, so reading F by id as well is redundant.
      const fingerprints = new Set(parts.flatMap((p) => (p.kind === 'lookup' && p.lookup.index === 'fingerprint' ? [p.lookup.value] : [])));
      parts = parts.filter((p) => !(p.kind === 'lookup' && p.lookup.index === 'id' && fingerprints.has(p.lookup.value)));
      if (parts.some((p) => p.kind === 'walk' && p.walk.over === 'all')) return ALL;
      return parts.length === 1 ? (parts[0] as Plan) : { kind: 'union', parts };
    }
    case 'not':
      return ALL;
    case 'ge':
    case 'le':
      // Entries without the attribute evaluate FALSE; no index orders by value.
      return !filter.type || !viewHas(view, filter.type.name.toLowerCase()) ? NONE : ALL;
    case 'present': {
      if (!filter.type) return NONE;
      const name = filter.type.name.toLowerCase();
      return viewHas(view, name) || EVERYWHERE[view].has(name) ? ALL : NONE;
    }
    case 'eq': {
      if (!filter.type) return NONE;
      const name = filter.type.name.toLowerCase();
      if (name === 'objectclass') {
        const v = filter.value.trim().toLowerCase();
        const own = view === 'key' ? ['pgpkeyinfo', '1.3.6.1.4.1.3401.8.2.24'] : ['icsrecord', '1.3.6.1.4.1.32473.1.2.1'];
        return v === 'top' || own.includes(v) ? ALL : NONE;
      }
      if (!viewHas(view, name)) return NONE;
      return equalityPlan(view, name, filter.value, readable) ?? ALL;
    }
    case 'sub': {
      if (!filter.type) return NONE;
      const name = filter.type.name.toLowerCase();
      if (!viewHas(view, name)) return NONE;
      if (['pgpuserid', 'gpgmailbox', 'icsuserid', 'icscodename', 'icscodeversion'].includes(name)) return substringPlan(filter);
      return ALL;
    }
    case 'undefined':
      return NONE;
  }
}

function simplifyAny(plans: Plan[]): Plan {
  if (plans.some((p) => p.kind === 'none')) return NONE;
  const useful = plans.filter((p) => !(p.kind === 'walk' && p.walk.over === 'all'));
  const flat = useful.flatMap((p) => (p.kind === 'any' ? p.options : [p]));
  return flat.length === 0 ? ALL : any(flat);
}

// ---- execution ------------------------------------------------------------------------

/** Where a page of candidates resumes: the last id handed out, and for walks over all domains the domain. */
export interface CandidateCursor {
  readonly after?: string;
  readonly domain?: string;
}

export interface Resolved {
  /** Sorted ids of candidates the reader may see, or a walk of the readable domains. */
  readonly ids?: readonly string[];
  readonly walk?: Walk;
  /** The walk was chosen because an index term matches more readable records than the candidate cap (or the scan budget ran out). */
  readonly common?: boolean;
}

/** Whom candidates are for, and the candidate cap (MAX_LOOKUP_IDS unless configured). */
export interface ResolveContext {
  readonly readable: readonly string[];
  readonly readableSet: ReadonlySet<string>;
  readonly cap: number;
}

/** Records read at once when checking candidates. */
const CHECK_BATCH = 1024;

/** A resolution in progress: the caller's context and what is left of the search's scan budget. */
interface Resolving extends ResolveContext {
  readonly budget: ScanBudget;
}

const sortIds = (ids: Iterable<string>) => [...new Set(ids)].sort(compareIds);
const ALL_READABLE: Resolved = { walk: { over: 'all' }, common: true };

/** The ids (sorted) of those records that the reader may see, and for which `keep` holds. */
async function readableOf(store: PlanStore, ids: readonly string[], ctx: ResolveContext, keep?: (s: StoredRecord) => Promise<boolean>): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += CHECK_BATCH) {
    for (const s of await store.getMany(ids.slice(i, i + CHECK_BATCH))) {
      if (s && inReadableDomain(s, ctx.readableSet) && (!keep || (await keep(s)))) out.push(s.id);
    }
  }
  return sortIds(out);
}

/** Ids of the records in the readable domains, or undefined when they are more than `limit`. */
async function readableIds(store: PlanStore, ctx: ResolveContext, limit: number): Promise<string[] | undefined> {
  const ids = new Set<string>();
  for (const domain of ctx.readable) {
    for (const id of await store.listDomain(domain, { limit: limit + 1 })) ids.add(id);
    if (ids.size > limit) return undefined;
  }
  return [...ids];
}

/** Whether a record is found by a lookup: the terms the store indexes it by (store/indexing.ts). */
async function holds(stored: StoredRecord, l: Lookup): Promise<boolean> {
  if (l.index === 'id') return stored.id === l.value;
  const terms = indexTermsOf(await reviveRecord(stored.bytes));
  if (l.index === 'keyId') return terms.keyIds.includes(l.value);
  if (l.index === 'fingerprint') return terms.fingerprints.includes(l.value);
  return terms.tokens.some((t) => (l.prefix ? t.startsWith(l.value) : t === l.value));
}

/**
 * Turns a plan into the sorted ids of the candidates the reader may see, or a walk of the
 * readable domains, probing which index to use (see the header).
 */
export function resolvePlan(store: PlanStore, plan: Plan, ctx: ResolveContext): Promise<Resolved> {
  return resolve(store, plan, { ...ctx, budget: { left: SCAN_BUDGET_IN_CAPS * Math.max(ctx.cap, MAX_LOOKUP_IDS) } });
}

/** A lookup's readable matches, or a walk of the readable domains when they are more than the cap. */
async function resolveLookup(store: PlanStore, l: Lookup, ctx: Resolving, scan = new TermScan(store, l, ctx, ctx.budget)): Promise<Resolved> {
  // Most terms have at most `cap` ids in all: those that are readable are the answer.
  if (!(await scan.read(ctx.cap + 1))) {
    // A common term: test the records of the readable domains for it, if they are few.
    const readable = await readableIds(store, ctx, ctx.cap);
    if (readable) return { ids: await readableOf(store, readable, ctx, (s) => holds(s, l)) };
    // Otherwise the index is read on, past the records the reader may not see.
  }
  return (await scan.find(ctx.cap)) === 'all' ? { ids: scan.ids } : ALL_READABLE;
}

async function resolve(store: PlanStore, plan: Plan, ctx: Resolving): Promise<Resolved> {
  switch (plan.kind) {
    case 'none':
      return { ids: [] };
    case 'walk':
      return { walk: plan.walk };
    case 'lookup':
      return resolveLookup(store, plan.lookup, ctx);
    case 'union': {
      // Parts one after the other: their ids are readable ones, so whether they exceed the
      // cap together depends on what the reader may see only.
      const ids = new Set<string>();
      for (const part of plan.parts) {
        const resolved = await resolve(store, part, ctx);
        if (!resolved.ids) return resolved.common ? ALL_READABLE : { walk: { over: 'all' } };
        for (const id of resolved.ids) ids.add(id);
        if (ids.size > ctx.cap) return ALL_READABLE;
      }
      return { ids: sortIds(ids) };
    }
    case 'any': {
      // The first option, most promising first, with fewer than PROBE_IDS readable matches is
      // complete and cheap. Otherwise the best lookup in full, unless it is too common to give
      // ids (it gives a walk of every readable domain) and a walk of one domain or kind is an
      // option. Matches are counted among readable records only, so that the choice, and
      // hence the answer, does not depend on what the reader may not see.
      const lookups = plan.options.filter((o) => o.kind !== 'walk');
      const walks = plan.options.filter((o): o is Extract<Plan, { kind: 'walk' }> => o.kind === 'walk');
      // A domain is narrower than a kind (whose walk goes over every readable domain).
      const walk = walks.find((w) => w.walk.over === 'domain') ?? walks[0];
      const scans = new Map<Plan, TermScan>();
      for (const option of lookups) {
        if (option.kind === 'lookup') {
          const scan = new TermScan(store, option.lookup, ctx, ctx.budget);
          scans.set(option, scan);
          if ((await scan.find(PROBE_IDS - 1)) === 'all') return { ids: scan.ids };
        } else {
          const resolved = await resolve(store, option, ctx);
          if (resolved.ids && resolved.ids.length < PROBE_IDS) return resolved;
        }
      }
      const best = lookups[0];
      if (best) {
        const full = best.kind === 'lookup' ? await resolveLookup(store, best.lookup, ctx, scans.get(best)) : await resolve(store, best, ctx);
        if (full.ids || !walk) return full;
      }
      return { walk: walk ? walk.walk : { over: 'all' } };
    }
  }
}

/**
 * Candidate records of a resolved plan in a stable order, from a cursor, in batches:
 * only records the reader may see (a domain in `readable`) and of the view's kinds.
 */
export class Candidates {
  readonly #store: PlanStore;
  readonly #resolved: Resolved;
  readonly #view: View;
  readonly #readable: readonly string[];
  readonly #readableSet: ReadonlySet<string>;
  #after: string | undefined;
  #domain: string | undefined;
  #done = false;

  constructor(store: PlanStore, resolved: Resolved, view: View, readable: readonly string[], cursor: CandidateCursor | undefined) {
    this.#store = store;
    this.#resolved = resolved;
    this.#view = view;
    this.#readable = [...readable].sort();
    this.#readableSet = new Set(readable);
    this.#after = cursor?.after;
    this.#domain = cursor?.domain;
  }

  /** Position after the last record handed out. */
  get cursor(): CandidateCursor {
    return { ...(this.#after !== undefined && { after: this.#after }), ...(this.#domain !== undefined && { domain: this.#domain }) };
  }

  /** Position right after record `id` of the last batch (to stop part-way through it). */
  cursorAfter(id: string): CandidateCursor {
    return { after: id, ...(this.#domain !== undefined && { domain: this.#domain }) };
  }

  get done(): boolean {
    return this.#done;
  }

  #visible(stored: StoredRecord | undefined): stored is StoredRecord {
    if (!stored) return false;
    if (this.#view === 'key' && stored.kind === 'code') return false;
    return inReadableDomain(stored, this.#readableSet);
  }

  /**
   * Up to `max` ids' worth of candidates (fewer are returned when some are not visible);
   * an empty array with `done` set at the end. `examined` counts ids read from the index.
   */
  async next(max: number = FETCH_BATCH): Promise<{ records: StoredRecord[]; examined: number }> {
    if (this.#done) return { records: [], examined: 0 };
    const r = this.#resolved;
    if (r.ids) {
      const ids = r.ids;
      let start = 0;
      if (this.#after !== undefined) {
        const after = this.#after;
        start = ids.findIndex((id) => compareIds(id, after) > 0);
        if (start === -1) start = ids.length;
      }
      const slice = ids.slice(start, start + max);
      if (start + max >= ids.length) this.#done = true;
      if (slice.length === 0) return { records: [], examined: 0 };
      this.#after = slice[slice.length - 1];
      const found = await this.#store.getMany(slice);
      return { records: found.filter((s) => this.#visible(s)), examined: slice.length };
    }
    const walk = r.walk as Walk;
    if (walk.over === 'domain') {
      if (!this.#readableSet.has(walk.domain)) {
        this.#done = true;
        return { records: [], examined: 0 };
      }
      const ids = await this.#store.listDomain(walk.domain, { limit: max, ...(this.#after !== undefined && { after: this.#after }) });
      if (ids.length < max) this.#done = true;
      if (ids.length === 0) return { records: [], examined: 0 };
      this.#after = ids[ids.length - 1];
      const found = await this.#store.getMany(ids);
      return { records: found.filter((s) => this.#visible(s)), examined: ids.length };
    }
    // All records the reader may see (of one kind, for a kind walk): each readable domain in
    // turn; a record in several is handed out in the first of them only. A kind walk does not
    // use the kind index, which lists records of every domain: the records the reader may not
    // see would count toward the records a request examines.
    const kind = walk.over === 'kind' ? walk.kind : undefined;
    for (;;) {
      const domain = this.#domain ?? this.#readable[0];
      if (domain === undefined) {
        this.#done = true;
        return { records: [], examined: 0 };
      }
      this.#domain = domain;
      const ids = await this.#store.listDomain(domain, { limit: max, ...(this.#after !== undefined && { after: this.#after }) });
      if (ids.length === 0) {
        const next = this.#readable[this.#readable.indexOf(domain) + 1];
        if (next === undefined) {
          this.#done = true;
          return { records: [], examined: 0 };
        }
        this.#domain = next;
        this.#after = undefined;
        continue;
      }
      this.#after = ids[ids.length - 1];
      const found = await this.#store.getMany(ids);
      const records = found.filter(
        (s): s is StoredRecord =>
          this.#visible(s) && (kind === undefined || s.kind === kind) && readableDomainsOf(s, this.#readableSet).sort()[0] === domain,
      );
      return { records, examined: ids.length };
    }
  }
}
