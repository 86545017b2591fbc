// Certificate revocation lists (RFC 5280 §5) of the node's CA: every certificate it issued
// that is revoked and not yet expired (an expired certificate's entry may leave the list,
// §3.3), with its revocation date and reason; thisUpdate, nextUpdate from the policy
// (enrol.revocation.crlValidity), a CRL number and the authority key identifier. The
// publisher keeps the current list in memory for the HTTP front end, makes a new one shortly
// after each revocation (debounced: a burst makes one list) and well before nextUpdate, so that
// relying parties that refuse a stale CRL (mosquitto does) never see one.
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import type { Logger } from 'pino';
import { type CertificateEntry, type CertificateIndex, REVOCATION_REASON_CODES, type RevocationReason } from '../store/index.ts';
import { fingerprintOf } from './certificate.ts';
import { encodeElement, TAG } from './der.ts';

const { INTEGER, BIT_STRING, SEQUENCE, UTC_TIME, GENERALIZED_TIME, CONTEXT_0 } = TAG;
import { x509 } from './x509.ts';

/** Entries read per page from the certificate index. */
const PAGE = 10_000;

export interface CrlSigner {
  readonly certificate: x509.X509Certificate;
  /** Hex key identifier of the CA's key: the list's authority key identifier. */
  readonly keyIdentifier: string;
  /** DER AlgorithmIdentifier of the CA's signatures. */
  readonly signatureAlgorithm: Uint8Array;
  /** Signs the list's DER TBSCertList (UnlockedAuthority.signCertList). */
  signCertList(tbs: Uint8Array): Promise<Uint8Array>;
}

export interface CrlContent {
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** Increases with every list this CA makes (RFC 5280 §5.2.3). */
  readonly number: number;
}

/** Every revoked, unexpired certificate `issuer` (SHA-256 of the CA certificate) issued, in serial order. */
export async function revokedEntries(index: CertificateIndex, issuer: string, at: Date): Promise<CertificateEntry[]> {
  const out: CertificateEntry[] = [];
  for (let after: string | undefined; ; ) {
    const page = await index.revokedBy(issuer, PAGE, after);
    for (const entry of page) if (entry.notAfter.getTime() >= at.getTime()) out.push(entry);
    if (page.length < PAGE) return out;
    after = page.at(-1)?.serial;
  }
}

// The list is encoded here, element by element (X.690 DER, RFC 5280 §5.1), rather than by
// @peculiar/x509's generator: asn1js took 0.4 ms per entry (45 s for 100,000 revoked, the
// event loop blocked throughout), where the entries are one fixed shape. The extensions are
// the library's; openssl reads and verifies the result (test/est/revocation.test.ts).
const VERSION_2 = Uint8Array.from([0x02, 0x01, 0x01]);

/** Each RFC 5280 §5.3.1 reason as the whole crlEntryExtensions it makes (reasonCode, not critical). */
const REASON_EXTENSIONS = Object.fromEntries(
  Object.entries(REVOCATION_REASON_CODES).map(([reason, code]) => [reason, Buffer.from(`300c300a0603551d1504030a01${code.toString(16).padStart(2, '0')}`, 'hex')]),
) as Record<RevocationReason, Buffer>;

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after; whole seconds, Z. */
function encodeTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return date.getUTCFullYear() < 2050 ? encodeElement(UTC_TIME, [Buffer.from(digits.slice(2), 'latin1')]) : encodeElement(GENERALIZED_TIME, [Buffer.from(digits, 'latin1')]);
}

/** A positive INTEGER from its hex (as the index keeps serials): a zero octet first when the top bit is set. */
function encodeSerial(hex: string): Uint8Array {
  const bytes = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  return encodeElement(INTEGER, [(bytes[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes]);
}

/** The DER CertificateList (RFC 5280 §5.1). */
export async function makeCrl(signer: CrlSigner, entries: ReadonlyArray<Pick<CertificateEntry, 'serial' | 'revoked'>>, content: CrlContent): Promise<Uint8Array> {
  const revoked = entries.map((e) => encodeElement(SEQUENCE, [encodeSerial(e.serial), encodeTime(e.revoked?.at ?? content.thisUpdate), REASON_EXTENSIONS[e.revoked?.reason ?? 'unspecified']]));
  const extensions = [
    new x509.AuthorityKeyIdentifierExtension(signer.keyIdentifier),
    new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(content.number))),
  ].map((e) => new Uint8Array(e.rawData));
  const algorithm = signer.signatureAlgorithm;
  const tbs = encodeElement(SEQUENCE, [
    VERSION_2,
    algorithm,
    new Uint8Array(signer.certificate.subjectName.toArrayBuffer()),
    encodeTime(content.thisUpdate),
    encodeTime(content.nextUpdate),
    ...(revoked.length > 0 ? [encodeElement(SEQUENCE, revoked)] : []),
    encodeElement(CONTEXT_0, [encodeElement(SEQUENCE, extensions)]),
  ]);
  return encodeElement(SEQUENCE, [tbs, algorithm, encodeElement(BIT_STRING, [Uint8Array.of(0), await signer.signCertList(tbs)])]);
}

