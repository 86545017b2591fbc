// openpgp.js methods this model relies on (for making signatures) that its typings do
// not declare, kept in this one file so that a library upgrade is checked in one place.
// Reading and verifying do not use openpgp.js signatures at all (signature.ts).
import * as openpgp from 'openpgp';

interface SignaturePacketInternals {
  sign(key: unknown, data: unknown, date: Date, detached: boolean, config: unknown): Promise<void>;
}

/** Signs with explicit configuration (the typed `sign` takes none). */
export function signWithConfig(
  sig: openpgp.SignaturePacket,
  key: openpgp.SecretKeyPacket,
  data: unknown,
  date: Date,
  detached: boolean,
  config: unknown,
): Promise<void> {
  return (sig as unknown as SignaturePacketInternals).sign(key, data, date, detached, config);
}

/** A binary literal data packet holding `bytes` (the data a detached signature covers). */
export function binaryLiteral(bytes: Uint8Array): openpgp.LiteralDataPacket {
  const literal = new openpgp.LiteralDataPacket();
  (literal as unknown as { setBytes(b: Uint8Array, f: number): void }).setBytes(bytes, openpgp.enums.literal.binary);
  return literal;
}

export function isNullKeyId(keyId: openpgp.KeyID | null | undefined): boolean {
  return !keyId || (keyId as unknown as { isNull(): boolean }).isNull();
}
