// End-entity certificates (RFC 5280 §4.2): a subject, SAN URIs, keyUsage (critical), an
// optional extendedKeyUsage, a validity. Birth certificates are one profile of these, EST's
// operational certificates the next; neither may make a CA.
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { IcsError } from '../errors.ts';
import { type CertificateSigner, type IssuedCertificate, signCertificate } from './certificate.ts';
import { publicKeyFromSpki } from './keys.ts';
import { BACKDATE_MS } from './limits.ts';
import { type DistinguishedName, distinguishedName } from './names.ts';
import { x509 } from './x509.ts';

/** keyUsage bits an end entity may have (never keyCertSign or cRLSign). */
export type KeyUsageName = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement';

const KEY_USAGES: Record<KeyUsageName, number> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  nonRepudiation: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
};

/** extendedKeyUsage purposes by name (RFC 5280 §4.2.1.12); dotted OIDs are taken as they are. */
const PURPOSES: Record<string, string> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
  codeSigning: x509.ExtendedKeyUsage.codeSigning,
  emailProtection: x509.ExtendedKeyUsage.emailProtection,
  timeStamping: x509.ExtendedKeyUsage.timeStamping,
  OCSPSigning: x509.ExtendedKeyUsage.ocspSigning,
};

export interface LeafSpec {
  readonly subject: DistinguishedName;
  /** DER SubjectPublicKeyInfo or a WebCrypto public key: P-256 or Ed25519. */
  readonly publicKey: Uint8Array | CryptoKey;
  /** subjectAltName uniformResourceIdentifier entries, e.g. the device's URN. */
  readonly sanUris?: readonly string[];
  /** subjectAltName dNSName entries (a server's host names). */
  readonly sanDnsNames?: readonly string[];
  /** subjectAltName iPAddress entries, as text (`127.0.0.1`, `::1`). */
  readonly sanIpAddresses?: readonly string[];
  /** Default: now, less BACKDATE_MS. */
  readonly notBefore?: Date;
  /** Exactly one of notAfter and lifetimeSeconds (counted from now). */
  readonly notAfter?: Date;
  readonly lifetimeSeconds?: number;
  /** Default: digitalSignature. Always critical. */
  readonly keyUsage?: readonly KeyUsageName[];
  /** Purposes by name (clientAuth, serverAuth, …) or dotted OID; absent: no extendedKeyUsage. */
  readonly extendedKeyUsage?: readonly string[];
  /** Hex; default a fresh random one. */
  readonly serial?: string;
  /** Where relying parties find this certificate's status: a CRL distribution point and an OCSP responder (AIA). */
  readonly statusUrls?: { readonly crl: string; readonly ocsp: string };
  /** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): for a delegated OCSP responder, whose own status is not asked. */
  readonly ocspNoCheck?: boolean;
  readonly now?: Date;
}

/** id-pkix-ocsp-nocheck, its value NULL. */
const OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
const DER_NULL = Uint8Array.from([0x05, 0x00]);

/** RFC 5280 §4.1.2.2: a positive INTEGER of at most 20 octets. */
const SERIAL = /^[0-7][0-9a-f](?:[0-9a-f]{2}){0,19}$/i;
/** A URI's scheme (RFC 3986 §3.1); SAN URIs are IA5String, so ASCII without spaces. */
const URI = /^[a-z][a-z0-9+.-]*:[\x21-\x7e]+$/i;
/** A host name (RFC 1123 labels, an optional trailing dot), as a dNSName holds it. */
const DNS_NAME = /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** The key as DER SPKI, refused unless P-256 or Ed25519. */
async function publicKeyBytes(key: Uint8Array | CryptoKey): Promise<Uint8Array> {
  const spki = key instanceof Uint8Array ? key : new Uint8Array(await webcrypto.subtle.exportKey('spki', key as webcrypto.CryptoKey));
  publicKeyFromSpki(spki);
  return spki;
}

