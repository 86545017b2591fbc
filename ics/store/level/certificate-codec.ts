// The value of a certificate index entry in the LevelDB store: a fixed header, the serial and
// record id, then the DER as it is (no base64), so that a lookup is one read and a revocation
// rewrites one value.
import { IcsError } from '../../errors.ts';
import type { CertificateEntry, RevocationReason } from '../certificates.ts';
import { freezeEntry, PURPOSE_CODES, REVOCATION_REASON_CODES } from '../certificate-rules.ts';
import { decodeId, encodedIdLength, encodeRecordId } from '../ids.ts';
import { SEQ_BYTES } from './keys.ts';

/** First byte of every value: lets a later version read this one. */
const FORMAT = 1;
/** Reason byte of a certificate not revoked (CRLReason codes stop at 10). */
const NOT_REVOKED = 0xff;
const DIGEST_BYTES = 32;
const TIME_BYTES = SEQ_BYTES;

//   format(1) purpose(1) reason(1) notBefore(6) notAfter(6) issuedAt(6) revokedAt(6)
//   issuer(32) sha256(32) serialLength(1) serial(ascii) recordId(21|33) der…
const HEADER_BYTES = 3 + 4 * TIME_BYTES + 2 * DIGEST_BYTES;

const PURPOSES = Object.fromEntries(Object.entries(PURPOSE_CODES).map(([name, code]) => [code, name])) as Record<number, CertificateEntry['purpose']>;
const REASONS = Object.fromEntries(Object.entries(REVOCATION_REASON_CODES).map(([name, code]) => [code, name])) as Record<number, RevocationReason>;

/** Encodes a checked entry (see checkCertificateEntry). */
export function encodeCertificate(entry: CertificateEntry): Buffer {
  const id = encodeRecordId(entry.recordId);
  const out = Buffer.allocUnsafe(HEADER_BYTES + 1 + entry.serial.length + id.length + entry.der.length);
  out[0] = FORMAT;
  out[1] = PURPOSE_CODES[entry.purpose];
  out[2] = entry.revoked ? REVOCATION_REASON_CODES[entry.revoked.reason] : NOT_REVOKED;
  let at = 3;
  for (const time of [entry.notBefore, entry.notAfter, entry.issuedAt, entry.revoked?.at]) {
    out.writeUIntBE(time?.getTime() ?? 0, at, TIME_BYTES);
    at += TIME_BYTES;
  }
  at += out.write(entry.issuer, at, 'hex');
  at += out.write(entry.sha256, at, 'hex');
  out[at++] = entry.serial.length;
  at += out.write(entry.serial, at, 'latin1');
  at += id.copy(out, at);
  out.set(entry.der, at);
  return out;
}

export function decodeCertificate(value: Buffer): CertificateEntry {
  if (value[0] !== FORMAT) throw new IcsError('INTERNAL', `stored certificate has unknown format ${value[0]}`);
  if (value.length < HEADER_BYTES + 1) throw new IcsError('INTERNAL', 'stored certificate is truncated');
  const purpose = PURPOSES[value[1] as number];
  const reasonByte = value[2] as number;
  const reason = reasonByte === NOT_REVOKED ? undefined : REASONS[reasonByte];
  if (!purpose || (reasonByte !== NOT_REVOKED && !reason)) throw new IcsError('INTERNAL', 'stored certificate has an unknown purpose or reason');
  const time = (i: number) => new Date(value.readUIntBE(3 + i * TIME_BYTES, TIME_BYTES));
  let at = 3 + 4 * TIME_BYTES;
  const issuer = value.toString('hex', at, at + DIGEST_BYTES);
  const sha256 = value.toString('hex', at + DIGEST_BYTES, at + 2 * DIGEST_BYTES);
  at = HEADER_BYTES;
  const serialLength = value[at++] as number;
  const serial = value.toString('latin1', at, at + serialLength);
  at += serialLength;
  if (at >= value.length) throw new IcsError('INTERNAL', 'stored certificate is truncated');
  const idEnd = at + encodedIdLength(value, at);
  if (idEnd > value.length) throw new IcsError('INTERNAL', 'stored certificate is truncated');
  const recordId = decodeId(value, at, idEnd);
  return freezeEntry({
    serial,
    recordId,
    issuer,
    purpose,
    notBefore: time(0),
    notAfter: time(1),
    sha256,
    der: value.subarray(idEnd),
    issuedAt: time(2),
    revoked: reason ? Object.freeze({ at: time(3), reason }) : undefined,
  });
}
