// Certificate status front end (CRL now, OCSP next): a plugin of the HTTP host.
export { type CertificateStatusSource, CRL_PATH, PKIX_PREFIX, pkixPlugin } from './plugin.ts';
