// The identity record model: public surface. No I/O; imports nothing of ours but errors.

export { armor, dearmor, decodePublicKeyArmor, isArmored } from './armor.ts';
export {
  armorPrivateKey,
  type CertifyOptions,
  certify,
  codeRecordBytes,
  generateIdentity,
  type Issuer,
  issuerFingerprint,
  type KeyAlgorithm,
  type NewIdentity,
  readPrivateKey,
  revokeCertification,
  signCode,
  signerIdentity,
  signStatement,
} from './create.ts';
export { IssuerKeyring } from './issuers.ts';
export { type KeyFacts, keyFactsOf, ScanError, scanKeyFacts } from './key-facts.ts';
export {
  combineRevocations,
  type KeyLifecycle,
  keyLifecycle,
  type RevocationReason,
  revocationReasonOf,
  revocationTaintsEarlier,
} from './lifecycle.ts';
export { DEFAULT_LIMITS, type RecordLimits } from './limits.ts';
export { filterSignatures, mergeAll, mergeRecords, type SignaturePlace } from './merge.ts';
export { type Claims, claimsOf, ISSUANCE_METADATA, ISSUANCE_SERIAL_METADATA, notationsFor, ROLE_NOTATION, STATUS_NOTATION, type StatementInput } from './notations.ts';
export { type ParseOptions, parseCodeRecord, parseKeyRecord, parseRecord, reviveRecord } from './parse.ts';
export { primaryKeyObject } from './primary-key.ts';
export { privateKeyPkcs8 } from './private-key.ts';
export { type OpenPgpSigner, publicKeyBody, v4Fingerprint } from './signer.ts';
export { type BatchLimits, DEFAULT_BATCH_LIMITS, splitRecords } from './split.ts';
export { readSignature as readSignatureFields, type SignatureFields } from './signature.ts';
export { canonicalStatement, codeStatement } from './statement.ts';
export * from './types.ts';
export { type AfterIssuerEnd, evaluateVerdict, type Reason, type ReasonCode, type TrustedIssuer, type Verdict, type VerdictPolicy } from './verdict.ts';
