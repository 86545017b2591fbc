// The subset of BER (X.690 §8) LDAP uses (RFC 4511 §5.1: definite lengths, one-byte tags):
// a writer for responses and pre-encoded entries, and a reader for framing and for checking a
// request's shape before the ldapjs decoder (which recurses without bound) sees it.

/** Input that is not BER as RFC 4511 §5.1 allows it. */
export class BerError extends Error {
  override readonly name = 'BerError';
}

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  octetString: 0x04,
  enumerated: 0x0a,
  sequence: 0x30,
  set: 0x31,
} as const;

// ---- writing --------------------------------------------------------------------------

function lengthOf(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  if (n < 0x1000000) return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.from([0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

/** One element: tag, definite length, content. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  const length = lengthOf(content.length);
  const out = Buffer.allocUnsafe(1 + length.length + content.length);
  out[0] = tag;
  length.copy(out, 1);
  out.set(content, 1 + length.length);
  return out;
}

/** A constructed element holding `parts` in order (one allocation). */
export function constructed(tag: number, parts: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const p of parts) size += p.length;
  const length = lengthOf(size);
  const out = Buffer.allocUnsafe(1 + length.length + size);
  out[0] = tag;
  length.copy(out, 1);
  let at = 1 + length.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function octets(value: string | Uint8Array, tag: number = Tag.octetString): Buffer {
  return tlv(tag, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
}

/** Two's-complement INTEGER (or ENUMERATED) content, shortest form (X.690 §8.3.2). */
export function integer(n: number, tag: number = Tag.integer): Buffer {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer: ${n}`);
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v !== 0 && v !== -1);
  const top = bytes[0] as number;
  if (n >= 0 && top & 0x80) bytes.unshift(0);
  if (n < 0 && !(top & 0x80)) bytes.unshift(0xff);
  return tlv(tag, Buffer.from(bytes));
}

export function boolean(value: boolean): Buffer {
  return Buffer.from([Tag.boolean, 1, value ? 0xff : 0]);
}

// ---- reading --------------------------------------------------------------------------

export interface Header {
  readonly tag: number;
  /** Content length. */
  readonly length: number;
  /** Bytes of tag and length. */
  readonly headerBytes: number;
}

/**
 * The header at `offset`, or undefined when `end` comes first (more input needed). Throws
 * BerError for what LDAP forbids: multi-byte tags, indefinite lengths, lengths over 2^32.
 */
export function readHeader(buf: Uint8Array, offset: number, end: number = buf.length): Header | undefined {
  if (offset >= end) return undefined;
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new BerError('multi-byte tags are not used by LDAP');
  if (offset + 1 >= end) return undefined;
  const first = buf[offset + 1] as number;
  if (first < 0x80) return { tag, length: first, headerBytes: 2 };
  const count = first & 0x7f;
  if (count === 0) throw new BerError('indefinite length (RFC 4511 §5.1 requires definite lengths)');
  if (count > 4) throw new BerError('length longer than four bytes');
  if (offset + 2 + count > end) return undefined;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (buf[offset + 2 + i] as number);
  return { tag, length, headerBytes: 2 + count };
}

export interface Element extends Header {
  /** Offset of the content. */
  readonly start: number;
  /** Offset just past the content. */
  readonly end: number;
}

/** The complete element at `offset` (throws BerError when it does not fit before `end`). */
export function element(buf: Uint8Array, offset: number, end: number = buf.length): Element {
  // readHeader inlined: this runs for every element of every request.
  if (offset + 2 > end) throw new BerError('truncated element header');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new BerError('multi-byte tags are not used by LDAP');
  const first = buf[offset + 1] as number;
  let length = first;
  let headerBytes = 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0) throw new BerError('indefinite length (RFC 4511 §5.1 requires definite lengths)');
    if (count > 4) throw new BerError('length longer than four bytes');
    if (offset + 2 + count > end) throw new BerError('truncated element header');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[offset + 2 + i] as number);
    headerBytes = 2 + count;
  }
  const start = offset + headerBytes;
  if (start + length > end) throw new BerError('element longer than its container');
  return { tag, length, headerBytes, start, end: start + length };
}

export function readInteger(buf: Uint8Array, offset: number, end: number, tag: number = Tag.integer): { value: number; next: number } {
  const e = element(buf, offset, end);
  if (e.tag !== tag) throw new BerError(`expected tag 0x${tag.toString(16)}, found 0x${e.tag.toString(16)}`);
  if (e.length === 0 || e.length > 6) throw new BerError('integer of unsupported length');
  // Two's complement: a negative number starts from -1 so that each byte shifts in below it.
  let value = (buf[e.start] as number) & 0x80 ? -1 : 0;
  for (let i = e.start; i < e.end; i++) value = value * 256 + (buf[i] as number);
  return { value, next: e.end };
}

export function readOctets(buf: Uint8Array, offset: number, end: number, tag: number = Tag.octetString): { value: Buffer; next: number } {
  const e = element(buf, offset, end);
  if (e.tag !== tag) throw new BerError(`expected tag 0x${tag.toString(16)}, found 0x${e.tag.toString(16)}`);
  return { value: Buffer.from(buf.buffer, buf.byteOffset + e.start, e.length), next: e.end };
}

export interface Shape {
  /** Deepest nesting of constructed elements (the outermost counts as 1). */
  readonly depth: number;
  readonly elements: number;
}

/**
 * Walks every element in [start, end) without recursion or allocation per element and checks
 * that lengths nest exactly. Throws BerError when they do not, or when `maxDepth` /
 * `maxElements` is passed (the caller tells those apart by the `limit` property).
 */
export function shapeOf(buf: Uint8Array, start: number, end: number, maxDepth: number, maxElements: number): Shape {
  const ends = new Int32Array(maxDepth + 2);
  let top = 0;
  ends[0] = end;
  let offset = start;
  let depth = 0;
  let elements = 0;
  while (top >= 0) {
    const limit = ends[top] as number;
    if (offset === limit) {
      top--;
      continue;
    }
    // Header (as readHeader, inlined): one-byte tag, definite length of at most four bytes.
    if (offset + 2 > limit) throw new BerError('truncated element header');
    const tag = buf[offset] as number;
    if ((tag & 0x1f) === 0x1f) throw new BerError('multi-byte tags are not used by LDAP');
    const first = buf[offset + 1] as number;
    let length = first;
    let header = 2;
    if (first >= 0x80) {
      const count = first & 0x7f;
      if (count === 0) throw new BerError('indefinite length (RFC 4511 §5.1 requires definite lengths)');
      if (count > 4) throw new BerError('length longer than four bytes');
      if (offset + 2 + count > limit) throw new BerError('truncated element header');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + (buf[offset + 2 + i] as number);
      header = 2 + count;
    }
    const contentStart = offset + header;
    const contentEnd = contentStart + length;
    if (contentEnd > limit) throw new BerError('element longer than its container');
    elements++;
    if (elements > maxElements) throw Object.assign(new BerError(`more than ${maxElements} BER elements`), { limit: 'elements' });
    if (tag & 0x20) {
      top++;
      depth = Math.max(depth, top);
      if (depth > maxDepth) throw Object.assign(new BerError(`BER nesting deeper than ${maxDepth}`), { limit: 'depth' });
      ends[top] = contentEnd;
      offset = contentStart;
    } else {
      offset = contentEnd;
    }
  }
  return { depth, elements };
}
