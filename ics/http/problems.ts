// From whatever a handler or fastify throws to one HTTP answer: an IcsError's status
// (ics/errors.ts's table), fastify's own request errors mapped onto our codes (validation →
// BAD_REQUEST 400, body too large → LIMIT_EXCEEDED 413, unsupported media type →
// UNSUPPORTED_MEDIA_TYPE 415, too slow → REQUEST_TIMEOUT 408), UNAUTHENTICATED 401 for
// credentials; and the two ways a problem is written (JSON, or a line of text for clients that
// read text). Client errors say what was wrong; server errors send the code and a fixed text,
// and the whole error goes to the log (STYLE "Errors").
import type { FastifyReply } from 'fastify';
import { ERROR_CODES, type IcsErrorCode, isIcsError } from '../errors.ts';
import { AuthenticationRequired } from './access.ts';

export interface HttpProblem {
  readonly status: number;
  readonly code: IcsErrorCode;
  /** Safe to show to the client. */
  readonly message: string;
  readonly details?: Record<string, unknown>;
  readonly headers?: Record<string, string>;
  /**
   * Whose doing the failure is. `client`: the request was wrong or asked for what this server
   * does not do (every 4xx, and 501 for an unknown op); logged without a stack, as nothing of
   * ours failed. `server`: our fault; logged at error with the whole error.
   */
  readonly fault: 'client' | 'server';
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  validation?: ReadonlyArray<{ instancePath?: string; keyword?: string; message?: string; params?: Record<string, unknown> }>;
  validationContext?: string;
  message?: string;
}

/** Fixed text per 5xx status: nothing of the failure's detail reaches the client. */
const SERVER_TEXT: Readonly<Record<number, string>> = {
  500: 'internal error',
  501: 'not implemented',
  503: 'service unavailable, try again later',
};

/** What a 401 answers with: the scheme this server takes (HTTP basic auth, RFC 7617). */
const CHALLENGE: Readonly<Record<string, string>> = { 'www-authenticate': 'Basic realm="ics", charset="UTF-8"' };

function validationMessage(e: FastifyLikeError): string {
  const where = e.validationContext ?? 'request';
  const parts = (e.validation ?? []).map((v) => {
    const path = v.instancePath ? v.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
    const extra = v.params?.additionalProperty ? ` (${String(v.params.additionalProperty)})` : '';
    // A query variable given twice arrives as an array: say so rather than "must be string".
    if (where === 'querystring' && v.keyword === 'type' && path) return `${where}.${path} must be given once`;
    return `${where}${path ? `.${path}` : ''} ${v.message ?? 'is invalid'}${extra}`;
  });
  return parts.length > 0 ? parts.join('; ') : `${where} is invalid`;
}

export function toProblem(error: unknown): HttpProblem {
  if (error instanceof AuthenticationRequired) {
    return { status: ERROR_CODES.UNAUTHENTICATED.http, code: 'UNAUTHENTICATED', fault: 'client', message: error.message, headers: CHALLENGE };
  }
  if (isIcsError(error)) {
    const status = error.httpStatus;
    // NOT_IMPLEMENTED is only ever the client's choice (an op this server does not know).
    const exposable = status < 500 || error.code === 'NOT_IMPLEMENTED';
    return {
      status,
      code: error.code,
      fault: exposable ? 'client' : 'server',
      message: exposable ? error.publicMessage : (SERVER_TEXT[status] ?? 'internal error'),
      ...(exposable && error.details !== undefined && { details: error.details }),
      ...(status === 503 && { headers: { 'retry-after': String(error.details?.retryAfter ?? 5) } }),
      ...(status === 429 && { headers: { 'retry-after': String(error.details?.retryAfter ?? 1) } }),
      ...(status === 401 && { headers: CHALLENGE }),
    };
  }
  const e = (error ?? {}) as FastifyLikeError;
  if (e.validation) return { status: 400, code: 'BAD_REQUEST', fault: 'client', message: validationMessage(e) };
  switch (e.code) {
    case 'FST_ERR_HANDLER_TIMEOUT':
      return { status: 503, code: 'UNAVAILABLE', fault: 'server', message: SERVER_TEXT[503] as string, headers: { 'retry-after': '5' } };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'LIMIT_EXCEEDED', fault: 'client', message: 'request body is larger than this server accepts', details: { limit: 'maxBodyBytes' } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: ERROR_CODES.UNSUPPORTED_MEDIA_TYPE.http, code: 'UNSUPPORTED_MEDIA_TYPE', fault: 'client', message: 'unsupported Content-Type for this endpoint' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return { status: 400, code: 'BAD_REQUEST', fault: 'client', message: e.message ?? 'bad request' };
    default:
      break;
  }
  // Body-parser failures (malformed JSON and the like) carry a 4xx statusCode and a message
  // about the client's own input; anything else is ours.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === ERROR_CODES.REQUEST_TIMEOUT.http ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST';
    return { status: ERROR_CODES[code].http, code, fault: 'client', message: e.message ?? 'bad request' };
  }
  return { status: 500, code: 'INTERNAL', fault: 'server', message: SERVER_TEXT[500] as string };
}

/** Writes a problem as the answer; the status and headers are already set. */
export type ProblemWriter = (reply: FastifyReply, problem: HttpProblem) => FastifyReply;

/** `{ "error": { code, message, details? } }`: the JSON API's answer, and the default. */
export const jsonProblem: ProblemWriter = (reply, problem) =>
  reply
    .type('application/json; charset=utf-8')
    .send({ error: { code: problem.code, message: problem.message, ...(problem.details !== undefined && { details: problem.details }) } });

/** `CODE: message` on one line, for clients that show the answer as text (HKP's gpg). */
export const textProblem: ProblemWriter = (reply, problem) => reply.type('text/plain; charset=utf-8').send(`${problem.code}: ${problem.message}\n`);
