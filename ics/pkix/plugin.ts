// Certificate status over HTTP: the node CA's CRL (RFC 5280 §5), DER, as
// `application/pkix-crl` (RFC 2585 §4.2), and its OCSP responder (RFC 6960 Appendix A: POST
// `application/ocsp-request`, or GET with the base64 request in the path, which HTTP caches
// may keep, RFC 5019 §5). Public: a CRL or an OCSP answer names serials, dates and reasons,
// nothing a policy keeps private. The answers are made by enrol/ (crl.ts, ocsp.ts); here are
// the paths, bodies and content types. OCSP refusals are OCSP answers (malformedRequest,
// unauthorized), as clients expect, with an HTTP status that says the same.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Counter } from 'prom-client';
import { IcsError } from '../errors.ts';
import { type HttpContext, type HttpPlugin, noInputSchema } from '../http/index.ts';

export const PKIX_PREFIX = '/pki';
export const CRL_PATH = `${PKIX_PREFIX}/crl`;
export const OCSP_PATH = `${PKIX_PREFIX}/ocsp`;

/**
 * Bytes of a POST body read. The responder takes far less (enrol/ocsp.ts: 4 KiB) and answers
 * a longer request malformedRequest; only beyond this is the body refused unread (413).
 */
export const MAX_OCSP_BODY_BYTES = 65_536;

export type OcspOutcome = 'good' | 'revoked' | 'unknown' | 'malformedRequest' | 'unauthorized';

/** What the plugin serves. */
export interface CertificateStatusSource {
  /** DER of the current CRL; undefined until the first is made. */
  crl(): { readonly der: Uint8Array; readonly nextUpdate: Date | undefined } | undefined;
  /** The OCSP answer to a DER request (never throws for bad input: it answers malformedRequest). */
  ocsp(request: Uint8Array): Promise<{ readonly der: Uint8Array; readonly outcome: OcspOutcome; readonly maxAgeSeconds: number }>;
}

export function pkixPlugin(source: CertificateStatusSource): HttpPlugin {
  return {
    name: 'pkix',
    landing: `<p>Certificate status: <code>${CRL_PATH}</code> (the CA's CRL, DER), <code>${OCSP_PATH}</code> (OCSP, RFC 6960: POST, or GET <code>${OCSP_PATH}/&lt;base64 request&gt;</code>)</p>\n`,
    register: (scope, host) => registerRoutes(scope, host, source),
  };
}

const STATUS: Record<OcspOutcome, number> = { good: 200, revoked: 200, unknown: 200, unauthorized: 200, malformedRequest: 400 };

function ocspCounter(ctx: HttpContext): Counter<'outcome'> {
  const name = 'ics_ocsp_responses_total';
  return (
    (ctx.metrics.registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ??
    new Counter({ name, help: 'OCSP answers by outcome: good, revoked, unknown (the first certificate asked about), malformedRequest, unauthorized (another CA)', labelNames: ['outcome'], registers: [ctx.metrics.registry] })
  );
}

async function registerRoutes(app: FastifyInstance, ctx: HttpContext, source: CertificateStatusSource): Promise<void> {
  const counter = ocspCounter(ctx);

  app.get(CRL_PATH, { schema: noInputSchema }, async (_request, reply) => {
    const current = source.crl();
    if (!current) throw new IcsError('UNAVAILABLE', 'the CRL is being made: ask again in a moment');
    // Caches may keep it until the next list is due, never past it.
    const maxAge = current.nextUpdate ? Math.max(0, Math.floor((current.nextUpdate.getTime() - Date.now()) / 2000)) : 0;
    return reply.code(200).type('application/pkix-crl').header('cache-control', `public, max-age=${maxAge}`).send(Buffer.from(current.der));
  });

  const answer = async (reply: FastifyReply, request: Uint8Array) => {
    const answered = await source.ocsp(request);
    counter.inc({ outcome: answered.outcome });
    if (answered.outcome === 'malformedRequest' || answered.outcome === 'unauthorized') ctx.logger.info({ outcome: answered.outcome }, 'OCSP request refused');
    const cache = answered.maxAgeSeconds > 0 ? `public, max-age=${answered.maxAgeSeconds}, no-transform, must-revalidate` : 'no-cache, no-store';
    return reply.code(STATUS[answered.outcome]).type('application/ocsp-response').header('cache-control', cache).send(Buffer.from(answered.der));
  };

  app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: MAX_OCSP_BODY_BYTES }, (_request, body, done) => done(null, body));
  app.post(OCSP_PATH, { schema: noInputSchema, bodyLimit: MAX_OCSP_BODY_BYTES }, async (request, reply) => {
    if (!Buffer.isBuffer(request.body)) throw new IcsError('BAD_REQUEST', 'an OCSP request is sent as Content-Type: application/ocsp-request');
    return answer(reply, new Uint8Array(request.body));
  });
  // RFC 6960 Appendix A.1: GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}.
  app.get(`${OCSP_PATH}/*`, { schema: noInputSchema }, async (request, reply) => {
    const raw = request.url.slice(OCSP_PATH.length + 1).split('?')[0] ?? '';
    let text: string;
    try {
      text = decodeURIComponent(raw);
    } catch {
      text = '';
    }
    const bytes = text.length > 0 && /^[A-Za-z0-9+/=\s]+$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
    return answer(reply, new Uint8Array(bytes));
  });
}
