// Certificates and certificate requests from outside (PEM text, or DER bytes): sizes capped
// before parsing, anything that does not parse is one BAD_REQUEST naming what was expected.
// asn1js, under @peculiar/x509, caps nesting depth and node count on its own.
import { IcsError } from '../errors.ts';
import { MAX_CHAIN_LENGTH, MAX_CSR_BYTES, MAX_PEM_BYTES } from './limits.ts';
import { x509 } from './x509.ts';

/** Bytes that start like PEM are read as PEM text; other bytes as DER. */
function derBlocks(input: string | Uint8Array, label: string, limit: number, what: string): ArrayBuffer[] {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (size > limit) throw new IcsError('LIMIT_EXCEEDED', `${what}: larger than ${limit} bytes`);
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    text = Buffer.from(input).toString('latin1');
    if (!text.trimStart().startsWith('-----BEGIN ')) return [new Uint8Array(input).buffer];
  }
  let blocks: ReturnType<typeof x509.PemConverter.decodeWithHeaders>;
  try {
    blocks = x509.PemConverter.decodeWithHeaders(text);
  } catch (cause) {
    throw new IcsError('BAD_REQUEST', `${what}: malformed PEM`, { cause });
  }
  if (blocks.length === 0) throw new IcsError('BAD_REQUEST', `${what}: no PEM block found`);
  // Refused rather than skipped: a private key pasted by mistake should be said, not ignored.
  const other = blocks.find((b) => b.type !== label);
  if (other) throw new IcsError('BAD_REQUEST', `${what}: a ${other.type} block where only ${label} blocks belong`);
  return blocks.map((b) => b.rawData);
}

/** One or more certificates: a PEM bundle, or one DER certificate. */
export function readCertificates(input: string | Uint8Array, what = 'certificate'): x509.X509Certificate[] {
  const ders = derBlocks(input, 'CERTIFICATE', MAX_PEM_BYTES, what);
  if (ders.length > MAX_CHAIN_LENGTH) throw new IcsError('LIMIT_EXCEEDED', `${what}: more than ${MAX_CHAIN_LENGTH} certificates`);
  return ders.map((der, i) => {
    try {
      return new x509.X509Certificate(der);
    } catch (cause) {
      throw new IcsError('BAD_REQUEST', `${what}: ${ders.length > 1 ? `block ${i + 1} ` : ''}is not an X.509 certificate`, { cause });
    }
  });
}

/** A PKCS#10 request (PEM or DER), parsed but not yet verified. */
export function readCertificateRequest(input: string | Uint8Array): x509.Pkcs10CertificateRequest {
  const what = 'certificate request';
  const ders = derBlocks(input, 'CERTIFICATE REQUEST', MAX_CSR_BYTES, what);
  if (ders.length !== 1) throw new IcsError('BAD_REQUEST', `${what}: exactly one request expected, got ${ders.length}`);
  try {
    return new x509.Pkcs10CertificateRequest(ders[0] as ArrayBuffer);
  } catch (cause) {
    throw new IcsError('BAD_REQUEST', `${what}: not a PKCS#10 request`, { cause });
  }
}

/** PEM text of parsed certificates, one block each (chain.pem, operational.pem). */
export function certificatesPem(certificates: ReadonlyArray<x509.X509Certificate>): string {
  return certificates.map((c) => `${c.toString('pem')}\n`).join('');
}

/** PEM text of a DER certificate (as stored in the certificate index), for people and files. */
export function certificatePem(der: Uint8Array): string {
  return `${x509.PemConverter.encode(new Uint8Array(der).buffer, 'CERTIFICATE')}\n`;
}