export interface CrlPublisherOptions {
  readonly signer: CrlSigner;
  readonly index: CertificateIndex;
  /** nextUpdate − thisUpdate, from the current policy. */
  readonly validitySeconds: () => number;
  readonly logger: Logger;
  /** How long after a revocation the new list is made: revocations within it share one list. */
  readonly debounceMs?: number;
  /** How long after a list that could not be made (its signing key's token away) the next try is; default CRL_RETRY_MS. */
  readonly retryMs?: number;
  /** Called with each new list (DER), e.g. to write it where a broker reads it. */
  readonly onPublished?: (der: Uint8Array, thisUpdate: Date) => void;
  readonly now?: () => Date;
}

export const CRL_DEBOUNCE_MS = 250;
/** A list that could not be made is tried again this soon (the previous one is served meanwhile). */
export const CRL_RETRY_MS = 30_000;
/**
 * How often the list is read whole from the index; in between, the revocations the node
 * reports (`revoked(entry)`) are added to the last one read, which at 100,000 entries saves
 * most of a list's cost (reading and decoding every entry).
 */
export const CRL_FULL_READ_MS = 60 * 60_000;

/** What a list keeps of each entry between full reads. */
type Listed = Pick<CertificateEntry, 'serial' | 'notAfter' | 'revoked'>;

export class CrlPublisher {
  readonly #o: CrlPublisherOptions;
  readonly #issuer: string;
  #current: { der: Uint8Array; nextUpdate: Date } | undefined;
  /** The revoked entries of the last full read, with those reported since; by serial. */
  #listed: Map<string, Listed> | undefined;
  #readAt = 0;
  #number = 0;
  #timer: NodeJS.Timeout | undefined;
  #making: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: CrlPublisherOptions) {
    this.#o = options;
    this.#issuer = fingerprintOf(options.signer.certificate.rawData);
  }

  /** The current list as DER; undefined until the first is made. */
  get der(): Uint8Array | undefined {
    return this.#current?.der;
  }

  /** When the current list says the next one is due. */
  get nextUpdate(): Date | undefined {
    return this.#current?.nextUpdate;
  }

  /** Makes the first list; later ones follow revocations (`revoked`) and the clock. */
  async start(): Promise<void> {
    await this.refresh();
  }

  /**
   * A certificate was revoked: a new list soon, one for a burst. With the entry, the next list
   * adds it to the last one read; without, it reads the index whole.
   */
  revoked(entry?: CertificateEntry): void {
    if (this.#stopped) return;
    if (!entry?.revoked) this.#listed = undefined;
    else if (entry.issuer === this.#issuer) this.#listed?.set(entry.serial, { serial: entry.serial, notAfter: entry.notAfter, revoked: entry.revoked });
    this.#schedule(this.#o.debounceMs ?? CRL_DEBOUNCE_MS);
  }

  /** Makes a new list now (after one being made, if any). */
  async refresh(): Promise<void> {
    if (this.#making) {
      this.#again = true;
      return this.#making;
    }
    this.#making = this.#make().finally(() => {
      this.#making = undefined;
    });
    await this.#making;
    if (this.#again) {
      this.#again = false;
      await this.refresh();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#making;
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.refresh().catch((error: unknown) => {
        const retryMs = this.#o.retryMs ?? CRL_RETRY_MS;
        this.#o.logger.error({ err: error, retryMs }, 'the CRL could not be made; the previous one is served until a new one is');
        if (!this.#stopped) this.#schedule(retryMs);
      });
    }, ms);
    this.#timer.unref();
  }

  async #make(): Promise<void> {
    const thisUpdate = this.#o.now?.() ?? new Date();
    const validity = this.#o.validitySeconds();
    const nextUpdate = new Date(thisUpdate.getTime() + validity * 1000);
    // Time-based, so that it still increases across restarts; +1 when two lists share a millisecond.
    this.#number = Math.max(this.#number + 1, thisUpdate.getTime());
    if (!this.#listed || thisUpdate.getTime() - this.#readAt > CRL_FULL_READ_MS) {
      const read = await revokedEntries(this.#o.index, this.#issuer, thisUpdate);
      this.#listed = new Map(read.map((e) => [e.serial, { serial: e.serial, notAfter: e.notAfter, revoked: e.revoked }]));
      this.#readAt = thisUpdate.getTime();
    }
    const entries: Listed[] = [];
    for (const [serial, e] of this.#listed) {
      // An expired certificate's entry leaves the list (RFC 5280 §3.3).
      if (e.notAfter.getTime() < thisUpdate.getTime()) this.#listed.delete(serial);
      else entries.push(e);
    }
    const der = await makeCrl(this.#o.signer, entries, { thisUpdate, nextUpdate, number: this.#number });
    this.#current = { der, nextUpdate };
    this.#o.logger.info({ entries: entries.length, number: this.#number, nextUpdate }, 'CRL made');
    this.#o.onPublished?.(der, thisUpdate);
    // The next one at half the validity: a relying party never holds a list past its nextUpdate.
    if (!this.#stopped) this.#schedule((validity * 1000) / 2);
  }
}

/** PEM text of a DER CRL (what ca/crl.pem and brokers' crlfile hold). */
export function crlPem(der: Uint8Array): string {
  return `${x509.PemConverter.encode(new Uint8Array(der).buffer, 'X509 CRL')}\n`;
}
