// A commit group's rows in the PostgreSQL store, written inside its transaction (which holds
// the writers' lock): the current versions it starts from, its records with their index rows,
// events and per-kind counts, and its certificate writes decided in call order.
import type { PoolClient } from 'pg';
import type { CertificateEntry } from '../certificates.ts';
import { encodeRecordId } from '../ids.ts';
import { indexTermsOf } from '../indexing.ts';
import type { ChangeEvent, StoredRecord, WriteRequest } from '../model.ts';
import { encodeSerial } from '../serials.ts';
import type { PendingCertificateWrite, PendingWrite } from '../write-queue.ts';
import { CERTIFICATE_COLUMNS, type CertificateRow, decodeCertificate, decodeRecord, EVENT_COLUMNS, RECORD_COLUMNS, type RecordRow, type StoredVersion } from './codec.ts';

/** Term classes of ics_term. */
export const KEY_ID = 1;
export const FINGERPRINT = 2;
export const TOKEN = 3;

export const json = (domains: readonly string[]) => JSON.stringify(domains);
export const utf8 = (text: string) => Buffer.from(text, 'utf8');

export type CertificateOutcome = { write: PendingCertificateWrite; entry?: CertificateEntry; error?: unknown };


export interface Accepted {
  readonly pending: PendingWrite;
  readonly event: ChangeEvent;
  readonly after: StoredRecord;
  readonly doc: number;
  readonly previous: StoredRecord | undefined;
}

