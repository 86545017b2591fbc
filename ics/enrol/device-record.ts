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

/** The device record with user ID `urn` whose primary key is `spki`; undefined when there is none. */
export async function findDeviceRecord(store: RecordReader & RecordIndexes, urn: string, spki: Uint8Array): Promise<DeviceRecord | undefined> {
  const tokens = userIdTokens(urn);
  const sets = await Promise.all(tokens.map((token) => store.findByToken(token, { limit: MAX_URN_CANDIDATES + 1 })));
  const complete = sets.filter((s) => s.length <= MAX_URN_CANDIDATES).sort((a, b) => a.length - b.length);
  const [first, ...rest] = complete;
  if (first === undefined) return undefined;
  const others = rest.map((s) => new Set(s));
  const candidates = first.filter((id) => others.every((s) => s.has(id)));
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
