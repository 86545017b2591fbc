// Search filters (RFC 4511 §4.5.1.7) decoded from their BER, with assertion values kept as
// sent: ldapjs's filter decoder escapes non-ASCII and `()*\` in them, so that
// `(pgpUserID=Ünïcödé)` would look for other text. The message's shape (depth, element count)
// was checked before (shapeOf), which bounds the recursion.
import { element, Tag } from './ber.ts';
import { DecodeError, type DecodedFilter } from './ldapjs.ts';

type Span = { readonly start: number; readonly end: number };

const utf8 = (buf: Buffer, e: Span) => buf.toString('utf8', e.start, e.end);

function expect(tag: number, found: number, what: string): void {
  if (tag !== found) throw new DecodeError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${found.toString(16)}`);
}

/** A filter node shaped like ldapjs's (see DecodedFilter); `toString` names the type only. */
function node(type: string, fields: Omit<DecodedFilter, 'type' | 'toString'>): DecodedFilter {
  return { type, ...fields, toString: () => type };
}

/** AttributeValueAssertion ::= SEQUENCE { attributeDesc, assertionValue } */
function ava(buf: Buffer, e: Span, type: string): DecodedFilter {
  const attribute = element(buf, e.start, e.end);
  expect(Tag.octetString, attribute.tag, 'attribute description');
  const value = element(buf, attribute.end, e.end);
  expect(Tag.octetString, value.tag, 'assertion value');
  if (value.end !== e.end) throw new DecodeError('junk after an assertion');
  return node(type, { attribute: utf8(buf, attribute), value: utf8(buf, value) });
}

/** SubstringFilter ::= SEQUENCE { type, substrings SEQUENCE OF CHOICE { initial [0], any [1], final [2] } } */
function substrings(buf: Buffer, e: Span): DecodedFilter {
  const attribute = element(buf, e.start, e.end);
  expect(Tag.octetString, attribute.tag, 'attribute description');
  const list = element(buf, attribute.end, e.end);
  expect(Tag.sequence, list.tag, 'substrings');
  let initial: string | undefined;
  let final: string | undefined;
  const any: string[] = [];
  for (let at = list.start; at < list.end; ) {
    const piece = element(buf, at, list.end);
    const text = utf8(buf, piece);
    // At most one initial (first) and one final (last).
    if (piece.tag === 0x80 && initial === undefined && any.length === 0 && final === undefined) initial = text;
    else if (piece.tag === 0x81 && final === undefined) any.push(text);
    else if (piece.tag === 0x82 && final === undefined) final = text;
    else throw new DecodeError('misplaced substring piece');
    at = piece.end;
  }
  if (initial === undefined && final === undefined && any.length === 0) throw new DecodeError('substrings without a piece');
  return node('SubstringFilter', { attribute: utf8(buf, attribute), initial, any, final });
}

/** Decodes the Filter element at `offset`; `next` is the offset after it. */
export function decodeFilter(buf: Buffer, offset: number, end: number): { filter: DecodedFilter; next: number } {
  const e = element(buf, offset, end);
  switch (e.tag) {
    case 0xa0:
    case 0xa1: {
      const clauses: DecodedFilter[] = [];
      for (let at = e.start; at < e.end; ) {
        const c = decodeFilter(buf, at, e.end);
        clauses.push(c.filter);
        at = c.next;
      }
      return { filter: node(e.tag === 0xa0 ? 'AndFilter' : 'OrFilter', { clauses }), next: e.end };
    }
    case 0xa2: {
      const inner = decodeFilter(buf, e.start, e.end);
      if (inner.next !== e.end) throw new DecodeError('not filter with more than one clause');
      return { filter: node('NotFilter', { filter: inner.filter }), next: e.end };
    }
    case 0xa3:
      return { filter: ava(buf, e, 'EqualityFilter'), next: e.end };
    case 0xa5:
      return { filter: ava(buf, e, 'GreaterThanEqualsFilter'), next: e.end };
    case 0xa6:
      return { filter: ava(buf, e, 'LessThanEqualsFilter'), next: e.end };
    case 0xa8:
      return { filter: ava(buf, e, 'ApproximateFilter'), next: e.end };
    case 0x87:
      return { filter: node('PresenceFilter', { attribute: utf8(buf, e) }), next: e.end };
    case 0xa4:
      return { filter: substrings(buf, e), next: e.end };
    case 0xa9:
      // Extensible matching is not supported: compiled as undefined (filter.ts).
      return { filter: node('ExtensibleFilter', {}), next: e.end };
    default:
      throw new DecodeError(`invalid filter type 0x${e.tag.toString(16)}`);
  }
}

/** Where the filter of a whole LDAPMessage holding a SearchRequest lies: after six fields. */
function filterOffset(message: Buffer): { at: number; end: number } {
  const outer = element(message, 0);
  const id = element(message, outer.start, outer.end);
  const op = element(message, id.end, outer.end);
  expect(0x63, op.tag, 'operation');
  // baseObject, scope, derefAliases, sizeLimit, timeLimit, typesOnly
  let at = op.start;
  for (let i = 0; i < 6; i++) at = element(message, at, op.end).end;
  return { at, end: op.end };
}

/** The search filter's bytes as sent: what ties a paged-results cookie to its search. */
export function rawFilter(message: Buffer): Buffer {
  const { at, end } = filterOffset(message);
  return message.subarray(at, element(message, at, end).end);
}
