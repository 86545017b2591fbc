// The search operation (RFC 4511 §4.5): base object and scope, filter, attribute selection,
// size and time limits, and simple paged results (RFC 2696). Records are found through the
// store's indexes (plan.ts); a search the indexes cannot narrow examines at most `sizeLimit`
// records per request, ends with sizeLimitExceeded and says why, and can be continued with
// paged results.
import type { Directory, Reader } from './directory.ts';
import type { Target } from './dit.ts';
import type { Entry, Selection } from './entry.ts';
import { type Filter, matches } from './filter.ts';
import { DecodeError } from './ldapjs.ts';
import { FETCH_BATCH, MAX_COOKIE_BYTES, MAX_LOOKUP_IDS } from './limits.ts';
import type { StoredRecord } from '../store/index.ts';
import { type CandidateCursor, Candidates, planFor, resolvePlan, type View } from './plan.ts';
import { readOnce } from './read-once.ts';
import { type Control, pagedResultsControl, type Result, ResultCode } from './protocol.ts';

export const Scope = { base: 0, one: 1, sub: 2 } as const;

/** What the indexes answer (plan.ts), for the message of a search they could not narrow. */
const INDEXED =
  'indexed: pgpCertID, pgpSubKeyID, gpgFingerprint, gpgSubFingerprint, words of pgpUserID and gpgMailbox; ' +
  'icsId, icsFingerprint, icsKeyId, words of icsUserID, icsCodeName, icsCodeVersion, icsCodeDigest, icsDomain, icsKind';

export interface SearchInput {
  readonly base: string;
  readonly scope: number;
  /** The client's limits (0: none); the server's apply as well. */
  readonly sizeLimit: number;
  readonly timeLimit: number;
  readonly filter: Filter;
  /** The filter's encoding, to tie a paged-results cookie to its search (read only when paging). */
  readonly filterKey: () => Uint8Array;
  readonly selection: Selection;
  /**
   * Who asks, where: the connection and bind identity, and the attributes asked for, which a
   * paged-results cookie is bound to together with base, scope and filter (cookie.ts). Made
   * only when a cookie is sealed or opened.
   */
  readonly binding: () => Uint8Array;
  readonly paged: { readonly size: number; readonly cookie: Buffer } | undefined;
}

export interface SearchLimits {
  readonly sizeLimit: number;
  readonly timeLimitSeconds: number;
  /** Ids one index term yields (plan.ts); MAX_LOOKUP_IDS unless configured. */
  readonly maxCandidates?: number;
}

/** Where entries go. `stopped` turns true when the client abandoned the search or left. */
export interface SearchSink {
  send(encodedEntry: Buffer): void;
  readonly stopped: boolean;
  /** Resolves when the connection can take more output. */
  drain(): Promise<void>;
}

export interface SearchOutcome {
  /** Undefined when the search was abandoned: no response is sent (RFC 4511 §4.11). */
  readonly result: Result | undefined;
  readonly controls: readonly Control[];
}

type Source =
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'view'; readonly view: View }
  | { readonly kind: 'key'; readonly keyId: string }
  | { readonly kind: 'record'; readonly id: string };

interface PageState {
  /** Index of the source to resume in. */
  readonly s: number;
  readonly c?: CandidateCursor;
}

/** What a cookie is bound to: the caller's binding plus base, scope and filter, each length-prefixed. */
function cookieBinding(input: SearchInput): Buffer {
  const parts = [Buffer.from(input.binding()), Buffer.from(input.base.toLowerCase(), 'utf8'), Buffer.of(input.scope), Buffer.from(input.filterKey())];
  return Buffer.concat(parts.flatMap((p) => [Buffer.from(Uint32Array.of(p.length).buffer), p]));
}

function encodeCookie(dir: Directory, input: SearchInput, state: PageState): Buffer {
  return dir.cookies.seal(state, cookieBinding(input));
}

/** The state in a client's cookie, or undefined when it is not one of ours for this connection and search. */
function decodeCookie(dir: Directory, input: SearchInput, cookie: Buffer): PageState | undefined {
  if (cookie.length > MAX_COOKIE_BYTES) return undefined;
  const state = dir.cookies.open(cookie, cookieBinding(input)) as PageState | undefined;
  // Sealed by this server, so well-formed; checked all the same before use.
  if (typeof state !== 'object' || state === null || !Number.isInteger(state.s) || state.s < 0) return undefined;
  const c = state.c;
  if (c !== undefined && (typeof c !== 'object' || c === null)) return undefined;
  if (c?.after !== undefined && typeof c.after !== 'string') return undefined;
  if (c?.domain !== undefined && typeof c.domain !== 'string') return undefined;
  return state;
}