function validity(spec: LeafSpec): { notBefore: Date; notAfter: Date } {
  const now = spec.now ?? new Date();
  const notBefore = spec.notBefore ?? new Date(now.getTime() - BACKDATE_MS);
  if ((spec.notAfter === undefined) === (spec.lifetimeSeconds === undefined)) throw new IcsError('BAD_REQUEST', 'give either notAfter or lifetimeSeconds');
  if (spec.lifetimeSeconds !== undefined && !(Number.isFinite(spec.lifetimeSeconds) && spec.lifetimeSeconds > 0)) {
    throw new IcsError('BAD_REQUEST', 'the lifetime must be a positive number of seconds');
  }
  const notAfter = spec.notAfter ?? new Date(now.getTime() + (spec.lifetimeSeconds as number) * 1000);
  return { notBefore, notAfter };
}

function extensionsOf(spec: LeafSpec): x509.Extension[] {
  const usage = (spec.keyUsage ?? ['digitalSignature']).reduce((bits, name) => {
    const bit = KEY_USAGES[name];
    if (bit === undefined) throw new IcsError('BAD_REQUEST', `key usage "${name}" is not one an end entity may have (${Object.keys(KEY_USAGES).join(', ')})`);
    return bits | bit;
  }, 0);
  if (usage === 0) throw new IcsError('BAD_REQUEST', 'at least one key usage is needed');
  // basicConstraints cA=false is left out, as RFC 5280 §4.2.1.9 allows: the absence means not a CA.
  const extensions: x509.Extension[] = [new x509.KeyUsagesExtension(usage, true)];
  const uris = spec.sanUris ?? [];
  for (const uri of uris) if (!URI.test(uri)) throw new IcsError('BAD_REQUEST', `${JSON.stringify(uri)} is not an ASCII URI`);
  const dnsNames = spec.sanDnsNames ?? [];
  for (const name of dnsNames) if (!DNS_NAME.test(name)) throw new IcsError('BAD_REQUEST', `${JSON.stringify(name)} is not a DNS name`);
  const ips = spec.sanIpAddresses ?? [];
  for (const ip of ips) if (isIP(ip) === 0) throw new IcsError('BAD_REQUEST', `${JSON.stringify(ip)} is not an IP address`);
  const names = [
    ...uris.map((value) => ({ type: 'url' as const, value })),
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  if (spec.extendedKeyUsage && spec.extendedKeyUsage.length > 0) {
    const purposes = spec.extendedKeyUsage.map((p) => {
      const oid = PURPOSES[p] ?? (/^[0-2](\.(0|[1-9][0-9]*))+$/.test(p) ? p : undefined);
      if (!oid) throw new IcsError('BAD_REQUEST', `unknown extended key usage "${p}" (${Object.keys(PURPOSES).join(', ')}, or a dotted OID)`);
      return oid;
    });
    extensions.push(new x509.ExtendedKeyUsageExtension(purposes));
  }
  if (spec.statusUrls) {
    for (const url of [spec.statusUrls.crl, spec.statusUrls.ocsp]) if (!URI.test(url)) throw new IcsError('BAD_REQUEST', `${JSON.stringify(url)} is not an ASCII URI`);
    extensions.push(new x509.CRLDistributionPointsExtension([spec.statusUrls.crl]), new x509.AuthorityInfoAccessExtension({ ocsp: [spec.statusUrls.ocsp] }));
  }
  if (spec.ocspNoCheck) extensions.push(new x509.Extension(OCSP_NOCHECK, false, DER_NULL));
  return extensions;
}

export async function issueEndEntity(signer: CertificateSigner, spec: LeafSpec): Promise<IssuedCertificate> {
  if (spec.serial !== undefined && (!SERIAL.test(spec.serial) || /^0+$/.test(spec.serial))) throw new IcsError('BAD_REQUEST', 'the serial must be a positive hex INTEGER of at most 20 octets');
  return signCertificate(signer, {
    subject: distinguishedName(spec.subject),
    publicKey: await publicKeyBytes(spec.publicKey),
    ...validity(spec),
    extensions: extensionsOf(spec),
    ...(spec.serial !== undefined && { serial: spec.serial }),
  });
}
