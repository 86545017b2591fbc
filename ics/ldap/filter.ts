// Search filters (RFC 4511 §4.5.1.7): compiled from ldapjs's decoded form into a small tree
// over this directory's schema, then evaluated with the three-valued logic the RFC defines
// (TRUE, FALSE, Undefined). Matching follows each attribute's rules (RFC 4517 §4.2):
// case-insensitive strings, integers, generalized times, booleans, DNs.
import { normaliseDn, normaliseValue } from './dit.ts';
import type { Entry } from './entry.ts';
import type { DecodedFilter } from './ldapjs.ts';
import { MAX_FILTER_DEPTH, MAX_FILTER_NODES } from './limits.ts';
import { type AttributeType, attributeType, objectClassName } from './schema.ts';

export type Filter =
  | { readonly kind: 'and' | 'or'; readonly clauses: readonly Filter[] }
  | { readonly kind: 'not'; readonly clause: Filter }
  | { readonly kind: 'eq' | 'ge' | 'le'; readonly type: AttributeType | undefined; readonly value: string }
  | {
      readonly kind: 'sub';
      readonly type: AttributeType | undefined;
      readonly initial: string | undefined;
      readonly any: readonly string[];
      readonly final: string | undefined;
    }
  | { readonly kind: 'present'; readonly type: AttributeType | undefined }
  /** Items this server cannot evaluate (extensible match): always Undefined. */
  | { readonly kind: 'undefined' };

/** A filter deeper or larger than the limits (adminLimitExceeded). */
export class FilterLimitError extends Error {
  override readonly name = 'FilterLimitError';
}

/** A filter this server cannot read at all (protocolError). */
export class FilterError extends Error {
  override readonly name = 'FilterError';
}

const text = (value: unknown): string => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value ?? ''));

/** Compiles a decoded filter; throws FilterLimitError or FilterError. */
export function compileFilter(decoded: DecodedFilter): Filter {
  let nodes = 0;
  const walk = (f: DecodedFilter, depth: number): Filter => {
    nodes++;
    if (nodes > MAX_FILTER_NODES) throw new FilterLimitError(`filter has more than ${MAX_FILTER_NODES} items`);
    if (depth > MAX_FILTER_DEPTH) throw new FilterLimitError(`filter nested deeper than ${MAX_FILTER_DEPTH} levels`);
    const type = () => attributeType(f.attribute ?? '');
    switch (f.type) {
      case 'AndFilter':
      case 'OrFilter':
        return { kind: f.type === 'AndFilter' ? 'and' : 'or', clauses: (f.clauses ?? []).map((c) => walk(c, depth + 1)) };
      case 'NotFilter':
        if (!f.filter) throw new FilterError('not filter without a clause');
        return { kind: 'not', clause: walk(f.filter, depth + 1) };
      case 'EqualityFilter':
      case 'ApproximateFilter': // approximate matching is equality here (RFC 4511 §4.5.1.7.6 allows it)
        return { kind: 'eq', type: type(), value: text(f.value) };
      case 'GreaterThanEqualsFilter':
        return { kind: 'ge', type: type(), value: text(f.value) };
      case 'LessThanEqualsFilter':
        return { kind: 'le', type: type(), value: text(f.value) };
      case 'SubstringFilter':
        return { kind: 'sub', type: type(), initial: f.initial || undefined, any: (f.any ?? []).filter((a) => a !== ''), final: f.final || undefined };
      case 'PresenceFilter':
        return { kind: 'present', type: type() };
      case 'ExtensibleFilter':
        return { kind: 'undefined' };
      default:
        throw new FilterError(`unknown filter type ${f.type}`);
    }
  };
  return walk(decoded, 1);
}

type Truth = 0 | 1 | 2;
export const FALSE: Truth = 0;
export const TRUE: Truth = 1;
export const UNDEFINED: Truth = 2;

// ---- value preparation per matching rule ------------------------------------------------

const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)$/;

/** GeneralizedTime (RFC 4517 §3.3.13) to milliseconds since the epoch, or undefined. */
export function parseGeneralizedTime(value: string): number | undefined {
  const m = GENERALIZED_TIME.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi = '00', s = '00', , zone = 'Z'] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const offset = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5) || '0');
    ms -= sign * offset * 60_000;
  }
  return ms;
}

