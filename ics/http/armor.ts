// A fast reading of the one shape GnuPG sends to /pks/add — a single ASCII-armored public
// key block (RFC 4880 §6.2) — into its packet bytes, with node's native base64 decoder.
// openpgp.js's unarmor (which the record model's `dearmor` uses) goes through web streams and
// costs ~20× more per key; that difference was a third of an upload's CPU time. This is
// only a decoding shortcut: the bytes still go through the record model's one entry point,
// and anything not in the plain shape is left to it (undefined: use the text as it came).
// As in openpgp.js (RFC 9580 §6.1), the CRC-24 line is not checked: the signatures are.
//
// It reads bytes, one pass with a table per character, because a large submission's armor
// (a flood that fits the limits: megabytes of it) is decoded on every /pks/add; a regular
// expression per line and a split into line strings cost ~10× more. POST /ics/v1/records
// reads keys with it too, hence its place in the host, beside the body decoder.

const BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----';
const END = '-----END PGP PUBLIC KEY BLOCK-----';
const HEADER = /^[A-Za-z][A-Za-z0-9-]*: ?/;
const CHECKSUM = /^=[A-Za-z0-9+/]{4}$/;
const LF = 0x0a;
const EQUALS = 0x3d;

/** 1 for the 64 base64 characters; 0 for anything else ('=' is handled apart). */
const BASE64 = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64[c.charCodeAt(0)] = 1;

/** Trailing blanks a line may carry (String.prototype.trimEnd's ASCII part). */
const isBlank = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0b || c === 0x0c;

export function decodePublicKeyArmor(input: string | Uint8Array): Buffer | undefined {
  let bytes: Buffer;
  if (typeof input === 'string') {
    // Only ASCII text has the plain shape; latin1 would fold other characters onto ASCII ones.
    if (Buffer.byteLength(input, 'utf8') !== input.length) return undefined;
    bytes = Buffer.from(input, 'latin1');
  } else {
    bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }
  const lines = new LineReader(bytes);
  let line = lines.next();
  while (line !== undefined && line.start === line.end) line = lines.next();
  if (line === undefined || lines.text(line) !== BEGIN) return undefined;
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
    if (bytes[line.start] === 0x2d && lines.text(line) === END) break;
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
  if (line === undefined || lines.text(line) !== END) return undefined;
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
