// What every certificate index checks before it writes (BAD_REQUEST, nothing written), how it
// decides an add or a revocation against the stored entry, and the codes it stores reasons and
// purposes under. Shared by the stores so that all of them accept, refuse and order alike.
import { createHash } from 'node:crypto';
import { IcsError } from '../errors.ts';
import type { CertificateEntry, CertificateRevocation, RevocationReason } from './certificates.ts';
import { isRecordId } from './ids.ts';
import { isSerial } from './serials.ts';

/** RFC 5280 §5.3.1 CRLReason values (7 is unused, 8 removeFromCRL is not a reason to store). */
export const REVOCATION_REASON_CODES: Readonly<Record<RevocationReason, number>> = Object.freeze({
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
});

export const PURPOSE_CODES: Readonly<Record<CertificateEntry['purpose'], number>> = Object.freeze({ operational: 0, birth: 1 });

/**
 * The latest time a certificate can state: GeneralizedTime 99991231235959Z (RFC 5280
 * §4.1.2.5, "no well-defined expiration date", what birth certificates carry), to the ms.
 * Times before 1970 are refused: no certificate this node issues or records has them.
 */
export const MAX_CERTIFICATE_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Bytes of one certificate's DER at most (LIMIT_EXCEEDED beyond). A device certificate is
 * under 2 KB; this leaves room for large extensions while bounding what one entry holds.
 */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

const SHA256_HEX = /^[0-9a-f]{64}$/;

function bad(field: string, why: string): IcsError {
  return new IcsError('BAD_REQUEST', `certificate ${field} ${why}`, { details: { field } });
}

function checkTime(value: unknown, field: string): Date {
  if (!(value instanceof Date)) throw bad(field, 'is not a date');
  const ms = value.getTime();
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_CERTIFICATE_TIME) throw bad(field, 'is not a valid certificate time');
  return new Date(ms);
}

function checkSha256(value: unknown, field: string): string {
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) throw bad(field, 'is not a lower-case hex SHA-256');
  return value;
}

/** The serial a caller names; BAD_REQUEST unless lower-case hex of 1 to 40 digits. */
export function checkSerial(serial: unknown): string {
  if (typeof serial !== 'string' || !isSerial(serial)) throw bad('serial', 'is not lower-case hex of 1 to 40 digits');
  return serial;
}

/** A revocation as the store keeps it (a copy); BAD_REQUEST for an unknown reason or a bad time. */
export function checkRevocation(revocation: CertificateRevocation): CertificateRevocation {
  if (typeof revocation !== 'object' || revocation === null) throw bad('revocation', 'is missing');
  const reason = revocation.reason;
  if (typeof reason !== 'string' || !Object.hasOwn(REVOCATION_REASON_CODES, reason)) throw bad('revocation reason', 'is not an RFC 5280 reason');
  return Object.freeze({ at: checkTime(revocation.at, 'revocation time'), reason });
}

/**
 * An entry as the store keeps it: checked field by field, with its own copy of the DER and
 * dates (the caller may reuse its buffer). `sha256` MUST be the digest of `der`.
 */
export function checkCertificateEntry(entry: CertificateEntry): CertificateEntry {
  if (typeof entry !== 'object' || entry === null) throw bad('entry', 'is missing');
  const serial = checkSerial(entry.serial);
  if (typeof entry.recordId !== 'string' || !isRecordId(entry.recordId)) throw bad('recordId', 'is not a record id');
  const issuer = checkSha256(entry.issuer, 'issuer');
  if (typeof entry.purpose !== 'string' || !Object.hasOwn(PURPOSE_CODES, entry.purpose)) throw bad('purpose', 'is not operational or birth');
  const notBefore = checkTime(entry.notBefore, 'notBefore');
  const notAfter = checkTime(entry.notAfter, 'notAfter');
  if (notBefore.getTime() > notAfter.getTime()) throw bad('validity', 'ends before it starts');
  const issuedAt = checkTime(entry.issuedAt, 'issuedAt');
  const sha256 = checkSha256(entry.sha256, 'sha256');
  const der = entry.der;
  if (!(der instanceof Uint8Array) || der.length === 0) throw bad('der', 'is not bytes, or empty');
  if (der.length > MAX_CERTIFICATE_BYTES) {
    throw new IcsError('LIMIT_EXCEEDED', `certificate der is longer than ${MAX_CERTIFICATE_BYTES} bytes`, { details: { limit: 'maxCertificateBytes' } });
  }
  if (createHash('sha256').update(der).digest('hex') !== sha256) throw bad('sha256', 'is not the digest of der');
  const revoked = entry.revoked === undefined ? undefined : checkRevocation(entry.revoked);
  return freezeEntry({ serial, recordId: entry.recordId, issuer, purpose: entry.purpose, notBefore, notAfter, sha256, der: new Uint8Array(der), issuedAt, revoked });
}

