// openpgp.js methods this model relies on that its typings do not declare. They are
// kept in this one file so that a library upgrade is checked in one place
// (test/record/openpgp-internals.test.ts exercises each).
import * as openpgp from 'openpgp';

interface SignaturePacketInternals {
  toHash(type: number, data: unknown, detached?: boolean): Uint8Array;
  writeParams(): Uint8Array;
  sign(key: unknown, data: unknown, date: Date, detached: boolean, config: unknown): Promise<void>;
}

/** The exact bytes RFC 4880 §5.2.4 hashes for `sig` over `data`. */
export function signedData(sig: openpgp.SignaturePacket, type: number, data: unknown): Uint8Array {
  return (sig as unknown as SignaturePacketInternals).toHash(type, data);
}

/** The signature's algorithm-specific value (its MPIs), as serialised. */
export function signatureValue(sig: openpgp.SignaturePacket): Uint8Array {
  return (sig as unknown as SignaturePacketInternals).writeParams();
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
