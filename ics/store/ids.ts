// Record ids in compact binary form (a 20-byte fingerprint instead of 40 hex characters), in an
// encoding whose byte order is the ids' string order, so that stores can key by it and page
// and reconcile in id order. Shared by every store so that all of them order ids alike.
import { IcsError } from '../errors.ts';

/** Leading byte of an encoded id; the values order the classes as their strings order. */
const TAG_FINGERPRINT = 0x01;
const TAG_SHA256 = 0x02;
const CODE_PREFIX = 'sha256:';
const FINGERPRINT_HEX = 40;
const SHA256_HEX = 64;
const FINGERPRINT_ID = /^[0-9a-f]{40}$/;
const CODE_ID = /^sha256:[0-9a-f]{64}$/;

/** Bytes of the longest encoded id (tag + sha256). */
export const MAX_ENCODED_ID_BYTES = 1 + SHA256_HEX / 2;

/** True for the two id forms the record model makes: a v4 fingerprint or `sha256:` + hex. */
export function isRecordId(id: string): boolean {
  return FINGERPRINT_ID.test(id) || CODE_ID.test(id);
}

/** Hex digits to bytes; an odd last digit becomes the high nibble (a prefix sorts first). */
function packHex(hex: string, tag: number): Buffer {
  const even = hex.length % 2 === 0 ? hex : `${hex}0`;
  const out = Buffer.allocUnsafe(1 + even.length / 2);
  out[0] = tag;
  out.write(even, 1, 'hex');
  return out;
}

/**
 * The encoded id, or undefined when `id` is not a record id (so it cannot be stored);
 * with `lead`, that byte comes first (a key-space prefix), saving a copy on the read path.
 */
export function encodeId(id: string, lead?: number): Buffer | undefined {
  let tag: number;
  let hex: string;
  if (id.length === FINGERPRINT_HEX && FINGERPRINT_ID.test(id)) {
    tag = TAG_FINGERPRINT;
    hex = id;
  } else if (id.length === CODE_PREFIX.length + SHA256_HEX && CODE_ID.test(id)) {
    tag = TAG_SHA256;
    hex = id.slice(CODE_PREFIX.length);
  } else {
    return undefined;
  }
  if (lead === undefined) return packHex(hex, tag);
  const out = Buffer.allocUnsafe(2 + hex.length / 2);
  out[0] = lead;
  out[1] = tag;
  out.write(hex, 2, 'hex');
  return out;
}

/** The encoded id of a record about to be stored; a malformed id is a bug upstream. */
export function encodeRecordId(id: string): Buffer {
  const encoded = encodeId(id);
  if (!encoded) throw new IcsError('INTERNAL', `not a record id: ${JSON.stringify(id.slice(0, 80))}`);
  return encoded;
}

const HEX_DIGITS = '0123456789abcdef';

/** Characters that may follow `prefix` (already a valid id prefix) in some record id, ascending. */
function nextChars(prefix: string): string {
  if (prefix === '') return `${HEX_DIGITS}s`;
  if (prefix.startsWith('s')) {
    if (prefix.length < CODE_PREFIX.length) return CODE_PREFIX[prefix.length] as string;
    return prefix.length < CODE_PREFIX.length + SHA256_HEX ? HEX_DIGITS : '';
  }
  return prefix.length < FINGERPRINT_HEX ? HEX_DIGITS : '';
}

/** Key of a valid id prefix: not above any id that starts with it, above every id below it. */
function prefixKey(prefix: string): Buffer {
  if (prefix === '') return Buffer.alloc(0);
  if (!prefix.startsWith('s')) return packPrefix(prefix, TAG_FINGERPRINT, FINGERPRINT_HEX);
  if (prefix.length < CODE_PREFIX.length) return Buffer.of(TAG_SHA256);
  return packPrefix(prefix.slice(CODE_PREFIX.length), TAG_SHA256, SHA256_HEX);
}

/**
 * Packs a hex prefix. One digit short of a whole id, padding would give exactly the key of
 * the id ending in 0, so the key is taken just below it instead: the key before it plus a byte.
 */
