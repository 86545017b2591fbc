// ASCII armor (RFC 4880 §6, RFC 9580 §6): the one codec between packet bytes and armored text.
// - `armor` writes every kind records are served in, with node's native base64 and without
//   openpgp.js's stream machinery (a cold LDAP entry armors its key once, and openpgp.js's
//   writer was a tenth of a search); its text is openpgp.js's to the byte (test/record/armor.test.ts).
// - `decodePublicKeyArmor` reads the one shape GnuPG uploads — a single public key block — in
//   one pass over bytes; anything else it leaves to `dearmor` (undefined).
// - `dearmor` reads every other shape (keyrings, messages, signatures) through openpgp.js.
// As in openpgp.js (RFC 9580 §6.1) neither reader checks the CRC-24 line: the signatures are.
// This module loads openpgp.js only when `dearmor` first needs it: the submission decoder's
// worker thread imports it for the fast reader and stays light (openpgp.js is ~20 MB resident).
import { IcsError } from '../errors.ts';
import type { RecordLimits } from './limits.ts';

export type ArmorKind = 'publicKey' | 'message' | 'signature';

const LABELS: Readonly<Record<ArmorKind, string>> = {
  publicKey: 'PGP PUBLIC KEY BLOCK',
  message: 'PGP MESSAGE',
  signature: 'PGP SIGNATURE',
};
/** 45 bytes → 60 base64 characters: openpgp.js's line length. */
const LINE_BYTES = 45;

/** CRC-24 of RFC 4880 §6.1: init 0xB704CE, generator 0x1864CFB, table-driven. */
const CRC24_TABLE = (() => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 16;
    for (let j = 0; j < 8; j++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
    table[i] = crc & 0xffffff;
  }
  return table;
})();

export function crc24(bytes: Uint8Array): number {
  let crc = 0xb704ce;
  // Bits above the 24th are shifted out of the 32-bit value, never read: masked once at the end.
  for (let i = 0, n = bytes.length; i < n; i++) crc = (crc << 8) ^ (CRC24_TABLE[((crc >>> 16) ^ (bytes[i] as number)) & 0xff] as number);
  return crc & 0xffffff;
}

const asBuffer = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/**
 * ASCII-armors packet bytes (§6.2): no headers, 60-character lines, and the CRC-24 line,
 * which GnuPG 2.2 needs (it misreads armor without one when the data needs no padding).
 */
export function armor(kind: ArmorKind, bytes: Uint8Array): string {
  const label = LABELS[kind];
  const b = asBuffer(bytes);
  // One base64 pass, cut into lines (LINE_BYTES is a multiple of 3: lines end on whole groups).
  const text = b.toString('base64');
  const lineChars = (LINE_BYTES / 3) * 4;
  let body = '';
  for (let at = 0; at < text.length; at += lineChars) body += `${text.slice(at, at + lineChars)}\n`;
  const crc = crc24(b);
  const checksum = Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64');
  return `-----BEGIN ${label}-----\n\n${body}=${checksum}\n-----END ${label}-----\n`;
}

// ---- The fast reader: one public key block ----
//
// openpgp.js's unarmor goes through web streams and costs ~20× more per key; on /pks/add that
// difference was a third of an upload's CPU time. This is only a decoding shortcut: the bytes
// still go through the record model's one entry point. It reads bytes, one pass with a table
// per character, because a large submission's armor (a flood that fits the limits: megabytes
// of it) is decoded on every upload; a regular expression per line and a split into line
// strings cost ~10× more.

const KEY_BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----';
const KEY_END = '-----END PGP PUBLIC KEY BLOCK-----';
const HEADER = /^[A-Za-z][A-Za-z0-9-]*: ?/;
const CHECKSUM = /^=[A-Za-z0-9+/]{4}$/;
const LF = 0x0a;
const EQUALS = 0x3d;
const DASH = 0x2d;

/** 1 for the 64 base64 characters; 0 for anything else ('=' is handled apart). */
const BASE64 = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64[c.charCodeAt(0)] = 1;

/** Trailing blanks a line may carry (String.prototype.trimEnd's ASCII part). */
const isBlank = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0b || c === 0x0c;

/**
 * The packet bytes of a single ASCII-armored public key block (armor headers, CRLF and blank
 * lines around it allowed), or undefined for any other shape: the caller then hands the
 * input as it came to `dearmor` (or to the record model's entry point, which calls it).
 */
