// A certs-only message (RFC 5272 §4.1 "Simple PKI Response", RFC 8551 §3.2.2 smime-type
// certs-only): a CMS SignedData with certificates and no signers, as EST answers cacerts and
// enrolments with (RFC 7030 §4.1.3, §4.2.3). Its envelope is fixed but for lengths, so the
// certificates' DER is wrapped as it is (as `openssl crl2pkcs7 -nocrl` does: no eContent)
// rather than parsed and re-encoded through asn1js, which cost an enrolment a millisecond.
import { encodeElement, TAG } from './der.ts';

const { SEQUENCE, CONTEXT_0 } = TAG;
import { x509 } from './x509.ts';

/** id-signedData (1.2.840.113549.1.7.2) and id-data (…7.1), DER. */
const ID_SIGNED_DATA = Buffer.from('06092a864886f70d010702', 'hex');
const ID_DATA = Buffer.from('06092a864886f70d010701', 'hex');
/** CMSVersion 1: no attribute certificates, no other formats (RFC 5652 §5.1). */
const VERSION_1 = Buffer.from('020101', 'hex');
const EMPTY_SET = Buffer.from('3100', 'hex');

/** DER of a certs-only message holding `certificates` (DER or parsed), in order. */
export function certsOnly(certificates: ReadonlyArray<x509.X509Certificate | Uint8Array>): Uint8Array {
  const ders = certificates.map((c) => (c instanceof x509.X509Certificate ? new Uint8Array(c.rawData) : c));
  const signedData = encodeElement(SEQUENCE, [
    VERSION_1,
    EMPTY_SET, // digestAlgorithms
    encodeElement(SEQUENCE, [ID_DATA]), // encapContentInfo, no content
    encodeElement(CONTEXT_0, ders), // certificates [0] IMPLICIT
    EMPTY_SET, // signerInfos
  ]);
  return encodeElement(SEQUENCE, [ID_SIGNED_DATA, encodeElement(CONTEXT_0, [signedData])]);
}
