// Manual approval of enrolments (policy `enrol.approval: manual`, RFC 7030 §4.2.3): a device
// that meets every other condition is answered 202 + Retry-After and listed as pending until
// an operator approves it (`ics cert approve`); its next request then gets the certificate,
// and the approval is used up. Approvals are per device record, not per request, so that a
// device that makes a new key on every retry is still the one request the operator saw.
// Renewals of a current certificate (simplereenroll) need none: the device was approved once.
//
// Kept as small JSON files in a directory of the data directory (pending/, approved/), so
// that `ics cert pending | approve` work while the node runs and holds the store; each file
// is written beside and renamed into place.
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IcsError } from '../errors.ts';

export interface PendingEnrolment {
  readonly recordId: string;
  readonly urn: string;
  readonly firstRequested: string;
  readonly lastRequested: string;
  /** Requests seen while pending. */
  readonly requests: number;
  /** Where the last one came from (client address). */
  readonly origin?: string;
}

export interface Approval {
  readonly recordId: string;
  readonly urn: string;
  readonly approvedAt: string;
  /** Who approved (the operating-system user that ran `ics cert approve`). */
  readonly approvedBy?: string;
}

/** What the CA asks of the approval queue. */
export interface ApprovalQueue {
  /** Approved: true (the caller issues, then `consume`s). Otherwise the request is recorded as pending. */
  approved(device: { recordId: string; urn: string; origin?: string }, now: Date): Promise<boolean>;
  consume(recordId: string): Promise<void>;
}

const RECORD_ID = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;

/** Most pending devices kept: a flood of trusted devices cannot fill the disk. */
export const MAX_PENDING = 10_000;

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.new`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

export class ApprovalDirectory implements ApprovalQueue {
  readonly #pending: string;
  readonly #approved: string;

  constructor(readonly dir: string) {
    this.#pending = join(dir, 'pending');
    this.#approved = join(dir, 'approved');
  }

  #file(kind: 'pending' | 'approved', recordId: string): string {
    if (!RECORD_ID.test(recordId)) throw new IcsError('BAD_REQUEST', `not a record id: ${recordId.slice(0, 80)}`);
    return join(kind === 'pending' ? this.#pending : this.#approved, `${recordId}.json`);
  }

  async approved(device: { recordId: string; urn: string; origin?: string }, now: Date): Promise<boolean> {
    if (await readJson<Approval>(this.#file('approved', device.recordId))) return true;
    await mkdir(this.#pending, { recursive: true, mode: 0o700 });
    const file = this.#file('pending', device.recordId);
    const seen = await readJson<PendingEnrolment>(file);
    if (!seen && (await readdir(this.#pending)).length >= MAX_PENDING) {
      throw new IcsError('RATE_LIMITED', `${MAX_PENDING} enrolments already wait for approval: try again later`);
    }
    const pending: PendingEnrolment = {
      recordId: device.recordId,
      urn: device.urn,
      firstRequested: seen?.firstRequested ?? now.toISOString(),
      lastRequested: now.toISOString(),
      requests: (seen?.requests ?? 0) + 1,
      ...(device.origin !== undefined && { origin: device.origin }),
    };
    await writeJson(file, pending);
    return false;
  }

  async consume(recordId: string): Promise<void> {
    await rm(this.#file('approved', recordId), { force: true });
  }

  /** Devices waiting, oldest request first. */
  async pending(): Promise<PendingEnrolment[]> {
    const names = await readdir(this.#pending).catch(() => [] as string[]);
    const found = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readJson<PendingEnrolment>(join(this.#pending, n))));
    return found.filter((p): p is PendingEnrolment => p !== undefined).sort((a, b) => a.firstRequested.localeCompare(b.firstRequested));
  }

  /**
   * Approves the pending device `ref` names (its record id, or its URN): its next enrolment
   * is issued. NOT_FOUND when no such device waits (an approval is for a request seen, never
   * in advance).
   */
  async approve(ref: string, now: Date, approvedBy?: string): Promise<Approval> {
    const waiting = await this.pending();
    const matches = waiting.filter((p) => p.recordId === ref.toLowerCase() || p.urn === ref);
    if (matches.length === 0) throw new IcsError('NOT_FOUND', `no enrolment waits for approval for ${ref} (ics cert pending lists them)`);
    if (matches.length > 1) throw new IcsError('BAD_REQUEST', `${ref} names ${matches.length} waiting devices: give the record id`);
    const pending = matches[0] as PendingEnrolment;
    await mkdir(this.#approved, { recursive: true, mode: 0o700 });
    const approval: Approval = { recordId: pending.recordId, urn: pending.urn, approvedAt: now.toISOString(), ...(approvedBy !== undefined && { approvedBy }) };
    await writeJson(this.#file('approved', pending.recordId), approval);
    await rm(this.#file('pending', pending.recordId), { force: true });
    return approval;
  }
}
