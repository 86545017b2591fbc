// The EST plugin of the HTTP host (RFC 7030, with RFC 8951's clarifications), on the node's
// mutual-TLS listener: GET cacerts (§4.1), POST simpleenroll and simplereenroll (§4.2), GET
// csrattrs (§4.5), under /.well-known/est/ and under /.well-known/est/<label>/ where the label
// (§3.2.2) names a policy domain the device's record must be in. The decisions are the
// certificate authority's (enrol/); here are the paths, bodies and content types. Refusals
// are a line of plain text with the status of their code, logged and counted in /metrics.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Enrolled, EnrolmentPending, EnrolmentRequest } from '../enrol/index.ts';
import { IcsError } from '../errors.ts';
import { type HttpContext, type HttpPlugin, noInputSchema, type ProblemWriter, textProblem, toProblem } from '../http/index.ts';
import { base64Lines, requestBytes } from './body.ts';
import { MAX_EST_BODY_BYTES } from './limits.ts';
import { type EstOperation, estCounter } from './metrics.ts';
import type { EstAuthority } from './types.ts';

export const EST_PREFIX = '/.well-known/est';

/**
 * Certificates answered: a certs-only message (RFC 8551 §3.2.2). RFC 7030 names
 * application/pkcs7-mime for cacerts (§4.1.3) and adds smime-type=certs-only for enrolments
 * (§4.2.3); the content is a certs-only message in both, so both say so.
 */
const CERTS_ONLY = 'application/pkcs7-mime; smime-type=certs-only';

/** What a request asked for that the CA did not grant (names, never values): also logged with the issuance. */
export const NOT_GRANTED_HEADER = 'ics-not-granted';

const LANDING = `<p>EST (RFC 7030): <code>${EST_PREFIX}/cacerts</code>, <code>${EST_PREFIX}/simpleenroll</code>, <code>${EST_PREFIX}/simplereenroll</code>, <code>${EST_PREFIX}/csrattrs</code>; with a label: <code>${EST_PREFIX}/&lt;domain&gt;/…</code></p>
`;

/**
 * Text, as for every EST answer. A 401 here is about the TLS client certificate: the host's
 * basic-auth challenge would send clients after a password that EST does not take.
 */
const estProblem: ProblemWriter = (reply, problem) => {
  reply.removeHeader('www-authenticate');
  return textProblem(reply, problem);
};

export function estPlugin(authority: EstAuthority): HttpPlugin {
  return {
    name: 'est',
    problems: { prefix: `${EST_PREFIX}/`, write: estProblem },
    landing: LANDING,
    register: (scope, host) => registerRoutes(scope, host, authority),
  };
}

function operationOf(request: FastifyRequest): EstOperation {
  return (request.routeOptions.url ?? request.url).split('/').pop() as EstOperation;
}

async function registerRoutes(app: FastifyInstance, ctx: HttpContext, authority: EstAuthority): Promise<void> {
  const counter = estCounter(ctx.metrics.registry);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/pkcs10', { parseAs: 'buffer', bodyLimit: MAX_EST_BODY_BYTES }, (_request, body, done) => done(null, body));

  // Every refusal of these routes (the host's rate limit, body limits and media types
  // included) is counted by its code and logged with the client and the reason.
  app.addHook('onError', (request, _reply, error, done) => {
    const problem = toProblem(error);
    counter.inc({ operation: operationOf(request), outcome: problem.code });
    if (problem.fault === 'client') {
      ctx.logger.info({ operation: operationOf(request), client: request.ip, status: problem.status, code: problem.code, reason: problem.message }, 'EST request refused');
    }
    done();
  });

  /** The domain a label names; NOT_FOUND for a label that names none. Undefined without a label. */
  const domainOf = (request: FastifyRequest): string | undefined => {
    const label = (request.params as { label?: string }).label;
    if (label === undefined) return undefined;
    if (!authority.hasDomain(label)) throw new IcsError('NOT_FOUND', `no EST label ${JSON.stringify(label.slice(0, 64))}: labels are the names of this node's policy domains`);
    return label;
  };

  const certificates = (reply: FastifyReply, der: Uint8Array) => reply.code(200).type(CERTS_ONLY).send(base64Lines(der));

  const enrolment = (operation: 'simpleenroll' | 'simplereenroll', run: (request: EnrolmentRequest) => Promise<Enrolled | EnrolmentPending>) => async (request: FastifyRequest, reply: FastifyReply) => {
    const domain = domainOf(request);
    const enrolled = await run({
      clientCertificates: ctx.peerCertificates(request),
      csr: requestBytes(request.body as Buffer | undefined),
      origin: `est:${request.ip}`,
      ...(domain !== undefined && { domain }),
    });
    if (enrolled.pending) {
      // RFC 7030 §4.2.3: 202 and Retry-After; the device sends its request again then.
      counter.inc({ operation, outcome: 'pending' });
      return reply
        .code(202)
        .header('retry-after', String(enrolled.retryAfterSeconds))
        .type('text/plain; charset=utf-8')
        .send(`PENDING: the enrolment of ${enrolled.urn} waits for an operator's approval (ics cert approve ${enrolled.recordId}); ask again in ${enrolled.retryAfterSeconds} s\n`);
    }
    counter.inc({ operation, outcome: 'issued' });
    if (enrolled.ignored.length > 0) reply.header(NOT_GRANTED_HEADER, enrolled.ignored.join(', '));
    return certificates(reply, enrolled.certsOnly);
  };

  for (const base of [EST_PREFIX, `${EST_PREFIX}/:label`]) {
    app.get(`${base}/cacerts`, { schema: noInputSchema }, async (request, reply) => {
      domainOf(request);
      counter.inc({ operation: 'cacerts', outcome: 'served' });
      return certificates(reply, authority.caCertificates());
    });
    // §4.5.2: no attributes are asked for (the CA sets subject and extensions itself): 204.
    app.get(`${base}/csrattrs`, { schema: noInputSchema }, async (request, reply) => {
      domainOf(request);
      counter.inc({ operation: 'csrattrs', outcome: 'served' });
      return reply.code(204).send();
    });
    app.post(`${base}/simpleenroll`, { schema: noInputSchema }, enrolment('simpleenroll', (r) => authority.enrol(r)));
    app.post(`${base}/simplereenroll`, { schema: noInputSchema }, enrolment('simplereenroll', (r) => authority.reenrol(r)));
  }
}
