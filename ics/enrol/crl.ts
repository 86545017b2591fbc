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
import type { CertificateEntry, CertificateIndex, RevocationReason } from '../store/index.ts';
import { fingerprintOf } from './certificate.ts';
import { x509 } from './x509.ts';

/** Entries read per page from the certificate index. */
const PAGE = 10_000;

export interface CrlSigner {
  readonly certificate: x509.X509Certificate;
  /** Signs a CRL as this CA (UnlockedAuthority.signCrl). */
  signCrl(params: Omit<x509.X509CrlCreateParams, 'signingKey' | 'signingAlgorithm' | 'issuer'>): Promise<x509.X509Crl>;
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

export async function makeCrl(signer: CrlSigner, entries: readonly CertificateEntry[], content: CrlContent): Promise<x509.X509Crl> {
  return signer.signCrl({
    thisUpdate: content.thisUpdate,
    nextUpdate: content.nextUpdate,
    entries: entries.map((e) => ({
      serialNumber: e.serial,
      revocationDate: e.revoked?.at ?? content.thisUpdate,
      reason: x509.X509CrlReason[(e.revoked?.reason ?? 'unspecified') satisfies RevocationReason],
    })),
    extensions: [new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(content.number)))],
  });
}

export interface CrlPublisherOptions {
  readonly signer: CrlSigner;
  readonly index: CertificateIndex;
  /** nextUpdate − thisUpdate, from the current policy. */
  readonly validitySeconds: () => number;
  readonly logger: Logger;
  /** How long after a revocation the new list is made: revocations within it share one list. */
  readonly debounceMs?: number;
  /** Called with each new list (DER), e.g. to write it where a broker reads it. */
  readonly onPublished?: (der: Uint8Array, crl: x509.X509Crl) => void;
  readonly now?: () => Date;
}

export const CRL_DEBOUNCE_MS = 250;

export class CrlPublisher {
  readonly #o: CrlPublisherOptions;
  readonly #issuer: string;
  #current: { der: Uint8Array; crl: x509.X509Crl } | undefined;
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

  get crl(): x509.X509Crl | undefined {
    return this.#current?.crl;
  }

  /** Makes the first list; later ones follow revocations (`revoked`) and the clock. */
  async start(): Promise<void> {
    await this.refresh();
  }

  /** A certificate was revoked: a new list soon, one for a burst. */
  revoked(): void {
    if (this.#stopped) return;
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
      this.refresh().catch((error: unknown) => this.#o.logger.error({ err: error }, 'the CRL could not be made; the previous one is served'));
    }, ms);
    this.#timer.unref();
  }

  async #make(): Promise<void> {
    const thisUpdate = this.#o.now?.() ?? new Date();
    const validity = this.#o.validitySeconds();
    const nextUpdate = new Date(thisUpdate.getTime() + validity * 1000);
    // Time-based, so that it still increases across restarts; +1 when two lists share a millisecond.
    this.#number = Math.max(this.#number + 1, thisUpdate.getTime());
    const entries = await revokedEntries(this.#o.index, this.#issuer, thisUpdate);
    const crl = await makeCrl(this.#o.signer, entries, { thisUpdate, nextUpdate, number: this.#number });
    const der = new Uint8Array(crl.rawData);
    this.#current = { der, crl };
    this.#o.logger.info({ entries: entries.length, number: this.#number, nextUpdate }, 'CRL made');
    this.#o.onPublished?.(der, crl);
    // The next one at half the validity: a relying party never holds a list past its nextUpdate.
    if (!this.#stopped) this.#schedule((validity * 1000) / 2);
  }
}
