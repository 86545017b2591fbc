// What a device does with the CA (the reference client `ics enrol`, RFC 7030 §4.2 from the
// device's side): a fresh key and a PKCS#10 request for it, the certificate read out of the
// CA's certs-only answer and checked to be for that key, and when to renew.
import { type KeyObject } from 'node:crypto';
import { IcsError } from '../errors.ts';
import { generatePrivateKey, type KeyAlgorithm, signingKeyOf, spkiOf } from './keys.ts';
import { x509 } from './x509.ts';

export interface DeviceRequest {
  /** The new private key; the caller keeps it (mode 0600), nothing here writes it. */
  readonly privateKey: KeyObject;
  /** DER of the PKCS#10 request, signed with that key (proof of possession). */
  readonly der: Uint8Array;
}

/**
 * A new key of `algorithm` and a request for it naming `urn` (the CA sets the subject and
 * extensions itself; the name only tells it which device asks).
 */
export async function deviceRequest(urn: string, algorithm: KeyAlgorithm): Promise<DeviceRequest> {
  const privateKey = generatePrivateKey(algorithm);
  const signing = await signingKeyOf(privateKey);
  const request = await signing.use(({ privateKey: key, publicKey, crypto }) =>
    x509.Pkcs10CertificateRequestGenerator.create(
      {
        name: [{ CN: [urn] }],
        keys: { privateKey: key, publicKey },
        signingAlgorithm: signing.signingAlgorithm,
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: urn }])],
      },
      crypto,
    ),
  );
  return { privateKey, der: new Uint8Array(request.rawData) };
}

/** The certificates of a certs-only message (DER), in order. BAD_REQUEST if it is not one. */
export function certificatesOf(message: Uint8Array): x509.X509Certificate[] {
  try {
    return [...new x509.X509Certificates(new Uint8Array(message).buffer)];
  } catch (cause) {
    throw new IcsError('BAD_REQUEST', 'the answer is not a certs-only message (PKCS#7)', { cause });
  }
}

/** The one certificate in an enrolment answer, which must be for `privateKey`'s public key. */
export function issuedFor(message: Uint8Array, privateKey: KeyObject): x509.X509Certificate {
  const found = certificatesOf(message);
  const spki = Buffer.from(spkiOf(privateKey));
  const mine = found.find((c) => Buffer.from(c.publicKey.rawData).equals(spki));
  if (!mine) throw new IcsError('BAD_REQUEST', `the answer holds ${found.length} certificate(s), none for the key this device asked for`);
  return mine;
}

/** A certificate's lifetime and renewal point. */
export interface Renewal {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** From here on, renew (inside the renewal window). */
  readonly renewAt: Date;
}

/**
 * When to renew: `before` milliseconds ahead of the end, or — without it — with a third of the
 * lifetime left (10 days of the default 30, the default renewal window of the policy).
 */
export function renewalOf(certificate: x509.X509Certificate, before?: number): Renewal {
  const { notBefore, notAfter } = certificate;
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const window = Math.min(before ?? lifetime / 3, lifetime);
  return { notBefore, notAfter, renewAt: new Date(notAfter.getTime() - window) };
}

/** SAN URIs that name a device (URN kinds with birth certificates). */
const DEVICE_URN = /^urn:cm4it:(?:device|gateway):/;

/** The device URNs a certificate (or a request) names in its subjectAltName (birth and operational certificates carry one). */
export function deviceUrnsOf(certificate: x509.X509Certificate | x509.Pkcs10CertificateRequest): string[] {
  const san = certificate.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
  return [...new Set((san?.names.items ?? []).filter((n) => n.type === 'url' && DEVICE_URN.test(n.value)).map((n) => n.value))];
}

