// The identity record model: public surface. No I/O; imports nothing of ours but errors.
export * from './types.ts';
export { DEFAULT_LIMITS, type RecordLimits } from './limits.ts';
export { parseRecord, parseKeyRecord, parseCodeRecord, reviveRecord, type ParseOptions } from './parse.ts';
export { mergeRecords, mergeAll, filterSignatures, type SignaturePlace } from './merge.ts';
export { IssuerKeyring } from './issuers.ts';
export { armor, isArmored } from './packets.ts';
export { codeStatement, canonicalStatement } from './statement.ts';
export {
  generateIdentity,
  certify,
  revokeCertification,
  signStatement,
  signCode,
  codeRecordBytes,
  armorPrivateKey,
  readPrivateKey,
  type KeyAlgorithm,
  type NewIdentity,
  type CertifyOptions,
} from './create.ts';
export { claimsOf, notationsFor, type Claims, type StatementInput, ROLE_NOTATION, STATUS_NOTATION } from './notations.ts';
export { evaluateVerdict, type Verdict, type VerdictPolicy, type TrustedIssuer, type Reason, type ReasonCode } from './verdict.ts';
