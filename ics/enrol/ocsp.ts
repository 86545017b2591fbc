// OCSP responder (RFC 6960) for the certificates the node's CA issued, answering from the
// certificate index: good, revoked (time and reason) or unknown. Signed by a delegated
// responder certificate the CA issues at start (id-kp-OCSPSigning, id-pkix-ocsp-nocheck;
// its key in memory only, renewed before it expires), so that the CA key signs nothing per
// request. A request without a nonce (RFC 5019, what constrained clients send) gets a
// response signed once per certificate and status and kept until either changes or it is
// half way to its nextUpdate — a repeated request (same bytes) is answered without parsing it;
// a request with a nonce (RFC 8954) gets a fresh signature that echoes it. Schemas from @peculiar/asn1-ocsp; the signature by node:crypto.
import { createHash, type KeyObject, sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  CertID,
  CertStatus,
  id_pkix_ocsp_nonce,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from '@peculiar/asn1-ocsp';
import { CRLReason, type Extension } from '@peculiar/asn1-x509';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { type CertificateEntry, type CertificateIndex, REVOCATION_REASON_CODES } from '../store/index.ts';
import type { UnlockedAuthority } from './ca.ts';
import { fingerprintOf } from './certificate.ts';
import { encodeElement, subjectPublicKeyOf, TAG } from './der.ts';

const { SEQUENCE, BIT_STRING, OCTET_STRING, CONTEXT_0 } = TAG;
import { generatePrivateKey, spkiOf } from './keys.ts';

/** Bytes of a request taken at most: a handful of CertIDs and a nonce fit in far less. */
export const MAX_OCSP_REQUEST_BYTES = 4096;
/** CertIDs answered in one request. */
export const MAX_OCSP_REQUESTS = 16;
/** RFC 8954 §2.1: a nonce of 1 to 32 octets. */
const MAX_NONCE_BYTES = 32;
/** nextUpdate − thisUpdate of a response: how long a client may rely on it. */
export const OCSP_VALIDITY_SECONDS = 3600;
/** The responder certificate's life; a new one is issued when half of it is left. */
const RESPONDER_LIFETIME_SECONDS = 7 * 86_400;
/** Nonce-less answers kept: about one per certificate asked about (~0.5 KiB each with its key). */
const CACHE_ENTRIES = 100_000;
/** Requests larger than this are not kept as cache keys (a one-CertID request is about 80 bytes). */
const MAX_CACHED_REQUEST_BYTES = 256;

const SHA1 = '1.3.14.3.2.26';
const SHA256 = '2.16.840.1.101.3.4.2.1';
const HASHES: Record<string, string> = { [SHA1]: 'sha1', [SHA256]: 'sha256' };
/** ecdsa-with-SHA256: what the P-256 responder key signs with (RFC 5758: no parameters), DER. */
const ECDSA_SHA256_DER = Uint8Array.from(Buffer.from('300a06082a8648ce3d040302', 'hex'));
/** OCSPResponseStatus successful (ENUMERATED 0) and id-pkix-ocsp-basic, DER. */
const SUCCESSFUL = Uint8Array.from([0x0a, 0x01, 0x00]);
const ID_PKIX_OCSP_BASIC_DER = Uint8Array.from(Buffer.from('06092b0601050507300101', 'hex'));

export type OcspOutcome = 'good' | 'revoked' | 'unknown' | 'malformedRequest' | 'unauthorized';

export interface OcspAnswer {
  readonly der: Uint8Array;
  /** The status of the first certificate asked about, or the error status: for metrics and logs. */
  readonly outcome: OcspOutcome;
  /** For HTTP caches: seconds the answer stays good (0: do not cache; it echoes a nonce, or is an error). */
  readonly maxAgeSeconds: number;
}

interface Responder {
  readonly key: KeyObject;
  /** The responder certificate's DER, sent in every response (RFC 6960 §4.2.2.2). */
  readonly der: Uint8Array;
  readonly keyHash: Uint8Array;
  readonly notAfter: Date;
}

const errorResponse = (status: OCSPResponseStatus): Uint8Array => new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));

function hex(bytes: ArrayBuffer | Uint8Array): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
}

/** A CertID's serial as the index keys it: lower-case hex, without the sign octet. */
function serialOf(id: CertID): string {
  const text = hex(id.serialNumber);
  return text.length > 2 && text.startsWith('00') ? text.slice(2) : text;
}

function statusKey(entry: CertificateEntry | undefined): string {
  if (!entry) return 'unknown';
  return entry.revoked ? `revoked:${entry.revoked.at.getTime()}:${entry.revoked.reason}` : 'good';
}

