// A certs-only message (RFC 5272 §4.1 "Simple PKI Response", RFC 8551 §3.2.2 smime-type
// certs-only): a CMS SignedData with certificates and no signers, as EST answers cacerts and
// enrolments with (RFC 7030 §4.1.3, §4.2.3). Made by @peculiar/x509, not by hand.
import { x509 } from './x509.ts';

/** DER of a certs-only message holding `certificates` (DER or parsed), in order. */
export function certsOnly(certificates: ReadonlyArray<x509.X509Certificate | Uint8Array>): Uint8Array {
  const parsed = certificates.map((c) => (c instanceof x509.X509Certificate ? c : new x509.X509Certificate(new Uint8Array(c))));
  return new Uint8Array(new x509.X509Certificates(parsed).export('raw'));
}
