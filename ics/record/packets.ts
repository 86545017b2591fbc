// OpenPGP packet framing (RFC 4880 §4.2); ASCII armor is armor.ts. The frame scan runs
// before any packet is parsed, so that the allow-list and the count limit are enforced
// on untrusted input before openpgp.js allocates anything for it.
import { IcsError } from '../errors.ts';
import type { RecordLimits } from './limits.ts';

export const PacketTag = {
  signature: 2,
  secretKey: 5,
  publicKey: 6,
  secretSubkey: 7,
  compressedData: 8,
  marker: 10,
  literalData: 11,
  trust: 12,
  userId: 13,
  publicSubkey: 14,
  userAttribute: 17,
  padding: 21,
} as const;

/**
 * Packets a reader skips (RFC 9580 §4.3, §5.8, §5.14): marker and padding, which carry
 * nothing, and tags 40–63, the non-critical range, none of which this model knows. They
 * still count toward the packet and size limits; no record keeps them. Unknown tags below
 * 40 are critical: the RFC has the whole sequence refused, and so does the parser.
 */
export function isSkippedPacket(tag: number): boolean {
  return tag === PacketTag.marker || tag === PacketTag.padding || tag >= FIRST_NON_CRITICAL_TAG;
}

const FIRST_NON_CRITICAL_TAG = 40;

export interface RawPacket {
  readonly tag: number;
  /** Index of the packet in the input, for error messages. */
  readonly index: number;
  readonly body: Uint8Array;
}

/**
 * Splits `bytes` into packets. Throws RECORD_MALFORMED for a truncated or inconsistent
 * frame, LIMIT_EXCEEDED past `maxPackets`. Partial body lengths (§4.2.2.4) are refused:
 * they only frame streamed data, which no record carries.
 */
export function scanPackets(bytes: Uint8Array, limits: Pick<RecordLimits, 'maxPackets'>): RawPacket[] {
  const packets: RawPacket[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const index = packets.length;
    if (index >= limits.maxPackets) {
      throw new IcsError('LIMIT_EXCEEDED', `more than ${limits.maxPackets} packets`, {
        details: { limit: 'maxPackets' },
      });
    }
    const ctb = bytes[pos] as number;
    if ((ctb & 0x80) === 0) throw malformed(index, 'not a packet header');
    let tag: number;
    let length: number;
    let header: number;
    if (ctb & 0x40) {
      tag = ctb & 0x3f;
      const first = bytes[pos + 1];
      if (first === undefined) throw malformed(index, 'truncated header');
      if (first < 192) {
        length = first;
        header = 2;
      } else if (first < 224) {
        const second = bytes[pos + 2];
        if (second === undefined) throw malformed(index, 'truncated header');
        length = ((first - 192) << 8) + second + 192;
        header = 3;
      } else if (first === 255) {
        if (pos + 6 > bytes.length) throw malformed(index, 'truncated header');
        length = readUint32(bytes, pos + 2);
        header = 6;
      } else {
        throw malformed(index, 'partial body lengths are not accepted');
      }
    } else {
      tag = (ctb >> 2) & 0x0f;
      const lengthType = ctb & 0x03;
      if (lengthType === 3) throw malformed(index, 'indeterminate length is not accepted');
      const n = 1 << lengthType;
      if (pos + 1 + n > bytes.length) throw malformed(index, 'truncated header');
      length = n === 1 ? (bytes[pos + 1] as number) : n === 2 ? readUint16(bytes, pos + 1) : readUint32(bytes, pos + 1);
      header = 1 + n;
    }
    const start = pos + header;
    const end = start + length;
    if (end > bytes.length) throw malformed(index, 'truncated packet body');
    packets.push({ tag, index, body: bytes.subarray(start, end) });
    pos = end;
  }
  return packets;
}

function malformed(index: number, reason: string): IcsError {
  return new IcsError('RECORD_MALFORMED', `packet ${index}: ${reason}`);
}

function readUint16(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
}

function readUint32(bytes: Uint8Array, at: number): number {
  return (
    (((bytes[at] as number) << 24) >>> 0) + ((bytes[at + 1] as number) << 16) + ((bytes[at + 2] as number) << 8) + (bytes[at + 3] as number)
  );
}

/** Frames a packet body with a new-format header (§4.2.2), the form records are stored in. */
export function framePacket(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  let header: number[];
  if (n < 192) header = [0xc0 | tag, n];
  else if (n < 8384) header = [0xc0 | tag, ((n - 192) >> 8) + 192, (n - 192) & 0xff];
  else header = [0xc0 | tag, 0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(header.length + n);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}
