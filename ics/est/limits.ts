// Limits of the EST front end, each with its reason.
import { MAX_CSR_BYTES } from '../enrol/index.ts';

/**
 * Largest request body: a certificate request at the CA's limit (MAX_CSR_BYTES of DER) as
 * base64 with line breaks, with room to spare; larger is refused with 413 from its
 * Content-Length before it is read.
 */
export const MAX_EST_BODY_BYTES = 2 * MAX_CSR_BYTES;

/** Characters per line of a base64 answer (RFC 7468's line length, which `openssl base64 -d` reads). */
export const BASE64_LINE = 64;
