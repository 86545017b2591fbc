// Certificate serial numbers as the certificate index keys and orders them: lower-case hex,
// in order of their value as unsigned integers (RFC 5280 §4.1.2.2: positive, at most 20
// octets), so that every store lists a CA's serials alike, as a CRL would.

/** RFC 5280 §4.1.2.2: a serial is at most 20 octets. */
export const MAX_SERIAL_HEX_DIGITS = 40;
const SERIAL = /^[0-9a-f]{1,40}$/;

/** True for lower-case hex of 1 to 40 digits. */
export function isSerial(serial: string): boolean {
  return typeof serial === 'string' && SERIAL.test(serial);
}

/**
 * A valid serial as bytes whose order is the serials' order: the count of significant digits,
 * the significant digits packed (left-padded to whole bytes), then the serial's own length,
 * so that serials differing only in leading zeros stay distinct. The first byte fixes the
 * length, so no encoded serial is a prefix of another and one may end a key.
 */
export function encodeSerial(serial: string): Buffer {
  const significant = serial.replace(/^0+/, '');
  const packed = Math.ceil(significant.length / 2);
  const out = Buffer.alloc(2 + packed);
  out[0] = significant.length;
  out.write(significant.length % 2 === 1 ? `0${significant}` : significant, 1, 'hex');
  out[1 + packed] = serial.length;
  return out;
}

/** Orders two valid serials by value (then by length: `0a` after `a`). */
export function compareSerials(a: string, b: string): number {
  return Buffer.compare(encodeSerial(a), encodeSerial(b));
}
