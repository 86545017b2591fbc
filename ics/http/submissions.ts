// The submission path every plugin that takes records shares: who may write, the ingest
// context of a client's submission, large submissions through the bulk lane, and the answer
// to a batch with its counts in the metrics.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, IcsError } from '../errors.ts';
import type { BatchOutcome, IngestContext } from '../ingest/index.ts';
import { BULK_BYTES } from '../net/bulk-lane.ts';
import { AuthenticationRequired, type Caller } from './access.ts';
import { callerOf, type HttpContext } from './context.ts';
import { batchJson, batchText, type SubmissionAnswer } from './submission-answer.ts';

/** Which family of endpoints a submission came through: the event log's source and the metrics' `via`. */
export type SubmissionVia = 'hkp' | 'api';

/** Throws unless the caller may submit: anyone, or (writesRequireAuth) a user with write rights. */
export function requireWriter(writesRequireAuth: boolean, caller: Caller): void {
  if (!writesRequireAuth) return;
  if (caller.principal.kind === 'anonymous') throw new AuthenticationRequired('submissions to this node need credentials (HTTP basic auth)');
  if (!caller.write) throw new IcsError('POLICY_REJECTED', 'this user may not submit records');
}

/**
 * The ingest context of a client's submission: where it came from, and what the client may
 * read (it may only write where it may read, and learns nothing of records it may not read).
 */
export function submissionOf(ctx: HttpContext, request: FastifyRequest, source: SubmissionVia): IngestContext {
  const caller = callerOf(request);
  const engine = ctx.components.policy();
  return { source, origin: originOf(caller, request.ip), readable: (domain) => engine.canRead(domain, caller.principal) };
}

/**
 * Ingests a submission's records as `submissionOf` describes them; a large one (BULK_BYTES or
 * more) waits for the bulk lane and is parsed at its pace.
 */
export async function ingestSubmission(ctx: HttpContext, request: FastifyRequest, source: SubmissionVia, input: Uint8Array | string): Promise<BatchOutcome> {
  const context = submissionOf(ctx, request, source);
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size < BULK_BYTES) return ctx.components.ingest.submitBatch(input, context);
  return ctx.bulk.run((pace) => ctx.components.ingest.submitBatch(input, { ...context, pace }));
}

/** Who sent a submission, for the event log: the client address, and the user name when authenticated. */
export function originOf(caller: Caller, ip: string): string {
  return caller.principal.kind === 'user' ? `${caller.principal.name}@${ip}` : ip;
}

/**
 * Answers a batch submission: 200 when any record was accepted (inserted, updated or
 * unchanged); when every record was refused, the status of the first refusal (422 malformed,
 * 403 policy, 413 limit, …). JSON for clients that accept it, else one line per record.
 */
export function answerSubmission(
  ctx: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  batch: BatchOutcome,
  via: SubmissionVia,
): FastifyReply {
  const answer = batchJson(batch);
  countSubmission(ctx, answer, via);
  if (answer.results.length === 0) throw new IcsError('RECORD_MALFORMED', 'no OpenPGP records in the submission');
  let status = 200;
  if (answer.counts.rejected === answer.results.length) {
    const first = answer.results[0];
    const code = first && first.action === 'rejected' ? first.error.code : 'INTERNAL';
    status = ERROR_CODES[code].http;
  }
  reply.code(status);
  const json = via === 'api' || (request.headers.accept ?? '').includes('application/json');
  if (json) return reply.type('application/json; charset=utf-8').send(answer);
  return reply.type('text/plain; charset=utf-8').send(batchText(answer));
}

export function countSubmission(ctx: HttpContext, answer: SubmissionAnswer, via: SubmissionVia): void {
  for (const r of answer.results) {
    ctx.metrics.submitted.inc({ via, action: r.action });
    if (r.action === 'rejected') ctx.metrics.rejections.inc({ code: r.error.code });
    else for (const [reason, n] of Object.entries(r.dropped.byReason)) ctx.metrics.dropped.inc({ reason }, n);
  }
}
