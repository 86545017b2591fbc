// A direct decoder for SearchRequest (RFC 4511 §4.5.1), the one request on the hot path:
// ldapjs's decoder builds a reader, a message object, filter objects that escape their values
// and a parsed DN for every search, which cost more than the rest of a search by fingerprint.
// It yields the same DecodedRequest as ldapjs.ts; anything it does not accept is handed to
// ldapjs, whose answer (or error) stands. The message's shape was checked before (shapeOf).
import { element, readInteger, Tag } from './ber.ts';
import { DecodeError, type DecodedControl, type DecodedFilter, type DecodedRequest, PAGED_RESULTS_OID } from './ldapjs.ts';

const utf8 = (buf: Buffer, e: { start: number; end: number }) => buf.toString('utf8', e.start, e.end);

function expect(tag: number, found: number, what: string): void {
  if (tag !== found) throw new DecodeError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${found.toString(16)}`);
}

/** A filter node shaped like ldapjs's (see DecodedFilter); `toString` is not needed on this path. */
function node(type: string, fields: Omit<DecodedFilter, 'type' | 'toString'>): DecodedFilter {
  return { type, ...fields, toString: () => type };
}

function ava(buf: Buffer, e: { start: number; end: number }, type: string): DecodedFilter {
  const attribute = element(buf, e.start, e.end);
  expect(Tag.octetString, attribute.tag, 'attribute description');
  const value = element(buf, attribute.end, e.end);
  expect(Tag.octetString, value.tag, 'assertion value');
  if (value.end !== e.end) throw new DecodeError('junk after an assertion');
  return node(type, { attribute: utf8(buf, attribute), value: utf8(buf, value) });
}

function filter(buf: Buffer, offset: number, end: number): { filter: DecodedFilter; next: number } {
  const e = element(buf, offset, end);
  switch (e.tag) {
    case 0xa0:
    case 0xa1: {
      const clauses: DecodedFilter[] = [];
      for (let at = e.start; at < e.end; ) {
        const c = filter(buf, at, e.end);
        clauses.push(c.filter);
        at = c.next;
      }
      return { filter: node(e.tag === 0xa0 ? 'AndFilter' : 'OrFilter', { clauses }), next: e.end };
    }
    case 0xa2: {
      const inner = filter(buf, e.start, e.end);
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
    case 0xa4: {
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
        // RFC 4511: at most one initial (first) and one final (last).
        if (piece.tag === 0x80 && initial === undefined && any.length === 0 && final === undefined) initial = text;
        else if (piece.tag === 0x81 && final === undefined) any.push(text);
        else if (piece.tag === 0x82 && final === undefined) final = text;
        else throw new DecodeError('misplaced substring piece');
        at = piece.end;
      }
      if (initial === undefined && final === undefined && any.length === 0) throw new DecodeError('substrings without a piece');
      return { filter: node('SubstringFilter', { attribute: utf8(buf, attribute), initial, any, final }), next: e.end };
    }
    case 0xa9:
      return { filter: node('ExtensibleFilter', {}), next: e.end };
    default:
      throw new DecodeError(`invalid filter type 0x${e.tag.toString(16)}`);
  }
}

function controls(buf: Buffer, e: { start: number; end: number }): DecodedControl[] {
  const out: DecodedControl[] = [];
  for (let at = e.start; at < e.end; ) {
    const c = element(buf, at, e.end);
    expect(Tag.sequence, c.tag, 'control');
    const type = element(buf, c.start, c.end);
    expect(Tag.octetString, type.tag, 'control type');
    let next = type.end;
    let criticality = false;
    let value: unknown = null;
    if (next < c.end && buf[next] === Tag.boolean) {
      const b = element(buf, next, c.end);
      criticality = buf[b.start] !== 0;
      next = b.end;
    }
    if (next < c.end) {
      const v = element(buf, next, c.end);
      expect(Tag.octetString, v.tag, 'control value');
      value = buf.subarray(v.start, v.end);
    }
    const oid = utf8(buf, type);
    if (oid === PAGED_RESULTS_OID && Buffer.isBuffer(value)) {
      // realSearchControlValue ::= SEQUENCE { size INTEGER, cookie OCTET STRING } (RFC 2696 §2)
      const seq = element(value, 0);
      expect(Tag.sequence, seq.tag, 'paged results value');
      const size = readInteger(value, seq.start, seq.end);
      const cookie = element(value, size.next, seq.end);
      expect(Tag.octetString, cookie.tag, 'paged results cookie');
      value = { size: size.value, cookie: Buffer.from(value.subarray(cookie.start, cookie.end)) };
    }
    out.push({ type: oid, criticality, value });
    at = c.end;
  }
  return out;
}

/** Decodes a whole LDAPMessage holding a SearchRequest. Throws DecodeError for anything else. */
export function decodeSearchRequest(message: Buffer): DecodedRequest {
  const outer = element(message, 0);
  const id = readInteger(message, outer.start, outer.end);
  const op = element(message, id.next, outer.end);
  expect(0x63, op.tag, 'operation');
  const base = element(message, op.start, op.end);
  expect(Tag.octetString, base.tag, 'baseObject');
  const scope = readInteger(message, base.end, op.end, Tag.enumerated);
  if (scope.value < 0 || scope.value > 2) throw new DecodeError(`scope ${scope.value}`);
  const deref = readInteger(message, scope.next, op.end, Tag.enumerated);
  const sizeLimit = readInteger(message, deref.next, op.end);
  const timeLimit = readInteger(message, sizeLimit.next, op.end);
  if (sizeLimit.value < 0 || timeLimit.value < 0) throw new DecodeError('negative limit');
  const typesOnly = element(message, timeLimit.next, op.end);
  expect(Tag.boolean, typesOnly.tag, 'typesOnly');
  const f = filter(message, typesOnly.end, op.end);
  const list = element(message, f.next, op.end);
  expect(Tag.sequence, list.tag, 'attributes');
  if (list.end !== op.end) throw new DecodeError('junk after the attribute list');
  const attributes: string[] = [];
  for (let at = list.start; at < list.end; ) {
    const a = element(message, at, list.end);
    expect(Tag.octetString, a.tag, 'attribute selector');
    attributes.push(utf8(message, a));
    at = a.end;
  }
  let decodedControls: DecodedControl[] = [];
  if (op.end < outer.end) {
    const c = element(message, op.end, outer.end);
    expect(0xa0, c.tag, 'controls');
    decodedControls = controls(message, c);
  }
  return {
    messageId: id.value,
    controls: decodedControls,
    op: 'search',
    base: utf8(message, base),
    scope: scope.value,
    sizeLimit: sizeLimit.value,
    timeLimit: timeLimit.value,
    typesOnly: message[typesOnly.start] !== 0,
    filter: f.filter,
    attributes,
  };
}

/** The search filter's bytes as sent: what ties a paged-results cookie to its search. */
export function rawFilter(message: Buffer): Buffer {
  const outer = element(message, 0);
  const id = element(message, outer.start, outer.end);
  const op = element(message, id.end, outer.end);
  let at = op.start;
  for (let i = 0; i < 6; i++) at = element(message, at, op.end).end;
  const f = element(message, at, op.end);
  return message.subarray(at, f.end);
}
