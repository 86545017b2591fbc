// The certificate index of the LevelDB store (keys.ts, space 0b): reads by serial, record,
// expiry and revoking CA; and the batch entries of a group of certificate writes, each decided
// in call order against the committed entries plus the group's earlier writes, for the store
// to commit in its group's one batch.
import type { ClassicLevel } from 'classic-level';
import { type ExpiryCursor, isIssuer } from '../certificate-rules.ts';
import type { CertificateEntry } from '../certificates.ts';
import { encodeId, encodeRecordId } from '../ids.ts';
import { encodeSerial, isSerial } from '../serials.ts';
import { decodeCertificate, encodeCertificate } from './certificate-codec.ts';
import {
  certificateKey,
  certificateKeyAt,
  certificateOfKey,
  certificateOfSerialAt,
  certificatesOfRange,
  EXPIRY_SERIAL_AT,
  expiryKey,
  expiryRange,
  REVOKED_SERIAL_AT,
  revokedKey,
  revokedRange,
} from './keys.ts';
import type { BatchOp } from './ops.ts';
import { readAll } from './read.ts';
import type { PendingCertificateWrite } from '../write-queue.ts';

type Db = ClassicLevel<Buffer, Buffer>;


/** A group's certificate writes, decided: their batch entries, and how to answer them once the batch is (or is not) written. */
export interface CertificateGroup {
  /** Each serial the group changes, with its entry after the group (what a cache must hold once the batch is durable). */
  readonly changed: ReadonlyMap<string, CertificateEntry>;
  readonly ops: readonly BatchOp[];
  /** The batch is durable: answer every write as decided. */
  settle(): void;
  /** The batch failed: the accepted writes fail with `error`, the refused ones as they were refused. */
  fail(error: unknown): void;
}

export async function readCertificate(db: Db, serial: string): Promise<CertificateEntry | undefined> {
  if (!isSerial(serial)) return undefined;
  const value = await db.get(certificateKey(encodeSerial(serial)));
  return value === undefined ? undefined : decodeCertificate(value);
}

/** The entries the secondary keys name, in their order. Entries are never deleted, so each is there. */
async function entriesOf(db: Db, keys: readonly Buffer[], serialAt: number): Promise<CertificateEntry[]> {
  if (keys.length === 0) return [];
  const values = await db.getMany(keys.map((key) => certificateKeyAt(key, serialAt)));
  return values.flatMap((value) => (value === undefined ? [] : [decodeCertificate(value)]));
}

export async function readCertificatesOf(db: Db, recordId: string): Promise<CertificateEntry[]> {
  const id = encodeId(recordId);
  if (!id) return [];
  return entriesOf(db, await readAll(db.keys(certificatesOfRange(id))), certificateOfSerialAt(id.length));
}

/** `before`: whole ms (see expiryBound); `limit` normalised; `after` checked (expiryCursor). */
export async function readExpiringBefore(db: Db, before: number, limit: number, after?: ExpiryCursor): Promise<CertificateEntry[]> {
  if (limit === 0) return [];
  const from = after && { notAfter: after.notAfter, serial: after.serial === '' ? Buffer.alloc(0) : encodeSerial(after.serial) };
  return entriesOf(db, await readAll(db.keys({ ...expiryRange(before, from), limit })), EXPIRY_SERIAL_AT);
}

/** `afterSerial` checked (a serial). */
export async function readRevokedBy(db: Db, issuer: string, limit: number, afterSerial?: string): Promise<CertificateEntry[]> {
  if (limit === 0 || !isIssuer(issuer)) return [];
  const from = afterSerial === undefined ? undefined : encodeSerial(afterSerial);
  return entriesOf(db, await readAll(db.keys({ ...revokedRange(issuer, from), limit })), REVOKED_SERIAL_AT);
}

/** Batch entries turning `current` into `next`: the entry, and the secondary keys it gains (it never loses one). */
function entryOps(serial: Buffer, current: CertificateEntry | undefined, next: CertificateEntry): BatchOp[] {
  const ops: BatchOp[] = [{ type: 'put', key: certificateKey(serial), value: encodeCertificate(next) }];
  const put = (key: Buffer) => ops.push({ type: 'put', key, value: Buffer.alloc(0) });
  if (!current) {
    put(certificateOfKey(encodeRecordId(next.recordId), next.issuedAt.getTime(), serial));
    put(expiryKey(next.notAfter.getTime(), serial));
  }
  if (next.revoked && !current?.revoked) put(revokedKey(next.issuer, serial));
  return ops;
}

/** Decides a group's certificate writes in call order, reading each serial's entry once. */
export async function certificateGroup(db: Db, writes: readonly PendingCertificateWrite[]): Promise<CertificateGroup> {
  const serials = [...new Set(writes.map((w) => w.serial))];
  const encoded = new Map(serials.map((s) => [s, encodeSerial(s)]));
  const values = serials.length === 0 ? [] : await db.getMany(serials.map((s) => certificateKey(encoded.get(s) as Buffer)));
  const stored = new Map(serials.map((s, i) => [s, values[i]]));
  const state = new Map<string, CertificateEntry | undefined>();
  const ops: BatchOp[] = [];
  const changed = new Map<string, CertificateEntry>();
  const outcomes: Array<{ write: PendingCertificateWrite; entry?: CertificateEntry; error?: unknown }> = [];
  for (const write of writes) {
    try {
      if (!state.has(write.serial)) {
        const value = stored.get(write.serial);
        state.set(write.serial, value === undefined ? undefined : decodeCertificate(value));
      }
      const current = state.get(write.serial);
      const next = write.decide(current);
      if (next !== current) {
        for (const op of entryOps(encoded.get(write.serial) as Buffer, current, next)) ops.push(op);
        state.set(write.serial, next);
        changed.set(write.serial, next);
      }
      outcomes.push({ write, entry: next });
    } catch (error) {
      outcomes.push({ write, error });
    }
  }
  return {
    ops,
    changed,
    settle() {
      for (const { write, entry, error } of outcomes) {
        if (entry) write.resolve(entry);
        else write.reject(error);
      }
    },
    fail(failure) {
      for (const { write, entry, error } of outcomes) write.reject(entry ? failure : error);
    },
  };
}
