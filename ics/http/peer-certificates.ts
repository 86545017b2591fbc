// The certificates a TLS client presented (mutual TLS, `HttpTls.requestCert`), as DER: the
// one it authenticated with first, then its issuers as node links them. TLS has only checked
// that the client holds the first one's key (CertificateVerify); everything else about them
// is for the plugin to judge. Plain HTTP, or no certificate: none.
import { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';

/** More links than any sane chain: a bound on walking node's issuer links. */
const MAX_LINKS = 16;

export function peerCertificates(request: FastifyRequest): Uint8Array[] {
  const socket = request.raw.socket;
  if (!(socket instanceof TLSSocket)) return [];
  const chain: Uint8Array[] = [];
  const seen = new Set<string>();
  // Node links each certificate to its issuer (the root links to itself).
  let current: { raw?: Buffer; fingerprint256?: string; issuerCertificate?: unknown } | undefined = socket.getPeerCertificate(true);
  while (current?.raw && chain.length < MAX_LINKS && !seen.has(current.fingerprint256 ?? '')) {
    seen.add(current.fingerprint256 ?? '');
    chain.push(new Uint8Array(current.raw));
    current = current.issuerCertificate as typeof current;
  }
  return chain;
}