export function decodePublicKeyArmor(input: string | Uint8Array): Buffer | undefined {
  let bytes: Buffer;
  if (typeof input === 'string') {
    // Only ASCII text has the plain shape; latin1 would fold other characters onto ASCII ones.
    if (Buffer.byteLength(input, 'utf8') !== input.length) return undefined;
    bytes = Buffer.from(input, 'latin1');
  } else {
    bytes = asBuffer(input);
  }
  const lines = new LineReader(bytes);
  let line = lines.next();
  while (line !== undefined && line.start === line.end) line = lines.next();
  if (line === undefined || lines.text(line) !== KEY_BEGIN) return undefined;
  // Armor headers (Version:, Comment:, …), then one blank line.
  for (line = lines.next(); line !== undefined && line.start !== line.end; line = lines.next()) {
    if (!HEADER.test(lines.text(line, 80))) return undefined;
  }
  if (line === undefined) return undefined;
  // The base64 lines: '=' only as padding at the very end of them all.
  let bodyStart = -1;
  let bodyEnd = -1;
  let characters = 0;
  let padded = false;
  for (line = lines.next(); line !== undefined; line = lines.next()) {
    if (bytes[line.start] === EQUALS && line.end - line.start === 5 && CHECKSUM.test(lines.text(line))) break;
    if (bytes[line.start] === DASH && lines.text(line) === KEY_END) break;
    for (let i = line.start; i < line.end; i++) {
      const c = bytes[i] as number;
      if (c === EQUALS) padded = true;
      else if (BASE64[c] === 0 || padded) return undefined;
    }
    characters += line.end - line.start;
    if (bodyStart < 0) bodyStart = line.start;
    bodyEnd = line.end;
  }
  if (line !== undefined && bytes[line.start] === EQUALS) line = lines.next();
  if (line === undefined || lines.text(line) !== KEY_END) return undefined;
  // Nothing but blank lines after the block: a second block (a keyring) takes the general path.
  for (line = lines.next(); line !== undefined; line = lines.next()) if (line.start !== line.end) return undefined;
  if (bodyStart < 0 || characters % 4 !== 0) return undefined;
  // node's base64 decoder skips the line breaks (and trailing blanks) between the lines.
  const decoded = Buffer.from(bytes.toString('latin1', bodyStart, bodyEnd), 'base64');
  return decoded.length > 0 ? decoded : undefined;
}

interface Line {
  readonly start: number;
  /** Exclusive, trailing blanks (and the CR of a CRLF) removed. */
  readonly end: number;
}

/** Lines of `bytes` split at LF, by node's native search. */
class LineReader {
  #at = 0;

  constructor(private readonly bytes: Buffer) {}

  next(): Line | undefined {
    const bytes = this.bytes;
    if (this.#at > bytes.length) return undefined;
    const start = this.#at;
    let end = bytes.indexOf(LF, start);
    if (end < 0) end = bytes.length;
    this.#at = end + 1;
    while (end > start && isBlank(bytes[end - 1] as number)) end--;
    return { start, end };
  }

  /** The line as text (latin1), at most `max` characters of it when given. */
  text(line: Line, max = Number.POSITIVE_INFINITY): string {
    return this.bytes.toString('latin1', line.start, Math.min(line.end, line.start + max));
  }
}

// ---- The general reader ----

const ARMOR_BEGIN = '-----BEGIN PGP ';

/** True when the input looks like ASCII armor rather than binary packets. */
export function isArmored(input: Uint8Array | string): boolean {
  if (typeof input === 'string') return input.trimStart().startsWith(ARMOR_BEGIN);
  // A binary packet starts with a byte >= 0x80; armor with ASCII.
  const head = Buffer.from(input.subarray(0, 64)).toString('latin1').trimStart();
  return head.startsWith(ARMOR_BEGIN);
}

let openpgpModule: Promise<typeof import('openpgp')> | undefined;
const loadOpenpgp = () => (openpgpModule ??= import('openpgp'));

/**
 * Turns armored or binary input into packet bytes, enforcing size limits before
 * decoding. Armor with a bad checksum or bad base64 is RECORD_MALFORMED.
 */
export async function dearmor(
  input: Uint8Array | string,
  limits: Pick<RecordLimits, 'maxRecordBytes' | 'maxArmoredBytes'>,
): Promise<Uint8Array> {
  if (!isArmored(input)) {
    if (typeof input === 'string') throw new IcsError('RECORD_MALFORMED', 'input is neither armored nor binary OpenPGP');
    if (input.length > limits.maxRecordBytes) throw tooLarge(input.length, limits.maxRecordBytes);
    return input;
  }
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > limits.maxArmoredBytes) throw tooLarge(size, limits.maxArmoredBytes);
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  const { unarmor } = await loadOpenpgp();
  let data: Uint8Array;
  try {
    const unarmored = await unarmor(text);
    data = unarmored.data as Uint8Array;
  } catch (cause) {
    throw new IcsError('RECORD_MALFORMED', `invalid ASCII armor: ${(cause as Error).message}`, { cause });
  }
  if (data.length > limits.maxRecordBytes) throw tooLarge(data.length, limits.maxRecordBytes);
  return data;
}

function tooLarge(size: number, limit: number): IcsError {
  return new IcsError('LIMIT_EXCEEDED', `record of ${size} bytes exceeds the limit of ${limit}`, {
    details: { limit: 'maxRecordBytes', size },
  });
}