/** A value in the form equality and ordering compare, or undefined when it has the wrong syntax. */
function prepare(type: AttributeType, value: string): string | number | undefined {
  switch (type.matching) {
    case 'caseIgnore':
    case 'caseIgnoreIA5':
      return normaliseValue(value);
    case 'integer':
      return /^\s*-?\d{1,15}\s*$/.test(value) ? Number(value) : undefined;
    case 'generalizedTime':
      return parseGeneralizedTime(value);
    case 'boolean': {
      const v = value.trim().toUpperCase();
      return v === 'TRUE' || v === 'FALSE' ? v : undefined;
    }
    case 'dn':
      try {
        return normaliseDn(value);
      } catch {
        return undefined;
      }
    case 'objectClass':
      return objectClassName(value) ?? value.trim().toLowerCase();
    case 'octets':
      return value;
  }
}

function prepared(entry: Entry, type: AttributeType): ReadonlyArray<string | number | undefined> | undefined {
  return entry.prepared(type.name.toLowerCase(), 'eq', (values) => values.map((v) => prepare(type, v)));
}

function lowered(entry: Entry, type: AttributeType): readonly string[] | undefined {
  return entry.prepared(type.name.toLowerCase(), 'sub', (values) => values.map((v) => v.toLowerCase()));
}

/** Substring match (RFC 4517 §4.2.6 style) on lower-cased strings. */
export function matchesSubstrings(value: string, initial: string | undefined, any: readonly string[], final: string | undefined): boolean {
  let at = 0;
  let end = value.length;
  if (initial !== undefined) {
    if (!value.startsWith(initial)) return false;
    at = initial.length;
  }
  if (final !== undefined) {
    if (value.length - final.length < at || !value.endsWith(final)) return false;
    end = value.length - final.length;
  }
  for (const part of any) {
    const found = value.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** Evaluates a filter on an entry: TRUE, FALSE or UNDEFINED. */
export function evaluate(filter: Filter, entry: Entry): Truth {
  switch (filter.kind) {
    case 'and': {
      let result: Truth = TRUE;
      for (const c of filter.clauses) {
        const r = evaluate(c, entry);
        if (r === FALSE) return FALSE;
        if (r === UNDEFINED) result = UNDEFINED;
      }
      return result;
    }
    case 'or': {
      let result: Truth = FALSE;
      for (const c of filter.clauses) {
        const r = evaluate(c, entry);
        if (r === TRUE) return TRUE;
        if (r === UNDEFINED) result = UNDEFINED;
      }
      return result;
    }
    case 'not': {
      const r = evaluate(filter.clause, entry);
      return r === UNDEFINED ? UNDEFINED : r === TRUE ? FALSE : TRUE;
    }
    case 'present':
      if (!filter.type) return FALSE;
      return entry.has(filter.type.name.toLowerCase()) ? TRUE : FALSE;
    case 'eq':
    case 'ge':
    case 'le': {
      const type = filter.type;
      if (!type || (filter.kind !== 'eq' && !type.ordered)) return UNDEFINED;
      const assertion = prepare(type, filter.value);
      if (assertion === undefined) return UNDEFINED;
      const values = prepared(entry, type);
      if (!values) return FALSE;
      for (const v of values) {
        if (v === undefined) continue;
        if (filter.kind === 'eq' ? v === assertion : filter.kind === 'ge' ? v >= assertion : v <= assertion) return TRUE;
      }
      return FALSE;
    }
    case 'sub': {
      const type = filter.type;
      if (!type || !type.substrings) return UNDEFINED;
      const values = lowered(entry, type);
      if (!values) return FALSE;
      const initial = filter.initial?.toLowerCase();
      const final = filter.final?.toLowerCase();
      const any = filter.any.map((a) => a.toLowerCase());
      return values.some((v) => matchesSubstrings(v, initial, any, final)) ? TRUE : FALSE;
    }
    case 'undefined':
      return UNDEFINED;
  }
}

/** A filter matches an entry only when it evaluates to TRUE (RFC 4511 §4.5.1.7). */
export function matches(filter: Filter, entry: Entry): boolean {
  return evaluate(filter, entry) === TRUE;
}

/** Prepares an assertion value for `compare` (RFC 4511 §4.10); undefined on a syntax error. */
export function compareValues(type: AttributeType, entry: Entry, value: string): boolean | undefined {
  const assertion = prepare(type, value);
  if (assertion === undefined) return undefined;
  return (prepared(entry, type) ?? []).some((v) => v === assertion);
}
