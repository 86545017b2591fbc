// The certificate index of the in-memory store: one map by serial, sorted on demand in the
// LevelDB store's orders (serials.ts). Writes are decided and applied at once, so that they
// are atomic and in call order; entries go in and out as copies, so that no caller can change
// what is stored.
import { type CertificateDecision, copyEntry as copy, type ExpiryCursor, isIssuer } from '../certificate-rules.ts';
import type { CertificateEntry } from '../certificates.ts';
import { compareSerials } from '../serials.ts';

const byIssuance = (a: CertificateEntry, b: CertificateEntry) => a.issuedAt.getTime() - b.issuedAt.getTime() || compareSerials(a.serial, b.serial);
const byExpiry = (a: CertificateEntry, b: CertificateEntry) => a.notAfter.getTime() - b.notAfter.getTime() || compareSerials(a.serial, b.serial);
const bySerial = (a: CertificateEntry, b: CertificateEntry) => compareSerials(a.serial, b.serial);

/** After the cursor in (notAfter, serial) order; its serial '' is before every serial. */
function isPast(e: CertificateEntry, after: ExpiryCursor): boolean {
  const ms = e.notAfter.getTime();
  return ms > after.notAfter || (ms === after.notAfter && (after.serial === '' || compareSerials(e.serial, after.serial) > 0));
}

export class CertificateTable {
  /** Checked entries (certificate-rules.ts), never handed out as they are. */
  readonly #entries = new Map<string, CertificateEntry>();

  get(serial: string): CertificateEntry | undefined {
    const entry = this.#entries.get(serial);
    return entry && copy(entry);
  }

  of(recordId: string): CertificateEntry[] {
    return this.#select((e) => e.recordId === recordId, byIssuance, Number.MAX_SAFE_INTEGER);
  }

  /** `before`: whole ms; `limit` normalised; `after` checked (expiryCursor). */
  expiringBefore(before: number, limit: number, after?: ExpiryCursor): CertificateEntry[] {
    return this.#select((e) => e.notAfter.getTime() < before && (after === undefined || isPast(e, after)), byExpiry, limit);
  }

  /** `afterSerial` checked (a serial). */
  revokedBy(issuer: string, limit: number, afterSerial?: string): CertificateEntry[] {
    if (!isIssuer(issuer)) return [];
    const wanted = (e: CertificateEntry) => e.issuer === issuer && e.revoked !== undefined && (afterSerial === undefined || compareSerials(e.serial, afterSerial) > 0);
    return this.#select(wanted, bySerial, limit);
  }

  /** Applies a decided write at once; returns what is stored (throws, changing nothing, to refuse). */
  write(serial: string, decide: CertificateDecision): CertificateEntry {
    const current = this.#entries.get(serial);
    const next = decide(current);
    if (next !== current) this.#entries.set(serial, next);
    return copy(next);
  }

  #select(wanted: (entry: CertificateEntry) => boolean, order: (a: CertificateEntry, b: CertificateEntry) => number, limit: number): CertificateEntry[] {
    if (limit === 0) return [];
    return [...this.#entries.values()].filter(wanted).sort(order).slice(0, limit).map(copy);
  }
}