/** The entries a base object and scope cover, in the order they are returned. */
function sourcesFor(dir: Directory, target: Target, scope: number): Source[] | Result {
  const sub = scope === Scope.sub;
  const one = scope === Scope.one;
  const below = (container: Entry, view: View): Source[] =>
    one ? [{ kind: 'view', view }] : sub ? [{ kind: 'entry', entry: container }, { kind: 'view', view }] : [{ kind: 'entry', entry: container }];
  const wholeTree: Source[] = [
    { kind: 'entry', entry: dir.base },
    { kind: 'entry', entry: dir.serverInfo },
    { kind: 'entry', entry: dir.keys },
    { kind: 'entry', entry: dir.records },
    { kind: 'view', view: 'key' },
    { kind: 'view', view: 'record' },
  ];
  switch (target.node) {
    case 'root':
      // The root DSE alone for a base search (RFC 4512 §5.1); below it, the naming context.
      return scope === Scope.base ? [{ kind: 'entry', entry: dir.rootDse }] : one ? [{ kind: 'entry', entry: dir.base }] : wholeTree;
    case 'base':
      if (scope === Scope.base) return [{ kind: 'entry', entry: dir.base }];
      if (one) return [{ kind: 'entry', entry: dir.serverInfo }, { kind: 'entry', entry: dir.keys }, { kind: 'entry', entry: dir.records }];
      return wholeTree;
    case 'serverInfo':
      return one ? [] : [{ kind: 'entry', entry: dir.serverInfo }];
    case 'keys':
      return below(dir.keys, 'key');
    case 'records':
      return below(dir.records, 'record');
    case 'key':
      return one ? [] : [{ kind: 'key', keyId: target.keyId }];
    case 'record':
      return one ? [] : [{ kind: 'record', id: target.id }];
    case 'user':
      return { code: ResultCode.noSuchObject, matchedDn: dir.dit.base, message: 'no such entry' };
    case 'none':
      return { code: ResultCode.noSuchObject, matchedDn: target.matched, message: 'no such entry' };
  }
}

