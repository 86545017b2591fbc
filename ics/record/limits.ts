// Limits applied to untrusted record input. Each one bounds a resource an attacker
// could otherwise exhaust; per-signer caps (not per-record caps) keep one flooding
// issuer from locking legitimate issuers out of a record (DESIGN §2).

export interface RecordLimits {
  /** Bytes of one record as received (binary, after de-armoring). */
  maxRecordBytes: number;
  /** Bytes of armored text accepted before de-armoring (base64 + headers overhead). */
  maxArmoredBytes: number;
  /** OpenPGP packets in one record. */
  maxPackets: number;
  /** User IDs on one key. */
  maxUserIds: number;
  /** Subkeys on one key. */
  maxSubkeys: number;
  /** Bytes of one user ID (a URN or `Name <mail>`). */
  maxUserIdBytes: number;
  /** Signatures by one issuer on one target (user ID, subkey, key or code statement). */
  maxSignaturesPerSigner: number;
  /** Notations on one signature. */
  maxNotationsPerSignature: number;
  /** Bytes of one notation value. */
  maxNotationValueBytes: number;
  /** Bytes of a code statement (canonical JSON). */
  maxStatementBytes: number;
}

export const DEFAULT_LIMITS: Readonly<RecordLimits> = Object.freeze({
  // A device key with a few dozen certifications is ~10 KB; 1 MiB leaves room for
  // ordinary GnuPG keys while bounding memory per request.
  maxRecordBytes: 1024 * 1024,
  maxArmoredBytes: Math.ceil((1024 * 1024 * 4) / 3) + 64 * 1024,
  // Parsing cost is linear in packets; 4096 covers any legitimate key.
  maxPackets: 4096,
  maxUserIds: 64,
  maxSubkeys: 64,
  // URNs are short; GnuPG itself caps user IDs at 2 KiB.
  maxUserIdBytes: 1024,
  // A status history of one issuer over a device's life stays far below this.
  maxSignaturesPerSigner: 64,
  maxNotationsPerSignature: 32,
  maxNotationValueBytes: 1024,
  maxStatementBytes: 16 * 1024,
});
