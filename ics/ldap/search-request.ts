// SearchRequest decoding (RFC 4511 §4.5.1): the one path for searches, the request on the hot
// path. ldapjs decodes every other request (ldapjs.ts) but not this one: its filter decoding
// escapes non-ASCII and `()*\` in assertion values, and through ldapjs a search decodes about
// eight times slower (≈ 85 µs more per search, on the order of a fifth of a search by
// fingerprint) — it builds a reader, message and filter objects and a parsed DN every time.
// Yields the same DecodedRequest as ldapjs.ts (test/ldap/search-request.test.ts holds the two
// side by side). The message's shape was checked before (shapeOf).
import { element, readInteger, Tag } from './ber.ts';
import { decodeFilter } from './filter-decoder.ts';
import { DecodeError, type DecodedControl, type DecodedRequest, PAGED_RESULTS_OID } from './ldapjs.ts';

export { rawFilter } from './filter-decoder.ts';

type Span = { readonly start: number; readonly end: number };

const utf8 = (buf: Buffer, e: Span) => buf.toString('utf8', e.start, e.end);

function expect(tag: number, found: number, what: string): void {
  if (tag !== found) throw new DecodeError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${found.toString(16)}`);
}

/** Controls ::= SEQUENCE OF Control (RFC 4511 §4.1.11); the paged-results value decoded as ldapjs does. */
function controls(buf: Buffer, e: Span): DecodedControl[] {
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

/** Decodes a whole LDAPMessage holding a SearchRequest. Throws DecodeError (or BerError) for anything else. */
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
  const f = decodeFilter(message, typesOnly.end, op.end);
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
