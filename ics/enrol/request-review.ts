// A device's certificate request as the CA takes it (RFC 7030 §4.2.1, RFC 2986): its key
// type allowed by the profile, its signature proving possession of the key, and what it asks
// for. The CA sets subject, SAN and extensions itself; the request may name only the device
// it comes from (a subject CN or serialNumber, a SAN URI naming another is refused), and
// anything else it asks for is ignored and reported.
import { IcsError, isIcsError } from '../errors.ts';
import { type VerifiedRequest, verifyCertificateRequest } from './csr.ts';
import { KEY_ALGORITHMS, type KeyAlgorithm, publicKeyFromSpki } from './keys.ts';
import { nameAttributes } from './names.ts';
import { readCertificateRequest } from './parse.ts';
import { x509 } from './x509.ts';

export interface ReviewedRequest {
  /** DER SubjectPublicKeyInfo of the requested key. */
  readonly spki: Uint8Array;
  readonly algorithm: KeyAlgorithm;
  /** What the request asked for that the CA does not grant: names or OIDs, never values. */
  readonly ignored: readonly string[];
}

/** Who the request may name: the device that authenticated. */
export interface RequestingDevice {
  readonly urn: string;
  readonly serial: string;
}

function checkKeyType(request: x509.Pkcs10CertificateRequest, allowed: readonly KeyAlgorithm[]): void {
  let algorithm: KeyAlgorithm;
  try {
    algorithm = publicKeyFromSpki(new Uint8Array(request.publicKey.rawData)).algorithm;
  } catch (cause) {
    throw new IcsError('POLICY_REJECTED', `the request's key is of a type this node does not certify (${allowed.join(', ')})`, { cause });
  }
  if (!allowed.includes(algorithm)) throw new IcsError('POLICY_REJECTED', `the policy does not allow ${algorithm} keys in certificates (${allowed.join(', ')})`);
}

function checkSubject(request: x509.Pkcs10CertificateRequest, device: RequestingDevice, ignored: string[]): void {
  for (const [type, value] of nameAttributes(request.subjectName)) {
    const own = type === 'CN' ? device.urn : type === 'serialNumber' ? device.serial : undefined;
    if (own === undefined) ignored.push(`subject ${type}`);
    else if (value !== own) throw new IcsError('POLICY_REJECTED', `the request's subject ${type} names ${JSON.stringify(value.slice(0, 128))}, not this device (${own})`);
  }
}

const GRANTED_USAGE = x509.KeyUsageFlags.digitalSignature;

function reviewExtension(extension: x509.Extension, device: RequestingDevice, ignored: string[]): void {
  if (extension instanceof x509.SubjectAlternativeNameExtension) {
    for (const name of extension.names.items) {
      if (name.type !== 'url') ignored.push(`subjectAltName ${name.type}`);
      else if (name.value !== device.urn) throw new IcsError('POLICY_REJECTED', `the request's subjectAltName names ${JSON.stringify(name.value.slice(0, 128))}, not this device (${device.urn})`);
    }
  } else if (extension instanceof x509.KeyUsagesExtension) {
    if ((extension.usages & ~GRANTED_USAGE) !== 0) ignored.push('keyUsage (only digitalSignature is granted)');
  } else if (extension instanceof x509.ExtendedKeyUsageExtension) {
    if (extension.usages.some((u) => u !== x509.ExtendedKeyUsage.clientAuth)) ignored.push('extendedKeyUsage (only clientAuth is granted)');
  } else if (extension instanceof x509.BasicConstraintsExtension) {
    if (extension.ca) ignored.push('basicConstraints cA');
  } else if (!(extension instanceof x509.SubjectKeyIdentifierExtension)) {
    // The CA computes the key identifier itself; anything else is not granted.
    ignored.push(`extension ${extension.type}`);
  }
}

/**
 * The request, checked: LIMIT_EXCEEDED when too large, BAD_REQUEST when malformed or when its
 * signature does not verify (proof of possession), POLICY_REJECTED for a key type the profile
 * does not allow or a name that is not the device's.
 */
export async function reviewRequest(der: Uint8Array, device: RequestingDevice, keyTypes: readonly KeyAlgorithm[]): Promise<ReviewedRequest> {
  const request = readCertificateRequest(der);
  checkKeyType(request, keyTypes);
  let verified: VerifiedRequest;
  try {
    verified = await verifyCertificateRequest(request, KEY_ALGORITHMS);
  } catch (error) {
    if (isIcsError(error, 'SIGNATURE_INVALID') || isIcsError(error, 'ALGORITHM_UNSUPPORTED')) throw new IcsError('BAD_REQUEST', error.message, { cause: error });
    throw error;
  }
  const ignored: string[] = [];
  checkSubject(request, device, ignored);
  for (const extension of request.extensions) reviewExtension(extension, device, ignored);
  const other = request.attributes.filter((a) => a.type !== EXTENSION_REQUEST && a.type !== CHALLENGE_PASSWORD);
  for (const attribute of other) ignored.push(`attribute ${attribute.type}`);
  return { spki: verified.spki, algorithm: verified.algorithm, ignored };
}

/** PKCS#9 extensionRequest (RFC 2985 §5.4.2): where the extensions above come from. */
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
/** PKCS#9 challengePassword: what openssl req adds when asked; EST authenticates by TLS, so it means nothing here. */
const CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';
