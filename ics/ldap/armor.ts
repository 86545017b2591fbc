// ASCII armor for pgpKey values (RFC 4880 §6.2), in exactly the form the record model's
// `armor('publicKey', …)` writes (60-character lines, CRC-24 checksum line), without the
// stream machinery openpgp.js uses for it: a cold pgpKeyInfo entry armors its key once, and
// that was a tenth of a search. test/ldap/armor.test.ts checks the two agree.

const BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n';
const END = '-----END PGP PUBLIC KEY BLOCK-----\n';
/** 45 bytes → 60 base64 characters: openpgp.js's line length. */
const LINE_BYTES = 45;

/** CRC-24 of RFC 4880 §6.1: init 0xB704CE, generator 0x1864CFB, table-driven. */
const TABLE = (() => {
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
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ (TABLE[((crc >> 16) ^ (bytes[i] as number)) & 0xff] as number)) & 0xffffff;
  return crc;
}

export function armorPublicKey(bytes: Uint8Array): string {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let body = '';
  for (let at = 0; at < b.length; at += LINE_BYTES) body += `${b.toString('base64', at, Math.min(b.length, at + LINE_BYTES))}\n`;
  const crc = crc24(b);
  const checksum = Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64');
  return `${BEGIN}${body}=${checksum}\n${END}`;
}