/** Runs one search; entries go to `sink`, the outcome is the SearchResultDone to send. */
export async function search(dir: Directory, reader: Reader, input: SearchInput, limits: SearchLimits, sink: SearchSink): Promise<SearchOutcome> {
  let target: Target;
  try {
    target = dir.dit.resolve(input.base);
  } catch (error) {
    if (error instanceof DecodeError) return { result: { code: ResultCode.invalidDNSyntax, message: error.message }, controls: [] };
    throw error;
  }
  const sources = sourcesFor(dir, target, input.scope);
  if (!Array.isArray(sources)) return { result: sources, controls: [] };

  // A base search on a record's entry must name an entry the reader may see.
  if (input.scope === Scope.base && (target.node === 'key' || target.node === 'record')) {
    const exists = target.node === 'key' ? (await dir.keyRecords(reader, target.keyId)).length > 0 : (await dir.record(reader, target.id)) !== undefined;
    if (!exists) {
      return { result: { code: ResultCode.noSuchObject, matchedDn: target.node === 'key' ? dir.dit.keysDn : dir.dit.recordsDn, message: 'no such entry' }, controls: [] };
    }
  }

  let state: PageState = { s: 0 };
  if (input.paged) {
    if (input.paged.cookie.length > 0) {
      const decoded = decodeCookie(dir, input, input.paged.cookie);
      if (!decoded) return { result: { code: ResultCode.unwillingToPerform, message: 'paged results cookie is invalid or belongs to another search' }, controls: [] };
      state = decoded;
    }
    // A page size of 0 abandons the paged search (RFC 2696 §3).
    if (input.paged.size <= 0) return { result: { code: ResultCode.success }, controls: [pagedResultsControl(Buffer.alloc(0))] };
  }

  const serverLimit = limits.sizeLimit;
  const sizeLimit = input.sizeLimit > 0 ? Math.min(input.sizeLimit, serverLimit) : serverLimit;
  const pageSize = input.paged ? Math.min(input.paged.size, sizeLimit) : undefined;
  const timeLimitMs = 1000 * (input.timeLimit > 0 ? Math.min(input.timeLimit, limits.timeLimitSeconds) : limits.timeLimitSeconds);
  const deadline = performance.now() + timeLimitMs;
  /** Records examined in this request: what bounds a search no index narrows. */
  const budget = serverLimit;

  let sent = 0;
  let examined = 0;
  const cap = limits.maxCandidates ?? MAX_LOOKUP_IDS;
  const done = (result: Result, cookie?: Buffer): SearchOutcome => ({
    result,
    controls: input.paged ? [pagedResultsControl(cookie ?? Buffer.alloc(0))] : [],
  });
  const limitReached = () => (pageSize !== undefined ? sent >= pageSize : sent >= sizeLimit);
  /** Sends a matching entry; in an unpaged search the one past the size limit is only counted. */
  let overflow = false;
  const offer = (entry: Entry): void => {
    if (!matches(input.filter, entry)) return;
    if (pageSize === undefined && sent >= sizeLimit) {
      overflow = true;
      return;
    }
    sink.send(entry.encode(input.selection));
    sent++;
  };

  for (let s = state.s; s < sources.length; s++) {
    const source = sources[s] as Source;
    const cursor = s === state.s ? state.c : undefined;
    if (sink.stopped) return { result: undefined, controls: [] };
    if (performance.now() > deadline) return done({ code: ResultCode.timeLimitExceeded, message: `time limit of ${timeLimitMs / 1000} s exceeded` });
    if (source.kind === 'entry') {
      if (cursor !== undefined) continue;
      if (limitReached() && pageSize !== undefined) return done({ code: ResultCode.success }, encodeCookie(dir, input, { s }));
      offer(source.entry);
      if (overflow) return done(sizeExceeded(sizeLimit));
      continue;
    }
    if (source.kind === 'key' || source.kind === 'record') {
      if (cursor !== undefined) continue;
      const records = source.kind === 'key' ? await dir.keyRecords(reader, source.keyId) : [await dir.record(reader, source.id)].filter((r) => r !== undefined);
      for (const stored of records) {
        offer(source.kind === 'key' ? await dir.keyEntry(stored) : await dir.recordEntry(reader, stored));
      }
      if (overflow) return done(sizeExceeded(sizeLimit));
      continue;
    }
    // A view: candidates from the indexes, checked against the filter one by one.
    const plan = planFor(input.filter, source.view, reader.readableSet);
    const store = readOnce(dir.store);
    const resolved = await resolvePlan(store, plan, { readable: reader.readable, readableSet: reader.readableSet, cap });
    const candidates = new Candidates(store, resolved, source.view, reader.readable, cursor);
    let last: CandidateCursor | undefined = cursor;
    while (!candidates.done) {
      if (sink.stopped) return { result: undefined, controls: [] };
      if (performance.now() > deadline) return done({ code: ResultCode.timeLimitExceeded, message: `time limit of ${timeLimitMs / 1000} s exceeded` });
      if (limitReached()) {
        if (pageSize !== undefined) return done({ code: ResultCode.success }, encodeCookie(dir, input, { s, c: last }));
      }
      if (examined >= budget) {
        const why = resolved.common
          ? `examined ${examined} records: the filter's index terms match more than ${cap} records`
          : resolved.walk
            ? `examined ${examined} records: the filter names no indexed attribute that narrows it (${INDEXED})`
            : `examined ${examined} records: the filter's index term matches more records than one request examines`;
        if (pageSize !== undefined) return done({ code: ResultCode.success, message: `page ends early: ${why}` }, encodeCookie(dir, input, { s, c: last }));
        return done({ code: ResultCode.sizeLimitExceeded, message: `size limit ${sizeLimit}: ${why}; use paged results to continue` });
      }
      const { records, examined: n } = await candidates.next(Math.min(FETCH_BATCH, budget - examined));
      // Only records the reader may see count: candidate ids are readable ones, and walks go
      // over the readable domains only (plan.ts), so what it cannot see never ends a search early.
      examined += resolved.ids ? records.length : n;
      for (let i = 0; i < records.length; i++) {
        const stored = records[i] as StoredRecord;
        const entry = source.view === 'key' ? await dir.keyEntry(stored) : await dir.recordEntry(reader, stored);
        offer(entry);
        if (overflow) return done(sizeExceeded(sizeLimit));
        if (pageSize !== undefined && sent >= pageSize) {
          const finished = i === records.length - 1 && candidates.done && s === sources.length - 1;
          if (!finished) return done({ code: ResultCode.success }, encodeCookie(dir, input, { s, c: candidates.cursorAfter(stored.id) }));
        }
      }
      last = candidates.cursor;
      await sink.drain();
    }
  }
  return done({ code: ResultCode.success });
}

function sizeExceeded(limit: number): Result {
  return { code: ResultCode.sizeLimitExceeded, message: `more than ${limit} entries match` };
}
