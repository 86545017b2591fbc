// What the route handlers share: tuning, components, caches, metrics, the write gate.
import type { Logger } from 'pino';
import { IcsError } from '../errors.ts';
import { BULK_BYTES, type BulkLane } from '../net/bulk-lane.ts';
import type { BatchOutcome, IngestContext } from '../ingest/ingest.ts';
import type { FastifyRequest } from 'fastify';
import { ANONYMOUS, AuthenticationRequired, type Caller } from './access.ts';
import type { Access } from './access.ts';
import { MAX_CONCURRENT_WRITES, MAX_QUEUED_WRITES, RETRY_AFTER_SECONDS } from './limits.ts';
import type { HkpMetrics } from './metrics.ts';
import type { BodyDecoder } from './submission-body.ts';
import type { Finder, RecordCache } from './search.ts';
import type { HkpComponents, HkpInit } from './types.ts';
import type { VerdictCache } from './verdicts.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the onRequest hook when the request carries credentials; null: anonymous. */
    caller: Caller | null;
  }
}

/** Who sent the request (anonymous unless it authenticated). */
export function callerOf(request: FastifyRequest): Caller {
  return request.caller ?? ANONYMOUS;
}

/** Bounds submissions in progress (their bodies and parsed records are in memory); others queue. */
export class WriteGate {
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  /**
   * Resolves with `release` once a slot is free; throws UNAVAILABLE (503 with Retry-After)
   * when the queue is full too. `release` gives the slot back once, to the next in line.
   */
  async acquire(): Promise<() => void> {
    if (this.#active >= MAX_CONCURRENT_WRITES) {
      if (this.#waiting.length >= MAX_QUEUED_WRITES) {
        throw new IcsError('UNAVAILABLE', `${MAX_CONCURRENT_WRITES} submissions in progress and ${MAX_QUEUED_WRITES} waiting`, {
          details: { retryAfter: RETRY_AFTER_SECONDS },
        });
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.#waiting.shift();
      if (next) next(); // the slot passes on without being freed
      else this.#active--;
    };
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}

export interface HkpContext {
  readonly init: HkpInit;
  readonly components: HkpComponents;
  readonly logger: Logger;
  readonly access: Access;
  readonly cache: RecordCache;
  readonly finder: Finder;
  readonly verdicts: VerdictCache;
  readonly metrics: HkpMetrics;
  readonly writes: WriteGate;
  readonly decoder: BodyDecoder;
  /** Large submissions, one at a time and paced (see bulk-lane.ts). */
  readonly bulk: BulkLane;
  readonly startedAt: Date;
}

/** Throws unless the caller may submit: anyone, or (writesRequireAuth) a user with write rights. */
export function requireWriter(ctx: HkpContext, caller: Caller): void {
  if (!ctx.init.writesRequireAuth) return;
  if (caller.principal.kind === 'anonymous') throw new AuthenticationRequired('submissions to this node need credentials (HTTP basic auth)');
  if (!caller.write) throw new IcsError('POLICY_REJECTED', 'this user may not submit records');
}

/**
 * The ingest context of a client's submission: where it came from, and what the client may
 * read (it may only write where it may read, and learns nothing of records it may not read).
 */
export function submissionOf(ctx: HkpContext, request: FastifyRequest, source: 'hkp' | 'api'): IngestContext {
  const caller = callerOf(request);
  const engine = ctx.components.policy();
  return { source, origin: originOf(caller, request.ip), readable: (domain) => engine.canRead(domain, caller.principal) };
}

/**
 * Ingests a submission's records as `submissionOf` describes them; a large one (BULK_BYTES or
 * more) waits for the bulk lane and is parsed at its pace.
 */
export async function ingestSubmission(ctx: HkpContext, request: FastifyRequest, source: 'hkp' | 'api', input: Uint8Array | string): Promise<BatchOutcome> {
  const context = submissionOf(ctx, request, source);
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size < BULK_BYTES) return ctx.components.ingest.submitBatch(input, context);
  return ctx.bulk.run((pace) => ctx.components.ingest.submitBatch(input, { ...context, pace }));
}

/** Who sent a submission, for the event log: the client address, and the user name when authenticated. */
export function originOf(caller: Caller, ip: string): string {
  return caller.principal.kind === 'user' ? `${caller.principal.name}@${ip}` : ip;
}
