// The batch entries of one accepted write: the record value, every index entry the new version
// adds, deletion of every entry only the previous version had (so no stale key id, token or
// domain entry survives an update), the event and its history entry; and the changes to the
// key-id, subkey and token-head lists. The caller commits them, with the derived structures'
// entries (the sync set's among them) and those of the other writes of its group, in one
// LevelDB batch (DESIGN §4, §6: the sync set and the records change together).
import type { IndexTerms } from '../indexing.ts';
import { encodedIdLength } from '../ids.ts';
import type { ChangeEvent } from '../model.ts';
import { encodeEvent, encodeRecordValue, type StoredEntry } from './codec.ts';
import { domainKey, eventKey, historyKey, keyIdKey, kindKey, recordKey, subkeyKey, tokenHeadKey, tokenKey } from './keys.ts';

/** One batch entry, in the shape classic-level's batch takes. */
export type BatchOp = { readonly type: 'put'; readonly key: Buffer; readonly value: Buffer } | { readonly type: 'del'; readonly key: Buffer };

/**
 * A change to a point-lookup list (key id → ids, subkey fingerprint → ids, token → head). The
 * lists are read and rewritten once per group, after every write of the group is decided.
 */
export interface ListChange {
  readonly key: Buffer;
  readonly id: Buffer;
  readonly add: boolean;
  /** A token head: past TOKEN_HEAD_IDS it turns into MANY_IDS for good (keys.ts). */
  readonly head?: boolean;
}

/** What one write puts in the batch. */
export interface WriteOps {
  readonly ops: BatchOp[];
  readonly lists: ListChange[];
}

/** What is stored of a record, with the terms it is indexed under. */
export interface Version {
  readonly entry: StoredEntry;
  readonly terms: IndexTerms;
}

const EMPTY = Buffer.alloc(0);
/**
 * Records listed under one key id or subkey fingerprint at most. Legitimate keys never share
 * a 64-bit key id, but collisions can be brute-forced: past this many, further records are
 * not listed (they stay findable by fingerprint and id), so that one key id cannot make every
 * write that touches it rewrite an ever longer list.
 */
export const MAX_IDS_PER_KEY = 64;
/** Records a token head lists at most (keys.ts); a prefix of the token's range holds the rest. */
export const TOKEN_HEAD_IDS = 8;
/** A token head's value once the token has had more records (no encoded id starts with ff). */
export const MANY_IDS = Buffer.of(0xff);

/** Whether a list value is MANY_IDS. */
export const isMany = (value: Buffer | undefined): boolean => value !== undefined && value.length === 1 && value[0] === 0xff;
const NO_TERMS: IndexTerms = { keyIds: [], fingerprints: [], tokens: [] };

/** Entries of `before` not in `after`, and of `after` not in `before`. */
function diff(before: readonly string[], after: readonly string[]): { removed: readonly string[]; added: readonly string[] } {
  if (before.length === 0) return { removed: before, added: after };
  const a = new Set(after);
  const b = new Set(before);
  return { removed: before.filter((t) => !a.has(t)), added: after.filter((t) => !b.has(t)) };
}

/** A primary key's fingerprint is the record id: only subkey fingerprints need index entries. */
function subkeyFingerprints(id: string, terms: IndexTerms): string[] {
  return terms.fingerprints.filter((f) => f !== id);
}

export function writeOps(idKey: Buffer, prior: Version | undefined, next: Version, event: ChangeEvent): WriteOps {
  const ops: BatchOp[] = [];
  const lists: ListChange[] = [];
  const { stored, doc } = next.entry;
  const put = (key: Buffer, value: Buffer = EMPTY) => ops.push({ type: 'put', key, value });
  const del = (key: Buffer) => ops.push({ type: 'del', key });
  const before = prior?.terms ?? NO_TERMS;
  const old = prior?.entry.stored;

  put(recordKey(idKey), encodeRecordValue(next.entry));

  const keyIds = diff(before.keyIds, next.terms.keyIds);
  for (const k of keyIds.removed) lists.push({ key: keyIdKey(k), id: idKey, add: false });
  for (const k of keyIds.added) lists.push({ key: keyIdKey(k), id: idKey, add: true });
  const subkeys = diff(subkeyFingerprints(stored.id, before), subkeyFingerprints(stored.id, next.terms));
  for (const f of subkeys.removed) lists.push({ key: subkeyKey(f), id: idKey, add: false });
  for (const f of subkeys.added) lists.push({ key: subkeyKey(f), id: idKey, add: true });
  const tokens = diff(before.tokens, next.terms.tokens);
  for (const t of tokens.removed) {
    del(tokenKey(t, doc));
    lists.push({ key: tokenHeadKey(t), id: idKey, add: false, head: true });
  }
  for (const t of tokens.added) {
    put(tokenKey(t, doc));
    lists.push({ key: tokenHeadKey(t), id: idKey, add: true, head: true });
  }

  if (old?.kind !== stored.kind) {
    if (old) del(kindKey(old.kind, idKey));
    put(kindKey(stored.kind, idKey));
  }
  const domains = diff(old?.domains ?? [], stored.domains);
  for (const d of domains.removed) del(domainKey(d, idKey));
  for (const d of domains.added) put(domainKey(d, idKey));

  put(eventKey(event.seq), encodeEvent(event));
  put(historyKey(doc, event.seq));
  return { ops, lists };
}

/** The encoded ids a list value holds, in order (the first `limit` of them). */
export function decodeIdList(value: Buffer | undefined, limit = Infinity): Buffer[] {
  const out: Buffer[] = [];
  if (!value) return out;
  for (let at = 0; at < value.length && out.length < limit; ) {
    const length = encodedIdLength(value, at);
    out.push(value.subarray(at, at + length));
    at += length;
  }
  return out;
}

/**
 * Applies a group's list changes to the lists' stored values (`current`, by key in the order
 * of `keys`): one put or delete per list touched. A head that is MANY_IDS stays so (it no
 * longer says which records hold the token) and is left as it is.
 */
export function listOps(changes: readonly ListChange[], keys: readonly Buffer[], current: ReadonlyArray<Buffer | undefined>): BatchOp[] {
  const lists = new Map<string, Buffer[] | 'many'>();
  keys.forEach((key, i) => lists.set(key.toString('hex'), isMany(current[i]) ? 'many' : decodeIdList(current[i])));
  for (const change of changes) {
    const hex = change.key.toString('hex');
    const ids = lists.get(hex) as Buffer[] | 'many';
    if (ids === 'many') continue;
    const at = ids.findIndex((id) => id.equals(change.id));
    if (change.add && at < 0) {
      if (change.head && ids.length >= TOKEN_HEAD_IDS) lists.set(hex, 'many');
      else if (change.head || ids.length < MAX_IDS_PER_KEY) ids.push(change.id);
    } else if (!change.add && at >= 0) ids.splice(at, 1);
  }
  const ops: BatchOp[] = [];
  keys.forEach((key, i) => {
    const ids = lists.get(key.toString('hex')) as Buffer[] | 'many';
    if (ids === 'many') {
      if (!isMany(current[i])) ops.push({ type: 'put', key, value: MANY_IDS });
    } else ops.push(ids.length > 0 ? { type: 'put', key, value: Buffer.concat(ids) } : { type: 'del', key });
  });
  return ops;
}

/** The distinct keys of a group's list changes, in first-touched order. */
export function listKeys(changes: readonly ListChange[]): Buffer[] {
  const seen = new Map<string, Buffer>();
  for (const c of changes) {
    const hex = c.key.toString('hex');
    if (!seen.has(hex)) seen.set(hex, c.key);
  }
  return [...seen.values()];
}
