// Certificate status front end (CRL and OCSP): a plugin of the HTTP host.
export { type CertificateStatusSource, CRL_PATH, MAX_OCSP_BODY_BYTES, OCSP_PATH, type OcspOutcome, PKIX_PREFIX, pkixPlugin } from './plugin.ts';
