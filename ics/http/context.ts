// What a host shares with its plugins: its tuning and components, who is asking, the record
// cache, metrics, the write gate, the body decoder and the bulk lane.
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { BulkLane } from '../net/bulk-lane.ts';
import { ANONYMOUS, type Access, type Caller } from './access.ts';
import type { HttpMetrics } from './metrics.ts';
import type { RecordCache } from './record-cache.ts';
import type { BodyDecoder } from './submission-body.ts';
import type { HttpComponents, HttpInit } from './types.ts';
import type { WriteGate } from './write-gate.ts';

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

export interface HttpContext {
  readonly init: HttpInit;
  readonly components: HttpComponents;
  readonly logger: Logger;
  readonly access: Access;
  readonly cache: RecordCache;
  readonly metrics: HttpMetrics;
  readonly writes: WriteGate;
  /** Form bodies, large ones decoded off the main thread (see submission-body.ts). */
  readonly decoder: BodyDecoder;
  /** Large submissions, one at a time and paced (see bulk-lane.ts). */
  readonly bulk: BulkLane;
  readonly startedAt: Date;
  /** The client's TLS certificates as DER, the one it authenticated with first (mutual TLS: `HttpTls.requestCert`); [] without. */
  readonly peerCertificates: (request: FastifyRequest) => Uint8Array[];
}
