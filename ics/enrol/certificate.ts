// Making one certificate: serial, validity, subject and issuer, the key identifiers, the
// signature. Every certificate the authority issues (root, subordinate, end entity, birth)
// is made here, so these rules hold for all of them.
import { createHash, randomBytes } from 'node:crypto';
import { IcsError } from '../errors.ts';
import { subjectPublicKeyOf } from './der.ts';
import type { SigningKey } from './keys.ts';
import { nameText } from './names.ts';
import { x509 } from './x509.ts';

/** Who signs: the issuer's name (its certificate's subject, byte for byte), key identifier and key. */
export interface CertificateSigner {
  readonly name: x509.Name;
  /** Hex key identifier of the signing key: the issuer certificate's SKI. */
  readonly keyIdentifier: string;
  readonly key: SigningKey;
}

export interface CertificateContent {
  readonly subject: x509.Name;
  /** DER SubjectPublicKeyInfo or a WebCrypto public key. */
  readonly publicKey: Uint8Array | CryptoKey;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Besides the subject and authority key identifiers, which are always added. */
  readonly extensions: readonly x509.Extension[];
  /** Hex; a fresh random serial when absent. */
  readonly serial?: string;
}

/** A certificate the authority made. */
export interface IssuedCertificate {
  readonly certificate: x509.X509Certificate;
  readonly der: Uint8Array;
  readonly pem: string;
  /** Hex, as in the certificate (lower-case). */
  readonly serial: string;
  /** SHA-256 of the DER, lower-case hex. */
  readonly fingerprint: string;
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Octets of a random serial: RFC 5280 §4.1.2.2 allows at most 20; 16 random ones leave no guessing. */
const SERIAL_BYTES = 16;

/**
 * A random positive serial of exactly 16 octets: the top bit cleared keeps the INTEGER
 * positive without a leading zero octet, the next bit set keeps it 16 octets long (126
 * random bits).
 */
export function randomSerial(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = ((bytes[0] as number) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

/** Hex SHA-256 of DER bytes. */
export function fingerprintOf(der: Uint8Array | ArrayBuffer): string {
  return createHash('sha256')
    .update(new Uint8Array(der))
    .digest('hex');
}

/** What @peculiar/x509 takes as a key: bytes over a plain ArrayBuffer (a copy), or the CryptoKey. */
function asKeyInput(key: Uint8Array | CryptoKey): Uint8Array<ArrayBuffer> | CryptoKey {
  return key instanceof Uint8Array ? new Uint8Array(key) : key;
}

/**
 * RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING, as @peculiar/x509
 * computes it (hashed here by node:crypto: the library's WebCrypto digest is a thread-pool job).
 */
export async function keyIdentifier(publicKey: Uint8Array | CryptoKey | x509.PublicKey): Promise<string> {
  const key = publicKey instanceof Uint8Array || publicKey instanceof x509.PublicKey ? publicKey : await x509.PublicKey.create(publicKey);
  const spki = key instanceof Uint8Array ? key : new Uint8Array(key.rawData);
  return createHash('sha1').update(subjectPublicKeyOf(spki)).digest('hex');
}

/** The key identifier a certificate names for itself (SKI), else computed from its key. */
export async function subjectKeyIdentifierOf(certificate: x509.X509Certificate): Promise<string> {
  const ski = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  return ski ? ski.keyId : keyIdentifier(certificate.publicKey);
}

export async function signCertificate(signer: CertificateSigner, content: CertificateContent): Promise<IssuedCertificate> {
  if (!(content.notAfter.getTime() > content.notBefore.getTime())) throw new IcsError('BAD_REQUEST', 'the certificate would expire before it is valid');
  const ski = await keyIdentifier(content.publicKey);
  const certificate = await signer.key.use(({ privateKey, crypto }) =>
    x509.X509CertificateGenerator.create(
      {
        serialNumber: content.serial ?? randomSerial(),
        subject: content.subject,
        issuer: signer.name,
        notBefore: content.notBefore,
        notAfter: content.notAfter,
        publicKey: asKeyInput(content.publicKey),
        signingKey: privateKey,
        signingAlgorithm: signer.key.signingAlgorithm,
        extensions: [...content.extensions, new x509.SubjectKeyIdentifierExtension(ski), new x509.AuthorityKeyIdentifierExtension(signer.keyIdentifier)],
      },
      crypto,
    ),
  );
  return describeCertificate(certificate);
}

export function describeCertificate(certificate: x509.X509Certificate): IssuedCertificate {
  const der = new Uint8Array(certificate.rawData);
  return {
    certificate,
    der,
    pem: `${certificate.toString('pem')}\n`,
    serial: certificate.serialNumber,
    fingerprint: fingerprintOf(der),
    subject: nameText(certificate.subjectName),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
}
