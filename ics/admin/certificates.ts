// Certificates in the admin API and the console: what the node's CA issued (the store's
// certificate index), enrolments waiting for an operator, revocations and approvals by hand.
// A user sees the certificates of records in their tenant only (others: 404, as records). The
// CA's own parts (the approval queue, what a revocation sets off: CRL, OCSP, broker) come from
// the node as `AdminCertificateAuthority`, present when the node has a CA.
import { IcsError } from '../errors.ts';
import type { Caller } from '../http/index.ts';
import type { PolicyEngine } from '../policy/index.ts';
import { type CertificateEntry, type CertificateIndex, certificatePemOf, type CertificateSummary, certificateSummary, type RecordReader } from '../store/index.ts';
import type { AdminOperations } from './operations.ts';

export interface PendingEnrolmentView {
  readonly recordId: string;
  readonly urn: string;
  readonly firstRequested: string;
  readonly lastRequested: string;
  readonly requests: number;
  readonly origin?: string;
}

export interface ApprovalView {
  readonly recordId: string;
  readonly urn: string;
  readonly approvedAt: string;
  readonly approvedBy?: string;
}

export type RevocationView = { readonly outcome: 'revoked' | 'already-revoked'; readonly entry: CertificateEntry } | { readonly outcome: 'not-found'; readonly serial: string };

/** The node's CA as the admin API uses it (node/services.ts). */
export interface AdminCertificateAuthority {
  /** The CRL reasons an operator may give (RFC 5280 names). */
  readonly reasons: readonly string[];
  /** Revokes for good (the first revocation stands) and sets off what follows: CRL, OCSP, broker. BAD_REQUEST for an unknown reason or a malformed serial. */
  revoke(serial: string, reason: string, by: string): Promise<RevocationView>;
  pending(): Promise<readonly PendingEnrolmentView[]>;
  /** Approves the waiting enrolment of this record id: its device's next request is issued. */
  approve(recordId: string, by: string): Promise<ApprovalView>;
}

/** Entries read from the index at most for one list, so that a tenant's page of a large index stays bounded work. */
const MAX_SCANNED = 20_000;
/** notAfter beyond every certificate: "all of them" to the index's expiry order. */
const END_OF_TIME = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
const SERIAL = /^[0-9a-f]{1,40}$/;

export type CertificateFilter = 'all' | 'valid' | 'expiring' | 'revoked';

export interface CertificateQuery {
  /** Only this record's (a reference: fingerprint, key id, URN). */
  readonly record?: string;
  /** `expiring`: valid ones whose notAfter is within `withinSeconds`. */
  readonly filter?: CertificateFilter;
  readonly withinSeconds?: number;
  readonly limit: number;
}

export interface CertificatePage {
  readonly certificates: readonly CertificateSummary[];
  /** Entries of the index this page did not get to: narrow the query to see them. */
  readonly truncated: boolean;
}

export class AdminCertificates {
  constructor(
    private readonly store: Pick<RecordReader, 'get'> & Pick<CertificateIndex, 'certificatesOf' | 'getCertificate' | 'expiringBefore'>,
    private readonly ops: AdminOperations,
    private readonly ca: AdminCertificateAuthority | undefined,
  ) {}

  get hasAuthority(): boolean {
    return this.ca !== undefined;
  }

  /** Reasons a revocation by hand may give; none without a CA. */
  get reasons(): readonly string[] {
    return this.ca?.reasons ?? [];
  }

