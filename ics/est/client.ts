// The device's side of EST (RFC 7030 §4.1, §4.2) over node:https, for the reference device
// client (`ics enrol`) and the mesh demo: mutual TLS with the device's certificate, the
// server checked against the trust anchors the device was given (§4.1.1: explicit TA), base64
// bodies as RFC 8951 has them. A refusal becomes the IcsError the server named
// ("CODE: reason" in its plain-text answer), with the HTTP status and Retry-After; a request
// the server holds for an operator's approval (202) becomes EstPending.
import { request as httpsRequest } from 'node:https';
import { ERROR_CODES, IcsError, type IcsErrorCode } from '../errors.ts';
import { base64Lines } from './body.ts';
import { MAX_EST_BODY_BYTES } from './limits.ts';
import { EST_PREFIX } from './plugin.ts';

export interface EstServer {
  /** `https://host:port` of the node's EST listener. */
  readonly url: string;
  /** An EST label (a policy domain of the node), if the device enrols under one. */
  readonly label?: string;
  /** PEM trust anchors for the server's TLS certificate (the CA chain the device was given). */
  readonly ca: string;
  /** Give up on an answer after this long. Default 30 s. */
  readonly timeoutMs?: number;
}

/** The device's TLS credentials: PEM certificate (with any chain) and PEM private key (encrypted PKCS#8 with its passphrase, or not). */
export interface EstCredentials {
  readonly cert: string;
  readonly key: string;
  readonly passphrase?: string;
}

export type EstCall = 'cacerts' | 'simpleenroll' | 'simplereenroll';

/** The server took the request but has not decided yet (202, RFC 7030 §4.2.3): ask again after `retryAfterSeconds`. */
export class EstPending extends Error {
  override readonly name = 'EstPending';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** Retry-After in seconds (a number, or an HTTP date); 60 when absent or unreadable. */
function retryAfterSeconds(header: string | undefined, now = Date.now()): number {
  if (header === undefined) return 60;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : Math.ceil((Date.parse(header) - now) / 1000);
  return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 1), 86_400) : 60;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The error an answer names: its code from "CODE: reason", else by status; the reason kept. */
function refusal(call: EstCall, status: number, body: string, retryAfter: string | undefined): IcsError {
  const named = /^([A-Z_]+): ([^\n]*)/.exec(body);
  const code = named && named[1] && named[1] in ERROR_CODES ? (named[1] as IcsErrorCode) : status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'POLICY_REJECTED' : status === 429 ? 'RATE_LIMITED' : 'UNAVAILABLE';
  const reason = named?.[2] ?? (body.trim().slice(0, 200) || `status ${status}`);
  return new IcsError(code, `EST ${call} refused (${status}): ${reason}`, { details: { status, ...(retryAfter !== undefined && { retryAfter }) } });
}

/**
 * One EST call: cacerts (no body), or an enrolment with a PKCS#10 request (DER). Resolves to
 * the certs-only message (DER) the server answered with.
 */
export function estCall(server: EstServer, call: EstCall, credentials?: EstCredentials, requestDer?: Uint8Array): Promise<Uint8Array> {
  const url = new URL(`${EST_PREFIX}${server.label ? `/${encodeURIComponent(server.label)}` : ''}/${call}`, server.url);
  if (url.protocol !== 'https:') throw new IcsError('BAD_REQUEST', `EST runs over HTTPS: ${server.url}`);
  const body = requestDer ? Buffer.from(base64Lines(requestDer)) : undefined;
  return new Promise<Uint8Array>((resolve, reject) => {
    const outgoing = httpsRequest(
      url,
      {
        method: body ? 'POST' : 'GET',
        ca: server.ca,
        ...(credentials && { cert: credentials.cert, key: credentials.key, ...(credentials.passphrase !== undefined && { passphrase: credentials.passphrase }) }),
        headers: body ? { 'content-type': 'application/pkcs10', 'content-length': body.length } : {},
        timeout: server.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        let size = 0;
        answer.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_EST_BODY_BYTES) answer.destroy(new IcsError('LIMIT_EXCEEDED', `EST ${call}: answer larger than ${MAX_EST_BODY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        answer.once('error', reject);
        answer.once('end', () => {
          const text = Buffer.concat(chunks).toString('latin1');
          const status = answer.statusCode ?? 0;
          const retryAfter = answer.headers['retry-after'];
          if (status === 202) return reject(new EstPending(`EST ${call}: ${text.trim().slice(0, 300) || 'accepted, not yet decided'}`, retryAfterSeconds(retryAfter)));
          if (status !== 200) return reject(refusal(call, status, text, retryAfter));
          resolve(new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'base64')));
        });
      },
    );
    outgoing.once('timeout', () => outgoing.destroy(new IcsError('UNAVAILABLE', `EST ${call}: no answer from ${url.host} within ${(server.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`)));
    outgoing.once('error', (error) => reject(error instanceof IcsError ? error : new IcsError('UNAVAILABLE', `EST ${call} at ${url.host}: ${error.message}`, { cause: error })));
    outgoing.end(body);
  });
}
