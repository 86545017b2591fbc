// The device record a certificate's key belongs to: among the records holding the URN the
// certificate names (found through the store's user-ID token index, never by scanning), the
// one whose OpenPGP primary key is the certificate's key (compared as DER SPKI). Anyone may
// name a URN; only the key binds a certificate to a record.
import { type KeyRecord, primaryKeyObject, reviveRecord } from '../record/index.ts';
import { type RecordIndexes, type RecordReader, type StoredRecord, userIdTokens } from '../store/index.ts';
import { spkiOf } from './keys.ts';
import { MAX_URN_CANDIDATES } from './limits.ts';

/** Record kinds that are devices, and so hold certificates. */
export const DEVICE_KINDS: ReadonlySet<string> = new Set(['device', 'gateway']);

export interface DeviceRecord {
  readonly stored: StoredRecord;
  readonly record: KeyRecord;
}

/** Records fetched per store read while confirming candidates. */
const CHUNK = 16;

async function sameKey(record: KeyRecord, spki: Uint8Array): Promise<boolean> {
  try {
    return Buffer.from(spkiOf(await primaryKeyObject(record))).equals(spki);
  } catch {
    return false; // a key type node:crypto cannot export as SPKI holds no certificate
  }
}

/**
 * Tokens of `urn`, rarest first: the last segment (the device's serial) names one device,
 * where "urn", "device" or the organisation name every device shares.
 */
function rarestFirst(urn: string): string[] {
  const tokens = userIdTokens(urn);
  const last = urn.toLowerCase().split(':').pop() ?? '';
  return tokens.sort((a, b) => Number(b === last) - Number(a === last) || b.length - a.length);
}

/** The device record with user ID `urn` whose primary key is `spki`; undefined when there is none. */
export async function findDeviceRecord(store: RecordReader & RecordIndexes, urn: string, spki: Uint8Array): Promise<DeviceRecord | undefined> {
  // Every record holding the URN holds each of its tokens: the first token whose set is small
  // enough to read holds them all, so one index read usually does (each record read is then
  // checked for the exact user ID and the key). A token shared by more records than that is
  // skipped unread: reading every device of a million-device node on each enrolment is not.
  let candidates: string[] | undefined;
  for (const token of rarestFirst(urn)) {
    const ids = await store.findByToken(token, { limit: MAX_URN_CANDIDATES + 1 });
    if (ids.length <= MAX_URN_CANDIDATES) {
      candidates = ids;
      break;
    }
  }
  if (candidates === undefined) return undefined;
  for (let at = 0; at < candidates.length; at += CHUNK) {
    for (const stored of await store.getMany(candidates.slice(at, at + CHUNK))) {
      if (!stored || !DEVICE_KINDS.has(stored.kind)) continue;
      const record = await reviveRecord(stored.bytes);
      if (record.type !== 'key' || !record.userIds.some((u) => u.userId === urn)) continue;
      if (await sameKey(record, spki)) return { stored, record };
    }
  }
  return undefined;
}

/** The record with this id, if it is a device record. */
export async function deviceRecordById(store: RecordReader, id: string): Promise<DeviceRecord | undefined> {
  const stored = await store.get(id);
  if (!stored || !DEVICE_KINDS.has(stored.kind)) return undefined;
  const record = await reviveRecord(stored.bytes);
  return record.type === 'key' ? { stored, record } : undefined;
}
