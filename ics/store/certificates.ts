// The certificate index (DESIGN §7): every X.509 certificate the node's CA issued, kept in
// the store beside the records it was issued for, found by serial, by record and by expiry.
// The identity record stays the source of truth for whether a device may hold a certificate;
// this index is what OCSP, CRLs and `ics cert …` read, and what revocation marks.

/** Why a certificate was revoked (RFC 5280 §5.3.1 CRLReason names). */
export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'privilegeWithdrawn';

export interface CertificateRevocation {
  readonly at: Date;
  readonly reason: RevocationReason;
}

export interface CertificateEntry {
  /** The certificate's serial number, lower-case hex as encoded in the certificate (no sign byte). */
  readonly serial: string;
  /** The identity record the certificate was issued for (a device record's id). */
  readonly recordId: string;
  /** SHA-256 of the issuing CA certificate's DER, lower-case hex: which CA issued it (two may be valid during a rollover). */
  readonly issuer: string;
  /** What it is: `operational` (EST), `birth` (ics device register --birth-cert). */
  readonly purpose: 'operational' | 'birth';
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of `der`, lower-case hex. */
  readonly sha256: string;
  readonly der: Uint8Array;
  /** When the node issued it. */
  readonly issuedAt: Date;
  /** Absent while the certificate is not revoked. */
  readonly revoked?: CertificateRevocation;
}

/**
 * Issued certificates. Serials are unique per store: adding one that exists is CONFLICT and
 * changes nothing. A revocation is final: marking a revoked certificate again keeps the first
 * revocation (no resurrection, no later reason replacing the first).
 */
export interface CertificateIndex {
  /** Adds an issued certificate (durable when it resolves). CONFLICT when the serial exists. */
  addCertificate(entry: CertificateEntry): Promise<void>;
  /** The certificate with this serial (lower-case hex), or undefined. */
  getCertificate(serial: string): Promise<CertificateEntry | undefined>;
  /**
   * Certificates issued for a record, oldest issuance first. Not paged: a record holds few,
   * one per enrolment or re-enrolment of its device.
   */
  certificatesOf(recordId: string): Promise<CertificateEntry[]>;
  /**
   * Certificates whose notAfter is before `time` (expired ones included), in (notAfter, serial)
   * order, soonest first, at most `limit`. With `after`, only those strictly after it in that
   * order: pass the last entry's notAfter and serial to read the next page. An `after.serial`
   * of '' starts at `after.notAfter` itself, every serial included (`{ notAfter: now, serial:
   * '' }`: those not yet expired). BAD_REQUEST for an invalid date or serial.
   */
  expiringBefore(time: Date, limit: number, after?: { readonly notAfter: Date; readonly serial: string }): Promise<CertificateEntry[]>;
  /**
   * Revoked certificates of one issuing CA, in serial order (what a CRL lists), at most
   * `limit`; with `afterSerial` (the last one of the previous page), only those after it.
   * BAD_REQUEST when `afterSerial` is not a serial.
   */
  revokedBy(issuer: string, limit: number, afterSerial?: string): Promise<CertificateEntry[]>;
  /**
   * Marks a certificate revoked and returns it as stored: the first revocation stays when it
   * was revoked already. NOT_FOUND for an unknown serial.
   */
  revokeCertificate(serial: string, revocation: CertificateRevocation): Promise<CertificateEntry>;
}

/** A certificate's state at `now`, as operators read it. */
export type CertificateState = 'valid' | 'expired' | 'revoked' | 'not yet valid';

export function certificateState(entry: CertificateEntry, now: Date): CertificateState {
  if (entry.revoked) return 'revoked';
  if (now.getTime() > entry.notAfter.getTime()) return 'expired';
  if (now.getTime() < entry.notBefore.getTime()) return 'not yet valid';
  return 'valid';
}

/** What the CLI and the admin API show of an index entry (the DER apart). */
export function certificateSummary(entry: CertificateEntry, now: Date) {
  return {
    serial: entry.serial,
    record: entry.recordId,
    purpose: entry.purpose,
    state: certificateState(entry, now),
    notBefore: entry.notBefore,
    notAfter: entry.notAfter,
    issuedAt: entry.issuedAt,
    sha256: entry.sha256,
    issuer: entry.issuer,
    ...(entry.revoked && { revoked: entry.revoked }),
  };
}

export type CertificateSummary = ReturnType<typeof certificateSummary>;

/** The certificate as PEM (RFC 7468), lines of 64. */
export function certificatePemOf(der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
