// The sync set (DESIGN §6) as a derived structure, the one every store keeps: per domain, one
// entry per record, (domain, content time, id) → digest, in (time, id) order. Written through
// the derived-structure hook, so the set and the records change in the same batch; read
// through the structure's reader, so every store answers ranges alike.
//
//   domain 00 time(8, big-endian ms) id(ids.ts encoding) → digest(32)
import type { DerivedReader, DerivedStructure, RecordChange } from './derived.ts';
import { prefixEnd } from './derived.ts';
import { boundKey, type ItemReader, type RawItem } from './fingerprint.ts';
import { decodeId, encodeRecordId } from './ids.ts';
import { normaliseLimit } from './change.ts';
import type { SyncBound, SyncItem } from './model.ts';

/** The sync set's structure name (LevelDB keeps it in its own key space, see level/keys.ts). */
export const SYNC_SET = 'sync-set';

const TIME_BYTES = 8;
const SEPARATOR = 0x00;

/** A domain name a store can hold: non-empty, without NUL (the separator after it). */
export function isDomainName(domain: string): boolean {
  return domain.length > 0 && !domain.includes('\0');
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `domain 00`: the start of every entry of the domain. */
export function syncDomainPrefix(domain: string): Buffer {
  return Buffer.concat([Buffer.from(domain, 'utf8'), Buffer.of(SEPARATOR)]);
}

/** An entry's key, allocated once (this runs for every domain of every write). */
export function syncEntryKey(domain: string, time: number, idKey: Buffer): Buffer {
  const nameBytes = Buffer.byteLength(domain, 'utf8');
  const out = Buffer.allocUnsafe(nameBytes + 1 + TIME_BYTES + idKey.length);
  let at = out.write(domain, 0, 'utf8');
  out[at++] = SEPARATOR;
  const high = Math.floor(time / 2 ** 32);
  out.writeUInt32BE(high, at);
  out.writeUInt32BE(time - high * 2 ** 32, at + 4);
  idKey.copy(out, at + TIME_BYTES);
  return out;
}

/**
 * Keeps the set in step with a write: every entry of the previous version goes unless the new
 * version has the same (domain, time) key, which is then overwritten with the new digest.
 */
export const syncSet: DerivedStructure = {
  name: SYNC_SET,
  apply({ before, after }: RecordChange, batch) {
    const idKey = encodeRecordId(after.id);
    const time = after.contentTime.getTime();
    if (before) {
      const oldTime = before.contentTime.getTime();
      const keep = new Set(after.domains);
      for (const d of before.domains) if (!(keep.has(d) && oldTime === time)) batch.del(syncEntryKey(d, oldTime, idKey));
    }
    const digest = Buffer.from(after.digest, 'hex');
    for (const d of after.domains) batch.put(syncEntryKey(d, time, idKey), digest);
  },
};

/** SyncSet.syncRange over the set's reader. */
export async function readSyncRange(
  reader: DerivedReader,
  domain: string,
  from: SyncBound,
  to: SyncBound | undefined,
  limit: number,
): Promise<SyncItem[]> {
  const n = normaliseLimit(limit);
  if (!isDomainName(domain) || n === 0) return [];
  const prefix = syncDomainPrefix(domain);
  const gte = Buffer.concat([prefix, boundKey(from)]);
  const lt = to ? Buffer.concat([prefix, boundKey(to)]) : (prefixEnd(prefix) as Buffer);
  if (Buffer.compare(gte, lt) >= 0) return [];
  const entries = await reader.range({ gte, lt, limit: n });
  return entries.map(([rawKey, value]) => {
    const key = asBuffer(rawKey);
    const at = prefix.length;
    const time = key.readUInt32BE(at) * 2 ** 32 + key.readUInt32BE(at + 4);
    return { time, id: decodeId(key, at + TIME_BYTES), digest: asBuffer(value).toString('hex') };
  });
}

/** Reads a domain's items as the bucket index takes them: keys (time, id) without the domain. */
export function syncItemReader(reader: DerivedReader, domain: string): ItemReader {
  const prefix = syncDomainPrefix(domain);
  const end = prefixEnd(prefix) as Buffer;
  return async (from, to) => {
    const entries = await reader.range({ gte: Buffer.concat([prefix, from]), lt: to ? Buffer.concat([prefix, to]) : end });
    return entries.map(([key, digest]): RawItem => ({ key: asBuffer(key).subarray(prefix.length), digest }));
  };
}