  #authority(): AdminCertificateAuthority {
    if (!this.ca) throw new IcsError('NOT_FOUND', 'this node has no certificate authority (its policy has no enrol section)');
    return this.ca;
  }

  /** A predicate: the certificate's record is one the caller administers. */
  #visible(caller: Caller, engine: PolicyEngine): (entry: { recordId: string }) => Promise<boolean> {
    const mine = this.ops.administers(caller, engine);
    const seen = new Map<string, boolean>();
    return async ({ recordId }) => {
      let ok = seen.get(recordId);
      if (ok === undefined) {
        const stored = await this.store.get(recordId);
        ok = stored !== undefined && stored.domains.some(mine);
        seen.set(recordId, ok);
      }
      return ok;
    };
  }

  /** Certificates the caller may see, soonest expiry first. */
  async list(caller: Caller, engine: PolicyEngine, query: CertificateQuery, now = new Date()): Promise<CertificatePage> {
    const filter = query.filter ?? 'all';
    const keep = (e: CertificateEntry) =>
      filter === 'all' ||
      (filter === 'revoked' && e.revoked !== undefined) ||
      (filter === 'valid' && !e.revoked && e.notAfter > now && e.notBefore <= now) ||
      (filter === 'expiring' && !e.revoked && e.notAfter > now && e.notAfter.getTime() <= now.getTime() + (query.withinSeconds ?? 30 * 86_400) * 1000);
    if (query.record !== undefined) {
      const stored = await this.ops.resolve(query.record, caller, engine);
      return this.ofRecord(stored.id, query.limit, now, keep);
    }
    const visible = this.#visible(caller, engine);
    const before = filter === 'expiring' ? new Date(now.getTime() + (query.withinSeconds ?? 30 * 86_400) * 1000) : END_OF_TIME;
    // Valid and expiring ones start at now: the index's expiry order skips the expired at no cost.
    let after: { notAfter: Date; serial: string } | undefined = filter === 'valid' || filter === 'expiring' ? { notAfter: now, serial: '' } : undefined;
    const out: CertificateSummary[] = [];
    let scanned = 0;
    for (;;) {
      const page = await this.store.expiringBefore(before, 500, after);
      for (const entry of page) {
        scanned++;
        if (keep(entry) && (await visible(entry))) {
          if (out.length === query.limit) return { certificates: out, truncated: true };
          out.push(certificateSummary(entry, now));
        }
      }
      const last = page[page.length - 1];
      if (page.length < 500 || !last) return { certificates: out, truncated: false };
      if (scanned >= MAX_SCANNED) return { certificates: out, truncated: true };
      after = { notAfter: last.notAfter, serial: last.serial };
    }
  }

  /** A record's certificates, soonest expiry first, for a record the caller was already shown (no tenant check here). */
  async ofRecord(recordId: string, limit: number, now = new Date(), keep: (e: CertificateEntry) => boolean = () => true): Promise<CertificatePage> {
    const entries = (await this.store.certificatesOf(recordId)).filter(keep).sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime());
    return { certificates: entries.slice(0, limit).map((e) => certificateSummary(e, now)), truncated: entries.length > limit };
  }

  /** One certificate with its PEM; NOT_FOUND when unknown or outside the caller's tenant. */
  async get(serialText: string, caller: Caller, engine: PolicyEngine): Promise<CertificateSummary & { pem: string }> {
    const entry = await this.#entry(serialText, caller, engine);
    return { ...certificateSummary(entry, new Date()), pem: certificatePemOf(entry.der) };
  }

  async #entry(serialText: string, caller: Caller, engine: PolicyEngine): Promise<CertificateEntry> {
    const serial = serialText.trim().toLowerCase().replace(/^0x/, '').replaceAll(':', '');
    if (!SERIAL.test(serial)) throw new IcsError('BAD_REQUEST', `"${serialText.slice(0, 64)}" is not a certificate serial (hex, at most 20 octets)`);
    const entry = await this.store.getCertificate(serial);
    if (!entry || !(await this.#visible(caller, engine)(entry))) throw new IcsError('NOT_FOUND', `no certificate with serial ${serial} was issued by this node`);
    return entry;
  }

  /** Revokes a certificate of the caller's tenant; final. */
  async revoke(serialText: string, reason: string, caller: Caller, engine: PolicyEngine, by: string): Promise<RevocationView> {
    const entry = await this.#entry(serialText, caller, engine);
    return this.#authority().revoke(entry.serial, reason, by);
  }

  /** Enrolments waiting for approval, of records in the caller's tenant. */
  async pending(caller: Caller, engine: PolicyEngine): Promise<PendingEnrolmentView[]> {
    if (!this.ca) return [];
    const visible = this.#visible(caller, engine);
    const out: PendingEnrolmentView[] = [];
    for (const p of await this.ca.pending()) if (await visible(p)) out.push(p);
    return out;
  }

  /** Approves the waiting enrolment of the record `reference` names (in the caller's tenant). */
  async approve(reference: string, caller: Caller, engine: PolicyEngine, by: string): Promise<ApprovalView> {
    const authority = this.#authority();
    const stored = await this.ops.resolve(reference, caller, engine);
    return authority.approve(stored.id, by);
  }
}

/** An index entry or a revocation answer as JSON. */
export function revocationJson(view: RevocationView, now = new Date()) {
  return view.outcome === 'not-found' ? { outcome: view.outcome, serial: view.serial } : { outcome: view.outcome, certificate: certificateSummary(view.entry, now) };
}
