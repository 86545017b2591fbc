// Splitting a keyring or a bulk import into single records (several armored blocks, or
// concatenated binary records), so that each one is parsed, judged and reported alone.
import { IcsError } from '../errors.ts';
import { dearmor, isArmored } from './armor.ts';
import { DEFAULT_LIMITS, type RecordLimits } from './limits.ts';
import { PacketTag, scanPackets } from './packets.ts';

/** Limits of one batch: total bytes and records, beyond the per-record limits. */
export interface BatchLimits {
  readonly maxBatchBytes: number;
  readonly maxBatchRecords: number;
}

export const DEFAULT_BATCH_LIMITS: Readonly<BatchLimits> = Object.freeze({
  // An HKP upload or one import chunk; bulk imports stream chunk by chunk.
  maxBatchBytes: 64 * 1024 * 1024,
  maxBatchRecords: 100_000,
});

const ARMOR_BLOCK = /-----BEGIN PGP [A-Z ]+-----[\s\S]*?-----END PGP [A-Z ]+-----/g;

/**
 * Splits `input` into single records. Each piece is still untrusted: it goes through
 * `parseRecord` on its own. An armored block that cannot be decoded is passed on as its
 * text, so that it fails alone; a framing error in binary input fails the whole batch
 * (there is no way to find the next record after it).
 */
export async function splitRecords(
  input: Uint8Array | string,
  limits: RecordLimits = DEFAULT_LIMITS,
  batch: BatchLimits = DEFAULT_BATCH_LIMITS,
): Promise<Array<Uint8Array | string>> {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > batch.maxBatchBytes) {
    throw new IcsError('LIMIT_EXCEEDED', `batch of ${size} bytes exceeds ${batch.maxBatchBytes}`, { details: { limit: 'maxBatchBytes' } });
  }
  const pieces: Array<Uint8Array | string> = [];
  if (isArmored(input)) {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
    const blocks = text.match(ARMOR_BLOCK) ?? [];
    if (blocks.length === 0) throw new IcsError('RECORD_MALFORMED', 'no complete ASCII armor block');
    for (const block of blocks) {
      try {
        pieces.push(...splitBinary(await dearmor(block, limits), batch));
      } catch {
        pieces.push(block);
      }
    }
  } else {
    if (typeof input === 'string') throw new IcsError('RECORD_MALFORMED', 'input is neither armored nor binary OpenPGP');
    pieces.push(...splitBinary(input, batch));
  }
  if (pieces.length > batch.maxBatchRecords) {
    throw new IcsError('LIMIT_EXCEEDED', `more than ${batch.maxBatchRecords} records in one batch`, {
      details: { limit: 'maxBatchRecords' },
    });
  }
  return pieces;
}

/** True for a signature over a document (types 0x00, 0x01): part of a code record, not of a key. */
function isDocumentSignature(tag: number, body: Uint8Array): boolean {
  return tag === PacketTag.signature && body[0] === 4 && (body[1] === 0x00 || body[1] === 0x01);
}

function splitBinary(bytes: Uint8Array, batch: BatchLimits): Uint8Array[] {
  // The packet cap here is the batch's: each piece meets the per-record cap when parsed.
  const packets = scanPackets(bytes, { maxPackets: batch.maxBatchRecords * 64 });
  const pieces: Uint8Array[] = [];
  let start = 0;
  let offset = 0;
  let previous: number | undefined;
  let inKey = false;
  for (const packet of packets) {
    const end = packet.body.byteOffset - bytes.byteOffset + packet.body.length;
    // A record begins at a public key, after a statement (literal data) ends a code
    // record, or where document signatures / a statement follow a key's packets.
    const codePacket = isDocumentSignature(packet.tag, packet.body) || packet.tag === PacketTag.literalData;
    const beginsRecord = packet.tag === PacketTag.publicKey || previous === PacketTag.literalData || (inKey && codePacket);
    if (beginsRecord && offset > start) {
      pieces.push(bytes.subarray(start, offset));
      start = offset;
    }
    if (beginsRecord || offset === 0) inKey = packet.tag === PacketTag.publicKey;
    offset = end;
    previous = packet.tag;
  }
  if (offset > start) pieces.push(bytes.subarray(start, offset));
  return pieces;
}