function packPrefix(hex: string, tag: number, full: number): Buffer {
  const key = packHex(hex, tag);
  if (hex.length !== full - 1) return key;
  for (let i = key.length - 1; i >= 0; i--) {
    if (key[i] !== 0) {
      key[i] = (key[i] as number) - 1;
      break;
    }
    key[i] = 0xff;
  }
  return Buffer.concat([key, Buffer.of(0)]);
}

/** Hex string + 1 at the same width; undefined when it overflows (all f). */
function incrementHex(hex: string): string | undefined {
  const digits = [...hex];
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = HEX_DIGITS.indexOf(digits[i] as string);
    if (d < 15) {
      digits[i] = HEX_DIGITS[d + 1] as string;
      return digits.join('');
    }
    digits[i] = '0';
  }
  return undefined;
}

/** The smallest key above every id that starts with the valid, non-empty prefix `prefix`. */
function afterPrefix(prefix: string): Buffer {
  // A complete id: no id extends it, and the next id would collide with an incremented key.
  const exact = encodeId(prefix);
  if (exact) return Buffer.concat([exact, Buffer.of(0)]);
  const code = prefix.startsWith('s');
  if (code && prefix.length <= CODE_PREFIX.length) return Buffer.of(TAG_SHA256 + 1);
  const next = incrementHex(code ? prefix.slice(CODE_PREFIX.length) : prefix);
  if (next === undefined) return Buffer.of(code ? TAG_SHA256 + 1 : TAG_SHA256);
  return code ? packPrefix(next, TAG_SHA256, SHA256_HEX) : packPrefix(next, TAG_FINGERPRINT, FINGERPRINT_HEX);
}

/**
 * A position among encoded ids for any string used as a bound (`after`, sync-range bounds),
 * such that every record id compares with the key as it compares with the string: equal to
 * `encodeId` for ids, a prefix key for hex prefixes of ids (`ab1`, `sha256:3f`) such as
 * range-based reconciliation produces, and the right gap between ids for anything else.
 */
export function encodeIdBound(bound: string): Buffer {
  const exact = encodeId(bound);
  if (exact) return exact;
  // The longest prefix of `bound` that some record id starts with.
  let n = 0;
  while (n < bound.length && nextChars(bound.slice(0, n)).includes(bound[n] as string)) n++;
  const prefix = bound.slice(0, n);
  if (n === bound.length) return prefixKey(prefix);
  const c = bound[n] as string;
  const allowed = nextChars(prefix);
  // A complete id followed by more characters: just above that id.
  if (allowed === '') return Buffer.concat([prefixKey(prefix), Buffer.of(0)]);
  const below = [...allowed].filter((x) => x < c);
  // `bound` sorts before every id extending `prefix`, or after every id extending `prefix` + below.
  return below.length === 0 ? prefixKey(prefix) : afterPrefix(prefix + below.at(-1));
}

/** Reads an encoded id back into its string form. */
export function decodeId(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
  const tag = buf[0];
  if (tag === TAG_FINGERPRINT && buf.length === 1 + FINGERPRINT_HEX / 2) return buf.toString('hex', 1);
  if (tag === TAG_SHA256 && buf.length === 1 + SHA256_HEX / 2) return CODE_PREFIX + buf.toString('hex', 1);
  throw new IcsError('INTERNAL', 'stored id is not a record id');
}

/** Length of the encoded id starting at `start` (its tag fixes the length). */
export function encodedIdLength(bytes: Uint8Array, start: number): number {
  const tag = bytes[start];
  if (tag === TAG_FINGERPRINT) return 1 + FINGERPRINT_HEX / 2;
  if (tag === TAG_SHA256) return 1 + SHA256_HEX / 2;
  throw new IcsError('INTERNAL', 'stored id is not a record id');
}

/** Orders two record ids (their string order); the order stores page and reconcile in. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders a record id against a bound string exactly as an encoded store does. */
export function compareIdToBound(id: string, bound: string): number {
  return Buffer.compare(encodeRecordId(id), encodeIdBound(bound));
}