export class OcspResponder {
  readonly #authority: UnlockedAuthority;
  readonly #index: CertificateIndex;
  readonly #logger: Logger;
  readonly #issuer: string;
  /** The CA's name and key hashes by hash algorithm: what a CertID for this CA carries. */
  readonly #issuerHashes: Map<string, { name: string; key: string }>;
  /**
   * Nonce-less answers by the request's own bytes: a client asks the same question in the same
   * bytes each time, so a repeat is answered without parsing it — only the status is read again.
   */
  readonly #cache = new LRUCache<string, { serial: string; status: string; der: Uint8Array; until: number; nextUpdate: number; outcome: OcspOutcome }>({ max: CACHE_ENTRIES });
  #responder: Promise<Responder> | undefined;
  /** When the current responder certificate is to be renewed (half its life). */
  #renewAt = 0;

  constructor(authority: UnlockedAuthority, index: CertificateIndex, logger: Logger) {
    this.#authority = authority;
    this.#index = index;
    this.#logger = logger;
    this.#issuer = fingerprintOf(authority.certificate.rawData);
    const name = new Uint8Array(authority.certificate.subjectName.toArrayBuffer());
    const key = subjectPublicKeyOf(new Uint8Array(authority.certificate.publicKey.rawData));
    this.#issuerHashes = new Map(Object.entries(HASHES).map(([oid, hash]) => [oid, { name: createHash(hash).update(name).digest('hex'), key: createHash(hash).update(key).digest('hex') }]));
  }

  /** The delegated responder's certificate (DER), issuing it first if needed. */
  async responderCertificate(now = new Date()): Promise<Uint8Array> {
    return (await this.#responderAt(now)).der;
  }

  /** The answer to a DER OCSPRequest: always an OCSPResponse, never a throw for bad input. */
  async respond(request: Uint8Array, now = new Date()): Promise<OcspAnswer> {
    const key = request.byteLength <= MAX_CACHED_REQUEST_BYTES ? Buffer.from(request).toString('base64') : undefined;
    const hit = key === undefined ? undefined : this.#cache.get(key);
    if (hit && now.getTime() < hit.until && statusKey(await this.#entryBySerial(hit.serial)) === hit.status) {
      return { der: hit.der, outcome: hit.outcome, maxAgeSeconds: Math.max(0, Math.floor((hit.nextUpdate - now.getTime()) / 1000)) };
    }
    let parsed: OCSPRequest;
    try {
      if (request.byteLength === 0 || request.byteLength > MAX_OCSP_REQUEST_BYTES) throw new Error(`${request.byteLength} bytes`);
      parsed = AsnConvert.parse(request, OCSPRequest);
    } catch {
      return { der: errorResponse(OCSPResponseStatus.malformedRequest), outcome: 'malformedRequest', maxAgeSeconds: 0 };
    }
    const ids = parsed.tbsRequest.requestList.map((r) => r.reqCert);
    const nonce = parsed.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
    if (ids.length === 0 || ids.length > MAX_OCSP_REQUESTS || (nonce && !validNonce(nonce))) {
      return { der: errorResponse(OCSPResponseStatus.malformedRequest), outcome: 'malformedRequest', maxAgeSeconds: 0 };
    }
    // Every CertID must name this CA: another issuer's certificates are not this responder's to vouch for.
    if (!ids.every((id) => this.#isOurs(id))) return { der: errorResponse(OCSPResponseStatus.unauthorized), outcome: 'unauthorized', maxAgeSeconds: 0 };
    const entries = await Promise.all(ids.map((id) => this.#entryOf(id)));
    const outcome: OcspOutcome = entries[0] ? (entries[0].revoked ? 'revoked' : 'good') : 'unknown';
    if (!nonce && ids.length === 1 && key !== undefined) return this.#cached(key, ids[0] as CertID, entries[0], outcome, now);
    const der = await this.#sign(ids, entries, now, nonce);
    return { der, outcome, maxAgeSeconds: 0 };
  }

  #isOurs(id: CertID): boolean {
    const hashes = this.#issuerHashes.get(id.hashAlgorithm.algorithm);
    return hashes !== undefined && hex(id.issuerNameHash.buffer) === hashes.name && hex(id.issuerKeyHash.buffer) === hashes.key;
  }

  #entryOf(id: CertID): Promise<CertificateEntry | undefined> {
    return this.#entryBySerial(serialOf(id));
  }

  async #entryBySerial(serial: string): Promise<CertificateEntry | undefined> {
    const entry = await this.#index.getCertificate(serial);
    return entry && entry.issuer === this.#issuer ? entry : undefined;
  }

  /** One certificate, no nonce: the signed answer is kept until the status changes or half its validity passed. */
  async #cached(key: string, id: CertID, entry: CertificateEntry | undefined, outcome: OcspOutcome, now: Date): Promise<OcspAnswer> {
    const der = await this.#sign([id], [entry], now, undefined);
    const nextUpdate = now.getTime() + OCSP_VALIDITY_SECONDS * 1000;
    this.#cache.set(key, { serial: serialOf(id), status: statusKey(entry), der, until: now.getTime() + (OCSP_VALIDITY_SECONDS * 1000) / 2, nextUpdate, outcome });
    return { der, outcome, maxAgeSeconds: OCSP_VALIDITY_SECONDS };
  }

  async #sign(ids: readonly CertID[], entries: ReadonlyArray<CertificateEntry | undefined>, now: Date, nonce: Extension | undefined): Promise<Uint8Array> {
    const responder = await this.#responderAt(now);
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + OCSP_VALIDITY_SECONDS * 1000);
    const responses = ids.map(
      (certID, i) =>
        new SingleResponse({
          certID,
          certStatus: certStatusOf(entries[i]),
          thisUpdate,
          nextUpdate,
        }),
    );
    const data = new ResponseData({
      responderID: new ResponderID({ byKey: new OctetString(responder.keyHash) }),
      producedAt: thisUpdate,
      responses,
      ...(nonce && { responseExtensions: [nonce] }),
    });
    const tbs = new Uint8Array(AsnConvert.serialize(data));
    // The envelope around the signed data is fixed but for lengths: wrapped here (der.ts) around
    // the responder certificate's DER as it is, where asn1js re-encoded the certificate each time.
    const basic = encodeElement(SEQUENCE, [
      tbs,
      ECDSA_SHA256_DER,
      encodeElement(BIT_STRING, [Uint8Array.of(0), new Uint8Array(sign('sha256', tbs, responder.key))]),
      encodeElement(CONTEXT_0, [encodeElement(SEQUENCE, [responder.der])]),
    ]);
    return encodeElement(SEQUENCE, [SUCCESSFUL, encodeElement(CONTEXT_0, [encodeElement(SEQUENCE, [ID_PKIX_OCSP_BASIC_DER, encodeElement(OCTET_STRING, [basic])])])]);
  }