/** The entry frozen, without a `revoked` key while it is not revoked. */
export function freezeEntry(entry: CertificateEntry): CertificateEntry {
  const { revoked, ...rest } = entry;
  return Object.freeze(revoked === undefined ? rest : { ...rest, revoked });
}

/** A copy the caller may keep: its own DER and dates (a cached or stored entry stays as it is). */
export function copyEntry(entry: CertificateEntry): CertificateEntry {
  const revoked = entry.revoked && Object.freeze({ at: new Date(entry.revoked.at), reason: entry.revoked.reason });
  return freezeEntry({
    ...entry,
    der: new Uint8Array(entry.der),
    notBefore: new Date(entry.notBefore),
    notAfter: new Date(entry.notAfter),
    issuedAt: new Date(entry.issuedAt),
    revoked,
  });
}

/** True for what may name an issuing CA (lower-case hex SHA-256); other strings issued nothing. */
export function isIssuer(issuer: string): boolean {
  return typeof issuer === 'string' && SHA256_HEX.test(issuer);
}

/** `expiringBefore`'s bound as whole ms, clamped to the times certificates can have; BAD_REQUEST for an invalid date. */
export function expiryBound(time: Date): number {
  const ms = time instanceof Date ? time.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw bad('expiry bound', 'is not a date');
  return Math.min(Math.max(0, ms), MAX_CERTIFICATE_TIME + 1);
}

/** Where a page of `expiringBefore` starts: whole ms, and a serial or '' (before every serial of that time). */
export interface ExpiryCursor {
  readonly notAfter: number;
  readonly serial: string;
}

/**
 * `expiringBefore`'s cursor, checked; BAD_REQUEST for an invalid date or serial. Clamped like
 * expiryBound, without changing what follows it: every certificate follows a time before 1970,
 * none one past year 9999.
 */
export function expiryCursor(after: { readonly notAfter: Date; readonly serial: string }): ExpiryCursor {
  if (typeof after !== 'object' || after === null) throw bad('cursor', 'is not { notAfter, serial }');
  const { notAfter, serial } = after;
  const ms = notAfter instanceof Date ? notAfter.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw bad('cursor notAfter', 'is not a date');
  if (serial !== '') checkAfterSerial(serial);
  if (ms < 0) return { notAfter: 0, serial: '' };
  if (ms > MAX_CERTIFICATE_TIME) return { notAfter: MAX_CERTIFICATE_TIME + 1, serial: '' };
  return { notAfter: ms, serial };
}

/** A cursor's serial, the last one already read; BAD_REQUEST unless lower-case hex of 1 to 40 digits. */
export function checkAfterSerial(serial: unknown): string {
  if (typeof serial !== 'string' || !isSerial(serial)) throw bad('cursor serial', 'is not lower-case hex of 1 to 40 digits');
  return serial;
}

/**
 * One decided write: the entry to store (the current one when nothing changes) and the
 * answer. Throws CONFLICT or NOT_FOUND to refuse.
 */
export type CertificateDecision = (current: CertificateEntry | undefined) => CertificateEntry;

/** Adding a checked entry: only where its serial is not stored. */
export function addition(entry: CertificateEntry): CertificateDecision {
  return (current) => {
    if (current) throw new IcsError('CONFLICT', `a certificate with serial ${entry.serial} is stored already`, { details: { serial: entry.serial } });
    return entry;
  };
}

/** Revoking a stored certificate; a revoked one keeps its first revocation (no later reason replaces it). */
export function revocation(serial: string, revoked: CertificateRevocation): CertificateDecision {
  return (current) => {
    if (!current) throw new IcsError('NOT_FOUND', `no certificate with serial ${serial}`, { details: { serial } });
    return current.revoked ? current : freezeEntry({ ...current, revoked });
  };
}