/** Current versions of a group's ids, read in its transaction. */
export async function loadVersions(client: PoolClient, group: readonly PendingWrite[]): Promise<Map<string, StoredVersion | undefined>> {
  const ids = [...new Set(group.map((p) => p.request.record.id))];
  const state = new Map<string, StoredVersion | undefined>(ids.map((id) => [id, undefined]));
  if (ids.length === 0) return state;
  const { rows } = await client.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM ics_record WHERE id_key = ANY($1::bytea[])`, [ids.map(encodeRecordId)]);
  for (const row of rows) state.set(row.id, decodeRecord(row));
  return state;
}

/**
 * Writes a group's records (each id's last version), their index rows (replaced: a record's terms
 * and domains are few), its events and the per-kind counts.
 */
export async function writeRecords(client: PoolClient, accepted: readonly Accepted[], state: ReadonlyMap<string, StoredVersion | undefined>): Promise<void> {
  const finals = [...new Set(accepted.map((a) => a.after.id))].map((id) => state.get(id) as StoredVersion);
  const keys = finals.map((v) => encodeRecordId(v.stored.id));
  const updatedDocs = [...new Set(accepted.filter((a) => a.previous).map((a) => a.doc))];
  if (updatedDocs.length > 0) {
    await client.query('DELETE FROM ics_term WHERE doc = ANY($1::bigint[])', [updatedDocs]);
    await client.query('DELETE FROM ics_record_domain WHERE id_key = ANY($1::bytea[])', [keys]);
  }
  await client.query(
    `INSERT INTO ics_record (id_key, id, doc, kind, bytes, digest, domains, content_time, updated, seq)
     SELECT * FROM unnest($1::bytea[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[])
     ON CONFLICT (id_key) DO UPDATE SET kind = excluded.kind, bytes = excluded.bytes, digest = excluded.digest, domains = excluded.domains,
       content_time = excluded.content_time, updated = excluded.updated, seq = excluded.seq`,
    [
      keys,
      finals.map((v) => v.stored.id),
      finals.map((v) => v.doc),
      finals.map((v) => v.stored.kind),
      finals.map((v) => Buffer.from(v.stored.bytes.buffer, v.stored.bytes.byteOffset, v.stored.bytes.byteLength)),
      finals.map((v) => v.stored.digest),
      finals.map((v) => json(v.stored.domains)),
      finals.map((v) => v.stored.contentTime.getTime()),
      finals.map((v) => v.stored.updated.getTime()),
      finals.map((v) => v.stored.seq),
    ],
  );
  // Index rows of each final version: its terms (from the record written last for the id) and domains.
  const lastRecord = new Map(accepted.map((a) => [a.after.id, a.pending.request.record]));
  const terms: { cls: number[]; term: Buffer[]; doc: number[]; id: string[] } = { cls: [], term: [], doc: [], id: [] };
  const domains: { domain: string[]; key: Buffer[] } = { domain: [], key: [] };
  finals.forEach((v, i) => {
    const found = indexTermsOf(lastRecord.get(v.stored.id) as WriteRequest['record']);
    const add = (cls: number, list: readonly string[]) => {
      for (const t of list) {
        terms.cls.push(cls);
        terms.term.push(utf8(t));
        terms.doc.push(v.doc);
        terms.id.push(v.stored.id);
      }
    };
    add(KEY_ID, found.keyIds);
    add(FINGERPRINT, found.fingerprints);
    add(TOKEN, found.tokens);
    for (const d of v.stored.domains) {
      domains.domain.push(d);
      domains.key.push(keys[i] as Buffer);
    }
  });
  if (terms.cls.length > 0) {
    await client.query('INSERT INTO ics_term (class, term, doc, id) SELECT * FROM unnest($1::smallint[], $2::bytea[], $3::bigint[], $4::text[])', [
      terms.cls,
      terms.term,
      terms.doc,
      terms.id,
    ]);
  }
  if (domains.domain.length > 0) {
    await client.query('INSERT INTO ics_record_domain (domain, id_key) SELECT * FROM unnest($1::text[], $2::bytea[])', [domains.domain, domains.key]);
  }
  const events = accepted.map((a) => a.event);
  await client.query(
    `INSERT INTO ics_event (${EVENT_COLUMNS})
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
       $10::integer[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::text[])`,
    [
      events.map((e) => e.seq),
      events.map((e) => e.at.getTime()),
      events.map((e) => e.id),
      events.map((e) => e.kind),
      events.map((e) => e.action),
      events.map((e) => e.source),
      events.map((e) => e.origin ?? null),
      events.map((e) => e.digest),
      events.map((e) => e.previousDigest ?? null),
      events.map((e) => e.signaturesAdded),
      events.map((e) => e.summary),
      events.map((e) => json(e.domains)),
      accepted.map((a) => a.after.contentTime.getTime()),
      accepted.map((a) => a.previous?.contentTime.getTime() ?? null),
      accepted.map((a) => (a.previous ? json(a.previous.domains) : null)),
    ],
  );
  const counts = new Map<string, number>();
  for (const a of accepted) {
    if (a.previous?.kind === a.after.kind) continue;
    if (a.previous) counts.set(a.previous.kind, (counts.get(a.previous.kind) ?? 0) - 1);
    counts.set(a.after.kind, (counts.get(a.after.kind) ?? 0) + 1);
  }
  for (const [kind, delta] of counts) {
    if (delta === 0) continue;
    await client.query('INSERT INTO ics_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = ics_meta.value + excluded.value', [
      `count:${kind}`,
      delta,
    ]);
  }
}

/** Decides a group's certificate writes in call order against the stored entries, and writes what changed. */
export async function decideCertificates(
  client: PoolClient,
  writes: readonly PendingCertificateWrite[],
): Promise<CertificateOutcome[]> {
  if (writes.length === 0) return [];
  const serials = [...new Set(writes.map((w) => w.serial))];
  const { rows } = await client.query<CertificateRow>(`SELECT ${CERTIFICATE_COLUMNS} FROM ics_certificate WHERE serial_key = ANY($1::bytea[])`, [serials.map(encodeSerial)]);
  const state = new Map<string, CertificateEntry | undefined>(rows.map((r) => [r.serial, decodeCertificate(r)]));
  const changed = new Map<string, CertificateEntry>();
  const outcomes: CertificateOutcome[] = [];
  for (const write of writes) {
    try {
      const current = state.get(write.serial);
      const next = write.decide(current);
      if (next !== current) {
        state.set(write.serial, next);
        changed.set(write.serial, next);
      }
      outcomes.push({ write, entry: next });
    } catch (error) {
      outcomes.push({ write, error });
    }
  }
  for (const e of changed.values()) {
    await client.query(
      `INSERT INTO ics_certificate (serial_key, ${CERTIFICATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (serial_key) DO UPDATE SET revoked_at = excluded.revoked_at, revoked_reason = excluded.revoked_reason`,
      [
        encodeSerial(e.serial),
        e.serial,
        e.recordId,
        e.issuer,
        e.purpose,
        e.notBefore.getTime(),
        e.notAfter.getTime(),
        e.sha256,
        Buffer.from(e.der),
        e.issuedAt.getTime(),
        e.revoked?.at.getTime() ?? null,
        e.revoked?.reason ?? null,
      ],
    );
  }
  return outcomes;
}
