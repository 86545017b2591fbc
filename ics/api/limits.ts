// Limits of the JSON API plugin (/ics/v1/…), each with the resource it bounds; the host's own
// and the shared read limits are in ics/http/limits.ts.

/** Detached signatures in one JSON code submission. */
export const MAX_SIGNATURES_PER_SUBMISSION = 64;

/** Characters of one armored or base64 signature in a JSON body (a signature packet is < 1 KiB; RSA-4096 ~ 600 B). */
export const MAX_SIGNATURE_TEXT = 16 * 1024;