  #responderAt(now: Date): Promise<Responder> {
    // Renewed when half its life is left; the old one answers until the new one is made.
    if (!this.#responder || now.getTime() >= this.#renewAt) {
      this.#renewAt = Number.POSITIVE_INFINITY; // one renewal at a time
      this.#responder = this.#issueResponder(now, this.#responder);
    }
    return this.#responder;
  }

  async #issueResponder(now: Date, fallback?: Promise<Responder>): Promise<Responder> {
    try {
      const key = generatePrivateKey('p256');
      const spki = spkiOf(key);
      const cn = this.#authority.certificate.subjectName.getField('CN')[0] ?? 'CA';
      const issued = await this.#authority.issue({
        subject: [['CN', `${cn} OCSP responder`]],
        publicKey: spki,
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['OCSPSigning'],
        ocspNoCheck: true,
        lifetimeSeconds: RESPONDER_LIFETIME_SECONDS,
        now,
      });
      this.#logger.info({ serial: issued.serial, notAfter: issued.notAfter }, 'OCSP responder certificate issued by the node CA');
      this.#renewAt = issued.notAfter.getTime() - (RESPONDER_LIFETIME_SECONDS * 1000) / 2;
      return {
        key,
        der: issued.der,
        keyHash: createHash('sha1').update(subjectPublicKeyOf(spki)).digest(),
        notAfter: issued.notAfter,
      };
    } catch (error) {
      if (!fallback) {
        this.#responder = undefined; // the next request tries again
        this.#renewAt = 0;
        throw error;
      }
      this.#logger.error({ err: error }, 'the OCSP responder certificate could not be renewed; the current one answers');
      this.#responder = fallback;
      this.#renewAt = now.getTime() + 60_000; // tried again in a minute
      return fallback;
    }
  }
}

function validNonce(extension: Extension): boolean {
  try {
    const value = AsnConvert.parse(extension.extnValue.buffer, OctetString);
    return value.byteLength >= 1 && value.byteLength <= MAX_NONCE_BYTES;
  } catch {
    // Some clients put the nonce's octets in the extension without an inner OCTET STRING.
    return extension.extnValue.byteLength >= 1 && extension.extnValue.byteLength <= MAX_NONCE_BYTES;
  }
}

function certStatusOf(entry: CertificateEntry | undefined): CertStatus {
  if (!entry) return new CertStatus({ unknown: null });
  if (!entry.revoked) return new CertStatus({ good: null });
  return new CertStatus({ revoked: new RevokedInfo({ revocationTime: entry.revoked.at, revocationReason: new CRLReason(REVOCATION_REASON_CODES[entry.revoked.reason]) }) });
}
