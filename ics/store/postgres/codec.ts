// Rows of the PostgreSQL store's tables (migrations/001_initial.sql) to what the store hands
// out, and back: records, events (with what another process needs to move its sync-set
// buckets) and certificate entries. bigint columns arrive as strings (pg keeps them exact);
// every value held there is a seq or a time in ms, below 2^53.
import type { EntityKind } from '../../record/index.ts';
import { freezeEntry } from '../certificate-rules.ts';
import type { CertificateEntry, RevocationReason } from '../certificates.ts';
import { freezeStored } from '../change.ts';
import type { ChangeEvent, ChangeSource, StoredRecord } from '../model.ts';

const int = (value: string | number): number => (typeof value === 'number' ? value : Number(value));

export const RECORD_COLUMNS = 'id, doc, kind, bytes, digest, domains, content_time, updated, seq';

export interface RecordRow {
  id: string;
  doc: string;
  kind: string;
  bytes: Buffer;
  digest: string;
  domains: string;
  content_time: string;
  updated: string;
  seq: string;
}

/** A stored version with its record number (the seq of its insert). */
export interface StoredVersion {
  readonly stored: StoredRecord;
  readonly doc: number;
}

export function decodeRecord(row: RecordRow): StoredVersion {
  return {
    doc: int(row.doc),
    stored: freezeStored({
      id: row.id,
      kind: row.kind as EntityKind,
      bytes: row.bytes,
      digest: row.digest,
      domains: JSON.parse(row.domains) as string[],
      contentTime: new Date(int(row.content_time)),
      updated: new Date(int(row.updated)),
      seq: int(row.seq),
    }),
  };
}

export const EVENT_COLUMNS =
  'seq, at, id, kind, action, source, origin, digest, previous_digest, signatures_added, summary, domains, content_time, previous_content_time, previous_domains';

export interface EventRow {
  seq: string;
  at: string;
  id: string;
  kind: string;
  action: string;
  source: string;
  origin: string | null;
  digest: string;
  previous_digest: string | null;
  signatures_added: number;
  summary: string;
  domains: string;
  content_time: string;
  previous_content_time: string | null;
  previous_domains: string | null;
}

/** An event as the log holds it: the ChangeEvent, and where the record's sync-set entries were and are. */
export interface LoggedEvent {
  readonly event: ChangeEvent;
  readonly contentTime: number;
  /** The previous version's content time and domains (undefined for an insert). */
  readonly previous: { readonly contentTime: number; readonly domains: readonly string[] } | undefined;
}

/** The event, shaped as change.ts's changeEvent makes it (so that both compare equal). */
export function decodeEvent(row: EventRow): LoggedEvent {
  const event: ChangeEvent = Object.freeze({
    seq: int(row.seq),
    at: new Date(int(row.at)),
    id: row.id,
    kind: row.kind as EntityKind,
    action: row.action as ChangeEvent['action'],
    source: row.source as ChangeSource,
    origin: row.origin ?? undefined,
    digest: row.digest,
    previousDigest: row.previous_digest ?? undefined,
    signaturesAdded: row.signatures_added,
    summary: row.summary,
    domains: Object.freeze(JSON.parse(row.domains) as string[]),
  });
  const previous =
    row.previous_content_time === null || row.previous_domains === null
      ? undefined
      : { contentTime: int(row.previous_content_time), domains: JSON.parse(row.previous_domains) as string[] };
  return { event, contentTime: int(row.content_time), previous };
}

export const CERTIFICATE_COLUMNS = 'serial, record_id, issuer, purpose, not_before, not_after, sha256, der, issued_at, revoked_at, revoked_reason';

export interface CertificateRow {
  serial: string;
  record_id: string;
  issuer: string;
  purpose: string;
  not_before: string;
  not_after: string;
  sha256: string;
  der: Buffer;
  issued_at: string;
  revoked_at: string | null;
  revoked_reason: string | null;
}

export function decodeCertificate(row: CertificateRow): CertificateEntry {
  return freezeEntry({
    serial: row.serial,
    recordId: row.record_id,
    issuer: row.issuer,
    purpose: row.purpose as CertificateEntry['purpose'],
    notBefore: new Date(int(row.not_before)),
    notAfter: new Date(int(row.not_after)),
    sha256: row.sha256,
    der: new Uint8Array(row.der),
    issuedAt: new Date(int(row.issued_at)),
    revoked: row.revoked_at === null ? undefined : Object.freeze({ at: new Date(int(row.revoked_at)), reason: row.revoked_reason as RevocationReason }),
  });
}
