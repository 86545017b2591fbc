// Limits and defaults of the certificate authority, each with its reason.

/** A PKCS#10 request from a device is a few hundred bytes; anything near this is not one. */
export const MAX_CSR_BYTES = 16 * 1024;

/** PEM text of a certificate or a chain (installing a CA, birth CAs in a policy). */
export const MAX_PEM_BYTES = 64 * 1024;

/** Certificates in one chain: root → issuing → leaf needs three; deeper paths are a mistake here. */
export const MAX_CHAIN_LENGTH = 8;

/** A root's validity when `--days` is not given: 20 years, beyond the devices it anchors. */
export const DEFAULT_ROOT_DAYS = 7305;

/** An issuing CA's validity when its signer gives none: 10 years, leaving room for rollover. */
export const DEFAULT_SUBORDINATE_DAYS = 3652;

/** Longest validity accepted for any CA certificate (about 50 years): a typo guard, not policy. */
export const MAX_CA_DAYS = 18_263;

/** Deepest path length a root may grant a subordinate (RFC 5280 §4.2.1.9). */
export const MAX_PATH_LENGTH = 4;

/**
 * notBefore is set this far in the past, so a certificate is valid at once on a peer whose
 * clock runs a little behind (as step-ca backdates by one minute).
 */
export const BACKDATE_MS = 60_000;

/**
 * notAfter of a birth certificate with no lifetime: 99991231235959Z, IEEE 802.1AR's value for
 * "no well-defined expiration" (also RFC 5280 §4.1.2.5), encoded as GeneralizedTime.
 */
export const NO_WELL_DEFINED_EXPIRATION = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

/** X.520 upper bounds (RFC 5280 Appendix A.1): ub-common-name and ub-serial-number. */
export const MAX_COMMON_NAME = 64;
export const MAX_SERIAL_NUMBER = 64;

/**
 * Index entries read per token of a device URN when finding its record: a token shared by a
 * whole fleet (`acme.example`) is not read in full; the URN's rarer tokens (its serial) narrow
 * the candidates instead (as the store's own reference resolver does).
 */
export const MAX_URN_CANDIDATES = 1000;

/** Validity of the EST listener's own TLS certificate, issued at each start: a year, or less when the CA ends sooner. */
export const SERVER_CERTIFICATE_SECONDS = 365 * 86_400;
