// The certificate authority (DESIGN §7): public surface. A core area: it imports record/,
// policy/, store/ (types) and errors only; EST, OCSP and CRL front ends call it, it calls none of them.
export { type Approval, ApprovalDirectory, type ApprovalQueue, MAX_PENDING, type PendingEnrolment } from './approvals.ts';
export { loadBirthCAs } from './birth-cas.ts';
export { type BirthOptions, deviceSerial, issueBirthCertificate } from './birth.ts';
export { CA_FILES, type CaInfo, type CaRole, CertificateAuthority, type InitOptions, type RootOptions, type SubordinateOptions, type TokenKeyOptions, UnlockedAuthority } from './ca.ts';
export { type IssuedCertificate, randomSerial } from './certificate.ts';
export { certsOnly } from './certs-only.ts';
export { CRL_DEBOUNCE_MS, CrlPublisher, type CrlPublisherOptions, crlPem, makeCrl, revokedEntries } from './crl.ts';
export { type VerifiedRequest, verifyCertificateRequest } from './csr.ts';
export { certificatesOf, deviceRequest, type DeviceRequest, deviceUrnsOf, issuedFor, type Renewal, renewalOf } from './device-side.ts';
export { APPROVAL_RETRY_SECONDS, type Enrolled, Enrolment, type EnrolmentPending, type EnrolmentComponents, type EnrolmentRequest } from './enrolment.ts';
export { entitlementRefusals, revocationReasonFor } from './entitlement.ts';
export { type StatementOutcome, type StatementSubmitter } from './issuance-statement.ts';
export { checkAlgorithm, KEY_ALGORITHMS, type KeyAlgorithm } from './keys.ts';
export { type Pkcs11Reference, type Pkcs11Settings, parsePkcs11Uri, pkcs11Uri } from './pkcs11.ts';
export { type KeyUsageName, type LeafSpec } from './leaf.ts';
export { DEFAULT_ROOT_DAYS, DEFAULT_SUBORDINATE_DAYS, MAX_CSR_BYTES, NO_WELL_DEFINED_EXPIRATION } from './limits.ts';
export { commonNameOf, type DistinguishedName, type NameAttributes } from './names.ts';
export { certificatePem, certificatesPem, readCertificates } from './parse.ts';
export { answerOf, applyRevocation, checkReason, MANUAL_REASONS, normaliseSerial, type RevocationAnswer, type RevocationOutcome, type RevocationRequest, RevocationRequests } from './revocation-requests.ts';
export { type RevocationComponents, RevocationWatcher, revokeAll } from './revocation.ts';
export { MAX_OCSP_REQUEST_BYTES, MAX_OCSP_REQUESTS, OCSP_VALIDITY_SECONDS, type OcspAnswer, OcspResponder } from './ocsp.ts';
export { CaGenerations, NEXT_DIR, PREVIOUS_DIR, RETIRED_DIR } from './rollover.ts';
export { issueServerCertificate, type ServerCredentials } from './server-certificate.ts';
