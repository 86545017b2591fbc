// Revocation that follows the verdict (DESIGN §7): when a device's record no longer entitles
// it to a certificate (entitlement.ts: stolen, destroyed, a countersignature withdrawn, …),
// whether the change was made here or arrived by sync, every valid operational certificate
// this node issued it is revoked in the certificate index, which OCSP and the CRL read. The
// watcher follows the store's change feed; a sweep over the valid certificates at start and
// after a policy reload catches what changed while it was not looking (a new policy can end
// trust as surely as a new statement). Revocation is final: a device trusted again enrols
// again for a new certificate; nothing makes a revoked one good (store/certificates.ts).
import type { Logger } from 'pino';
import type { PolicyEngine } from '../policy/index.ts';
import type { CertificateEntry, CertificateIndex, CertificateRevocation, EventLog, RecordReader, RevocationReason } from '../store/index.ts';
import { deviceRecordById } from './device-record.ts';
import { revocationReasonFor } from './entitlement.ts';

export interface RevocationComponents {
  readonly store: RecordReader & EventLog & CertificateIndex;
  /** The current policy engine: read at each check, so that a reload applies at once. */
  readonly policy: () => PolicyEngine;
  readonly logger: Logger;
  /** Called once per certificate this watcher revoked (not for one revoked already). */
  readonly onRevoked?: (entry: CertificateEntry) => void;
  readonly now?: () => Date;
}

/** Certificates read per page of the sweep. */
const SWEEP_PAGE = 1000;
/** Records a sweep remembers as checked (~100 bytes each). */
const SWEEP_MEMORY = 100_000;
/** notAfter beyond every certificate: "all of them" to the index's expiry order. */
const END_OF_TIME = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

/** Valid operational certificates of a record: what a revocation would end. */
function revocable(entries: readonly CertificateEntry[], now: Date): CertificateEntry[] {
  return entries.filter((e) => e.purpose === 'operational' && !e.revoked && e.notAfter.getTime() > now.getTime());
}

/**
 * Revokes, with `reason`, the valid operational certificates among `entries` (all of one
 * record), except `keep`; returns those it revoked (a certificate revoked already by
 * someone else meanwhile keeps its first revocation, and is not returned).
 */
export async function revokeAll(
  index: CertificateIndex,
  entries: readonly CertificateEntry[],
  revocation: CertificateRevocation,
  keep?: string,
): Promise<CertificateEntry[]> {
  const revoked: CertificateEntry[] = [];
  for (const entry of revocable(entries, revocation.at)) {
    if (entry.serial === keep) continue;
    const stored = await index.revokeCertificate(entry.serial, revocation);
    if (stored.revoked?.at.getTime() === revocation.at.getTime() && stored.revoked.reason === revocation.reason) revoked.push(stored);
  }
  return revoked;
}

export class RevocationWatcher {
  readonly #c: RevocationComponents;
  /** Records waiting to be checked, each once however many changes named it. */
  readonly #queue = new Set<string>();
  #draining: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #stopped = false;

  constructor(components: RevocationComponents) {
    this.#c = components;
  }

  /** Follows the change feed, and sweeps once for what changed before. */
  start(): void {
    this.#unsubscribe = this.#c.store.subscribe((event) => {
      // The CA's own issuance statements (source est) count toward no role (record/verdict.ts:
      // CERTIFICATE_ISSUANCE): they cannot end trust, and checking each would cost every
      // enrolment a second verdict. What time alone changes, the hourly sweep finds.
      if (event.source !== 'est') this.#enqueue(event.id);
    });
    this.sweep();
  }

  /** Checks every record holding a valid operational certificate (at start, after a policy reload). */
  sweep(): void {
    void this.#sweep().catch((error: unknown) => this.#c.logger.error({ err: error }, 'revocation sweep failed'));
  }

  /** Resolves when every record queued so far has been checked: for tests and shutdown. */
  async settled(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#queue.clear();
    await this.settled();
  }

  /**
   * Checks one record now: revokes its valid operational certificates when its verdict no
   * longer entitles it to one. Returns the certificates revoked.
   */
  async check(recordId: string): Promise<CertificateEntry[]> {
    const now = this.#c.now?.() ?? new Date();
    const entries = await this.#c.store.certificatesOf(recordId);
    if (revocable(entries, now).length === 0) return [];
    const engine = this.#c.policy();
    const enrol = engine.policy.enrol;
    const device = await deviceRecordById(this.#c.store, recordId);
    let reason: RevocationReason | undefined;
    if (!device) reason = 'cessationOfOperation'; // no longer a device record here
    else if (!enrol) reason = 'privilegeWithdrawn'; // the policy issues no certificates any more
    else reason = revocationReasonFor(engine.verdict(device.record, now), enrol);
    if (!reason) return [];
    const revoked = await revokeAll(this.#c.store, entries, { at: now, reason });
    for (const entry of revoked) {
      this.#c.logger.warn({ serial: entry.serial, record: recordId, reason }, 'operational certificate revoked: the device record no longer entitles it to one');
      this.#c.onRevoked?.(entry);
    }
    return revoked;
  }

  #enqueue(recordId: string): void {
    if (this.#stopped) return;
    this.#queue.add(recordId);
    this.#draining ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      // A Set visits what is added while it is iterated: records queued meanwhile are checked too.
      for (const recordId of this.#queue) {
        this.#queue.delete(recordId);
        try {
          await this.check(recordId);
        } catch (error) {
          this.#c.logger.error({ err: error, record: recordId }, 'revocation check failed');
        }
      }
    } finally {
      // In the same turn as the last check: a record queued after this starts a new drain.
      this.#draining = undefined;
    }
  }

  async #sweep(): Promise<void> {
    const now = this.#c.now?.() ?? new Date();
    let after = { notAfter: now, serial: '' };
    // A record with certificates on many pages is checked once per sweep, not once per page.
    const checked = new Set<string>();
    for (;;) {
      const page = await this.#c.store.expiringBefore(END_OF_TIME, SWEEP_PAGE, after);
      for (const entry of page) {
        if (entry.purpose !== 'operational' || entry.revoked || checked.has(entry.recordId)) continue;
        if (checked.size >= SWEEP_MEMORY) checked.clear(); // bounded: past it, a record may be checked again
        checked.add(entry.recordId);
        this.#enqueue(entry.recordId);
      }
      const last = page.at(-1);
      if (!last || page.length < SWEEP_PAGE || this.#stopped) return;
      after = { notAfter: last.notAfter, serial: last.serial };
      await this.settled(); // one page of checks at a time: the sweep never floods the queue
    }
  }
}
