// One error type for the whole product, with a closed set of stable codes.
// Each code maps to one HTTP status and one LDAP result code (RFC 4511 §4.1.9),
// so that every front end answers the same failure the same way.

export const ERROR_CODES = {
  /** Input is not well-formed OpenPGP / JSON (bad armor, truncated packet, wrong structure). */
  RECORD_MALFORMED: { http: 422, ldap: 2, exposable: true },
  /** A packet type that is not allowed in this context (compressed data, secret keys, …). */
  PACKET_NOT_ALLOWED: { http: 422, ldap: 2, exposable: true },
  /** A public-key or hash algorithm this server does not accept. */
  ALGORITHM_UNSUPPORTED: { http: 422, ldap: 53, exposable: true },
  /** A signature that fails cryptographic verification. */
  SIGNATURE_INVALID: { http: 422, ldap: 19, exposable: true },
  /** A request that is malformed at the protocol level (missing/repeated parameters). */
  BAD_REQUEST: { http: 400, ldap: 2, exposable: true },
  /** A size or count limit was exceeded. */
  LIMIT_EXCEEDED: { http: 413, ldap: 4, exposable: true },
  /** The local policy refuses the record or the write. */
  POLICY_REJECTED: { http: 403, ldap: 50, exposable: true },
  /** A policy or configuration file is invalid. */
  CONFIG_INVALID: { http: 500, ldap: 80, exposable: false },
  /** The record or object does not exist. */
  NOT_FOUND: { http: 404, ldap: 32, exposable: true },
  /** Two records that cannot be merged (different ids). */
  RECORD_MISMATCH: { http: 409, ldap: 20, exposable: true },
  /** A concurrent write changed the record first; merge again and retry. */
  CONFLICT: { http: 409, ldap: 51, exposable: true },
  /** The operation is not implemented (unknown op). */
  NOT_IMPLEMENTED: { http: 501, ldap: 53, exposable: true },
  /** A resource is busy or down (data directory locked, shutting down). */
  UNAVAILABLE: { http: 503, ldap: 51, exposable: false },
  /** A client exceeded its request rate (per client address); retry after the time given. */
  RATE_LIMITED: { http: 429, ldap: 51, exposable: true },
  /** Credentials are needed, or those sent are wrong or malformed (HTTP: with a basic-auth challenge). */
  UNAUTHENTICATED: { http: 401, ldap: 49, exposable: true },
  /** A request body of a type the endpoint does not take. */
  UNSUPPORTED_MEDIA_TYPE: { http: 415, ldap: 2, exposable: true },
  /** The request (headers and body) did not arrive within the server's time limit. */
  REQUEST_TIMEOUT: { http: 408, ldap: 3, exposable: true },
  /** A key or secret could not be used (wrong passphrase, missing private key). */
  KEY_UNUSABLE: { http: 500, ldap: 80, exposable: false },
  /** Anything unexpected: a bug. */
  INTERNAL: { http: 500, ldap: 80, exposable: false },
} as const satisfies Record<string, { http: number; ldap: number; exposable: boolean }>;

export type IcsErrorCode = keyof typeof ERROR_CODES;

export class IcsError extends Error {
  override readonly name = 'IcsError';
  readonly code: IcsErrorCode;
  /** Structured detail safe to show to a client (never key material). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: IcsErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get ldapResultCode(): number {
    return ERROR_CODES[this.code].ldap;
  }

  /** The message a client may see: server-side failures get a fixed text. */
  get publicMessage(): string {
    return ERROR_CODES[this.code].exposable ? this.message : 'internal error';
  }
}

export function isIcsError(value: unknown, code?: IcsErrorCode): value is IcsError {
  return value instanceof IcsError && (code === undefined || value.code === code);
}
