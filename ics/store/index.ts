// The store's public surface: the interface and the pure helpers every implementation shares.
// Implementations are imported from store/memory or store/level by node/ alone.
export * from './types.ts';
export { contentTime, type IndexTerms, indexTermsOf, MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH, userIdTokens } from './indexing.ts';
export { compareIds, decodeId, encodeId, isRecordId } from './ids.ts';
export { Accumulator, BOUND_ID_HEX, BOUNDARY_BYTE_BELOW, bucketBound, summarise } from './fingerprint.ts';
export { prefixEnd } from './derived.ts';
export { soleSyncRole } from './role.ts';
export { Doorkeeper } from './doorkeeper.ts';
export { REVOCATION_REASON_CODES } from './certificate-rules.ts';
export { certificatePemOf, type CertificateState, certificateState, type CertificateSummary, certificateSummary } from './certificates.ts';
export { MAX_REFERENCE_LENGTH, parseReference, type Reference, resolveReference, type ResolveOptions } from './resolve.ts';
