// DER glue (X.690 §8.1, definite lengths only): finding the parts of a signed structure and
// wrapping bytes in a header. Parsing of what the parts mean stays with @peculiar/x509; this
// exists because the hot path of an enrolment needs only the signed bytes and the signature,
// which the library keeps private, and re-encoding them through asn1js costs more than the
// signature check itself.
import { IcsError } from '../errors.ts';

/** One TLV element: where its content starts and where it ends (exclusive), within the bytes given. */
export interface DerElement {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

const malformed = (what: string) => new IcsError('BAD_REQUEST', `malformed DER: ${what}`);

/** The element starting at `offset`; BAD_REQUEST for a multi-byte tag, an indefinite or overlong length, or one past the end. */
export function elementAt(der: Uint8Array, offset: number, limit = der.byteLength): DerElement {
  if (offset + 2 > limit) throw malformed('truncated header');
  const tag = der[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw malformed('multi-byte tag');
  let length = der[offset + 1] as number;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4) throw malformed(octets === 0 ? 'indefinite length' : 'length too large');
    if (contentStart + octets > limit) throw malformed('truncated length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[contentStart + i] as number);
    contentStart += octets;
  }
  const end = contentStart + length;
  if (end > limit) throw malformed('element runs past its container');
  return { tag, start: offset, contentStart, end };
}

/** The elements inside a constructed element, in order. */
export function childrenOf(der: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = elementAt(der, at, parent.end);
    children.push(child);
    at = child.end;
  }
  return children;
}

/** The universal and context tags the encoders here use (X.690 §8.1.2): one table for all of them. */
export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  CONTEXT_0: 0xa0,
} as const;
const { SEQUENCE, BIT_STRING } = TAG;

/**
 * The parts of a SIGNED{} structure (RFC 5280 §4.1, RFC 2986 §4.2: Certificate, CRL,
 * CertificationRequest): the signed bytes as they were sent, the AlgorithmIdentifier's DER,
 * and the signature's octets (the BIT STRING without its unused-bits octet).
 */
export function signedParts(der: Uint8Array): { readonly signed: Uint8Array; readonly algorithm: Uint8Array; readonly signature: Uint8Array } {
  const outer = elementAt(der, 0);
  if (outer.tag !== SEQUENCE || outer.end !== der.byteLength) throw malformed('not one SEQUENCE');
  const parts = childrenOf(der, outer);
  const [signed, algorithm, signature] = parts;
  if (parts.length !== 3 || !signed || !algorithm || !signature || signed.tag !== SEQUENCE || algorithm.tag !== SEQUENCE || signature.tag !== BIT_STRING) {
    throw malformed('not a signed structure (SEQUENCE of to-be-signed, algorithm, BIT STRING)');
  }
  if (signature.end - signature.contentStart < 1 || der[signature.contentStart] !== 0) throw malformed('a signature BIT STRING with unused bits');
  return {
    signed: der.subarray(signed.start, signed.end),
    algorithm: der.subarray(algorithm.start, algorithm.end),
    signature: der.subarray(signature.contentStart + 1, signature.end),
  };
}

/** The subjectPublicKey octets of a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7): what key identifiers hash. */
export function subjectPublicKeyOf(spki: Uint8Array): Uint8Array {
  const outer = elementAt(spki, 0);
  const [algorithm, key] = outer.tag === SEQUENCE ? childrenOf(spki, outer) : [];
  if (!algorithm || !key || key.tag !== BIT_STRING || key.end - key.contentStart < 1) throw malformed('not a SubjectPublicKeyInfo');
  return spki.subarray(key.contentStart + 1, key.end);
}

/** DER of one element: `tag`, the definite length, then the contents given in order. */
export function encodeElement(tag: number, contents: readonly Uint8Array[]): Uint8Array {
  const length = contents.reduce((n, c) => n + c.byteLength, 0);
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else {
    const octets: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
    header = [tag, 0x80 | octets.length, ...octets];
  }
  return Buffer.concat([Uint8Array.from(header), ...contents]);
}
