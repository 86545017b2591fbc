// A fast reading of the one shape GnuPG sends to /pks/add — a single ASCII-armored public
// key block (RFC 4880 §6.2) — into its packet bytes, with node's native base64 decoder.
// openpgp.js's unarmor (which the record model's `dearmor` uses) goes through web streams and
// costs ~20× more per key; that difference was a third of an upload's CPU time. This is
// only a decoding shortcut: the bytes still go through the record model's one entry point,
// and anything not in the plain shape is left to it (undefined: use the text as it came).
// As in openpgp.js (RFC 9580 §6.1), the CRC-24 line is not checked: the signatures are.

const BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----';
const END = '-----END PGP PUBLIC KEY BLOCK-----';
const HEADER = /^[A-Za-z][A-Za-z0-9-]*: ?.*$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;
const CHECKSUM = /^=[A-Za-z0-9+/]{4}$/;

export function decodePublicKeyArmor(text: string): Buffer | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd());
  let at = 0;
  while (at < lines.length && lines[at] === '') at++;
  if (lines[at] !== BEGIN) return undefined;
  at++;
  // Armor headers (Version:, Comment:, …), then one blank line.
  while (at < lines.length && lines[at] !== '') {
    if (!HEADER.test(lines[at] as string)) return undefined;
    at++;
  }
  if (lines[at] !== '') return undefined;
  at++;
  const body: string[] = [];
  for (; at < lines.length; at++) {
    const line = lines[at] as string;
    if (line === END || CHECKSUM.test(line)) break;
    if (!BASE64_LINE.test(line)) return undefined;
    body.push(line);
  }
  if (at < lines.length && CHECKSUM.test(lines[at] as string)) at++;
  if (lines[at] !== END) return undefined;
  // Nothing but blank lines after the block: a second block (a keyring) takes the general path.
  for (at++; at < lines.length; at++) if (lines[at] !== '') return undefined;
  const base64 = body.join('');
  // Padding only at the very end, and a length base64 can have.
  if (base64.length % 4 !== 0 || /=[^=]/.test(base64)) return undefined;
  const bytes = Buffer.from(base64, 'base64');
  return bytes.length > 0 ? bytes : undefined;
}
