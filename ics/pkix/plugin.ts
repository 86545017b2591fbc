// Certificate status over HTTP (RFC 5280 §5, RFC 8894's habit of plain GETs): the node CA's
// CRL, DER, as `application/pkix-crl` (RFC 2585 §4.2), for relying parties, brokers and
// `openssl crl`. Public: a CRL names serials and dates, nothing a policy keeps private.
// OCSP (RFC 6960) joins it here. The lists are made by enrol/ (crl.ts); this is the path.
import type { FastifyInstance } from 'fastify';
import { IcsError } from '../errors.ts';
import { type HttpContext, type HttpPlugin, noInputSchema } from '../http/index.ts';

export const PKIX_PREFIX = '/pki';
export const CRL_PATH = `${PKIX_PREFIX}/crl`;

/** What the plugin serves: the current list, if the node makes one. */
export interface CertificateStatusSource {
  /** DER of the current CRL; undefined until the first is made. */
  crl(): { readonly der: Uint8Array; readonly nextUpdate: Date | undefined } | undefined;
}

export function pkixPlugin(source: CertificateStatusSource): HttpPlugin {
  return {
    name: 'pkix',
    landing: `<p>Certificate status: <code>${CRL_PATH}</code> (the CA's CRL, DER)</p>\n`,
    register: (scope, host) => registerRoutes(scope, host, source),
  };
}

async function registerRoutes(app: FastifyInstance, _ctx: HttpContext, source: CertificateStatusSource): Promise<void> {
  app.get(CRL_PATH, { schema: noInputSchema }, async (_request, reply) => {
    const current = source.crl();
    if (!current) throw new IcsError('UNAVAILABLE', 'the CRL is being made: ask again in a moment');
    // Caches may keep it until the next list is due, never past it.
    const maxAge = current.nextUpdate ? Math.max(0, Math.floor((current.nextUpdate.getTime() - Date.now()) / 2000)) : 0;
    return reply.code(200).type('application/pkix-crl').header('cache-control', `public, max-age=${maxAge}`).send(Buffer.from(current.der));
  });
}
