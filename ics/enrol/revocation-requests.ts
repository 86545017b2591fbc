// Revocation by hand (`ics cert revoke SERIAL --reason R`) while the node runs and holds the
// store: the command leaves a request file in ca/revocations/, the node applies it within a
// second and answers in ca/revocations/done/, which the command waits for. Files, as for
// approvals (approvals.ts): whoever may write the data directory may operate the CA, and no
// password travels. Each file is written beside and renamed into place.
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IcsError } from '../errors.ts';
import type { CertificateEntry, CertificateIndex, RevocationReason } from '../store/index.ts';

/** Reasons an operator may give. certificateHold is left out: a revocation here is final. */
export const MANUAL_REASONS: readonly RevocationReason[] = ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn'];

const SERIAL = /^[0-9a-f]{1,40}$/;
/** Requests read per pass: a directory flooded by a script is worked through, not read whole. */
const PER_PASS = 100;

export interface RevocationRequest {
  readonly serial: string;
  readonly reason: RevocationReason;
  readonly requestedAt: string;
  /** The operating-system user that ran the command. */
  readonly requestedBy?: string;
}

export type RevocationOutcome =
  | { readonly outcome: 'revoked'; readonly entry: CertificateEntry }
  /** Revoked before, with the first revocation kept. */
  | { readonly outcome: 'already-revoked'; readonly entry: CertificateEntry }
  | { readonly outcome: 'not-found'; readonly serial: string };

/** What the node answers in done/ (and the command prints): the outcome, without the certificate. */
export interface RevocationAnswer {
  readonly outcome: RevocationOutcome['outcome'];
  readonly serial: string;
  readonly recordId?: string;
  readonly revoked?: { readonly at: string; readonly reason: RevocationReason };
}

export function answerOf(outcome: RevocationOutcome): RevocationAnswer {
  if (outcome.outcome === 'not-found') return { outcome: 'not-found', serial: outcome.serial };
  const { entry } = outcome;
  return { outcome: outcome.outcome, serial: entry.serial, recordId: entry.recordId, ...(entry.revoked && { revoked: { at: entry.revoked.at.toISOString(), reason: entry.revoked.reason } }) };
}

/** A serial as the index keys it; BAD_REQUEST for anything else. */
export function normaliseSerial(serial: string): string {
  const wanted = serial.trim().toLowerCase().replace(/^0x/, '').replaceAll(':', '');
  if (!SERIAL.test(wanted)) throw new IcsError('BAD_REQUEST', `"${serial.slice(0, 64)}" is not a certificate serial (hex, at most 20 octets)`);
  return wanted;
}

export function checkReason(reason: string): RevocationReason {
  if (!(MANUAL_REASONS as readonly string[]).includes(reason)) throw new IcsError('BAD_REQUEST', `unknown revocation reason "${reason.slice(0, 40)}" (one of ${MANUAL_REASONS.join(', ')})`);
  return reason as RevocationReason;
}

/** Applies one revocation to the index: final, the first revocation kept. */
export async function applyRevocation(index: CertificateIndex, request: RevocationRequest, at: Date): Promise<RevocationOutcome> {
  const before = await index.getCertificate(request.serial);
  if (!before) return { outcome: 'not-found', serial: request.serial };
  if (before.revoked) return { outcome: 'already-revoked', entry: before };
  return { outcome: 'revoked', entry: await index.revokeCertificate(request.serial, { at, reason: request.reason }) };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.new`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

export class RevocationRequests {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  get #done(): string {
    return join(this.#dir, 'done');
  }

  /** Leaves a request for the running node. */
  async submit(request: RevocationRequest): Promise<void> {
    await mkdir(this.#done, { recursive: true, mode: 0o700 });
    await rm(join(this.#done, `${request.serial}.json`), { force: true });
    await writeJson(join(this.#dir, `${request.serial}.json`), request);
  }

  /** The node's answer to the request for `serial`, once there is one. */
  async answer(serial: string): Promise<RevocationAnswer | undefined> {
    try {
      return JSON.parse(await readFile(join(this.#done, `${serial}.json`), 'utf8')) as RevocationAnswer;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * The node's side: applies the requests waiting (at most PER_PASS), answering each in
   * done/. A file that is no valid request is answered as not found and removed.
   */
  async process(index: CertificateIndex, now: Date): Promise<RevocationOutcome[]> {
    let names: string[];
    try {
      names = (await readdir(this.#dir)).filter((n) => n.endsWith('.json')).slice(0, PER_PASS);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const outcomes: RevocationOutcome[] = [];
    for (const name of names) {
      const path = join(this.#dir, name);
      let outcome: RevocationOutcome;
      let serial = name.slice(0, -'.json'.length);
      try {
        const raw = JSON.parse(await readFile(path, 'utf8')) as { serial?: unknown; reason?: unknown; requestedAt?: unknown };
        serial = normaliseSerial(String(raw.serial));
        outcome = await applyRevocation(index, { serial, reason: checkReason(String(raw.reason)), requestedAt: String(raw.requestedAt) }, now);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // taken meanwhile
        outcome = { outcome: 'not-found', serial };
      }
      await mkdir(this.#done, { recursive: true, mode: 0o700 });
      await writeJson(join(this.#done, `${SERIAL.test(serial) ? serial : 'invalid'}.json`), answerOf(outcome));
      await rm(path, { force: true });
      outcomes.push(outcome);
    }
    return outcomes;
  }
}
