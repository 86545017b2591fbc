// Pieces every store implementation shares: checking a write request, building its change
// event, the CONFLICT error of a failed compare-and-set, and calling change listeners so
// that one throwing listener neither breaks the store nor starves the others.
import { IcsError } from '../errors.ts';
import { isRecordId } from './ids.ts';
import type { ChangeEvent, StoredRecord, WriteRequest } from './model.ts';

/** Domain names are policy identifiers; this bounds index keys that carry them. */
export const MAX_DOMAIN_NAME_BYTES = 128;
/** Domains one record may be in: a policy defines a handful; this bounds one record's entries. */
export const MAX_DOMAINS_PER_RECORD = 64;
/** Bytes of an event's summary and origin kept: a short account, not a payload. */
export const MAX_SUMMARY_BYTES = 1024;
export const MAX_ORIGIN_BYTES = 256;

/** The request's domains sorted and deduplicated; throws for names a store cannot key by. */
export function normaliseDomains(domains: readonly string[]): string[] {
  const out = [...new Set(domains)].sort();
  if (out.length > MAX_DOMAINS_PER_RECORD) {
    throw new IcsError('LIMIT_EXCEEDED', `a record may be in at most ${MAX_DOMAINS_PER_RECORD} domains`, {
      details: { limit: 'maxDomainsPerRecord' },
    });
  }
  for (const d of out) {
    if (d.length === 0 || d.includes('\0') || Buffer.byteLength(d) > MAX_DOMAIN_NAME_BYTES) {
      throw new IcsError('INTERNAL', `invalid domain name ${JSON.stringify(d.slice(0, 40))}`);
    }
  }
  return out;
}

/** Checks what the record model guarantees, so that a bug upstream cannot corrupt the store. */
export function checkWriteRequest(request: WriteRequest): string[] {
  const { record } = request;
  if (!isRecordId(record.id)) throw new IcsError('INTERNAL', `not a record id: ${JSON.stringify(record.id.slice(0, 80))}`);
  if (!/^[0-9a-f]{64}$/.test(record.digest)) throw new IcsError('INTERNAL', `record ${record.id} has no sha256 digest`);
  if (!Number.isSafeInteger(request.signaturesAdded) || request.signaturesAdded < 0) {
    throw new IcsError('INTERNAL', 'signaturesAdded must be a non-negative integer');
  }
  return normaliseDomains(request.domains);
}

/** Cuts a string to at most `bytes` UTF-8 bytes without splitting a character. */
export function clip(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let out = Buffer.from(text).subarray(0, bytes).toString('utf8');
  if (out.endsWith('\uFFFD')) out = out.slice(0, -1);
  return out;
}

export function conflict(id: string, expected: string | undefined, actual: string | undefined): IcsError {
  return new IcsError('CONFLICT', `record ${id} changed since it was read; merge again and retry`, {
    details: { id, expectedDigest: expected ?? null, storedDigest: actual ?? null },
  });
}

/** The compare-and-set: the stored digest (undefined: none) must be the one the caller read. */
export function checkExpected(request: WriteRequest, stored: string | undefined): void {
  if (request.expectedDigest !== stored) throw conflict(request.record.id, request.expectedDigest, stored);
}

/** The event for an accepted write. */
export function changeEvent(
  seq: number,
  at: Date,
  request: WriteRequest,
  domains: readonly string[],
  previousDigest: string | undefined,
): ChangeEvent {
  return Object.freeze({
    seq,
    at,
    id: request.record.id,
    kind: request.record.kind,
    action: previousDigest === undefined ? 'insert' : 'update',
    source: request.source,
    origin: request.origin === undefined ? undefined : clip(request.origin, MAX_ORIGIN_BYTES),
    digest: request.record.digest,
    previousDigest,
    signaturesAdded: request.signaturesAdded,
    summary: clip(request.summary, MAX_SUMMARY_BYTES),
    domains: Object.freeze([...domains]),
  });
}

export function freezeStored(record: StoredRecord): StoredRecord {
  Object.freeze(record.domains);
  return Object.freeze(record);
}

export type ChangeListener = (event: ChangeEvent) => void;

/** Change listeners: called in subscription order, each isolated from the others' failures. */
export class Listeners {
  readonly #listeners = new Set<ChangeListener>();

  constructor(private readonly onError: (error: unknown, event: ChangeEvent) => void = () => {}) {}

  add(listener: ChangeListener): () => void {
    // Wrapped so that subscribing one function twice gives two independent subscriptions.
    const entry: ChangeListener = (event) => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  emit(event: ChangeEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        try {
          this.onError(error, event);
        } catch {
          // An error handler that throws is ignored too: the write has committed.
        }
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}

/** A sync-set time as stores key it: a whole number of ms in [0, MAX_SAFE_INTEGER]. */
export function normaliseTime(time: number): number {
  if (Number.isNaN(time) || time <= 0) return 0;
  if (time >= Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
  return Math.floor(time);
}

/** A result-count limit as a whole number ≥ 0. */
export function normaliseLimit(limit: number): number {
  if (Number.isNaN(limit) || limit <= 0) return 0;
  return limit >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : Math.floor(limit);
}

export function closedError(): IcsError {
  return new IcsError('UNAVAILABLE', 'store is closed');
}
