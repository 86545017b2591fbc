// One record from what a person or gateway names it by: a v4 fingerprint (40 hex, optionally
// 0x), a long key id (16 hex, optionally 0x), a code id (`sha256:` + 64 hex) or an exact user
// ID (a URN). Shared by `ics verify` and GET /ics/v1/verify/{ref} so that both name the same
// record; over the indexes of the store interface only, never by scanning records.
import { IcsError } from '../errors.ts';
import { DEFAULT_LIMITS, type IdentityRecord, reviveRecord } from '../record/index.ts';
import { userIdTokens } from './indexing.ts';
import type { RecordIndexes, RecordReader, StoredRecord } from './types.ts';

/** Longest reference: the longest user ID a record may hold (a URN); a fingerprint is far shorter. */
export const MAX_REFERENCE_LENGTH = DEFAULT_LIMITS.maxUserIdBytes;

/**
 * Index entries read per user-ID token or key id. A token shared by more records than this
 * (`acme.example` across a manufacturer's fleet) is not read in full; the user ID's rarer
 * tokens narrow the candidates instead.
 */
export const RESOLVE_SCAN_CAP = 1000;

/** Records fetched per store read while confirming candidates. */
const CHUNK = 16;

/** Candidate ids listed in an ambiguity's details (they are readable by the caller). */
const LISTED_CANDIDATES = 10;

export type Reference =
  | { readonly kind: 'fingerprint'; readonly fingerprint: string }
  | { readonly kind: 'keyId'; readonly keyId: string }
  | { readonly kind: 'code'; readonly id: string }
  | { readonly kind: 'userId'; readonly userId: string };

export interface ResolveOptions {
  /**
   * Only records this accepts exist for the caller (read rules): others are neither found
   * nor counted toward an ambiguity, so that an answer never reveals them.
   */
  readonly visible?: (stored: StoredRecord) => boolean;
  /** Stored bytes to the record object (e.g. through a cache); reviveRecord by default. */
  readonly revive?: (stored: StoredRecord) => Promise<IdentityRecord>;
}

const FINGERPRINT = /^(?:0x)?([0-9a-f]{40})$/i;
const KEY_ID = /^(?:0x)?([0-9a-f]{16})$/i;
const CODE_ID = /^sha256:([0-9a-f]{64})$/i;
const HEX = /^(?:0x)?([0-9a-f]*)$/i;
/** Bare hex this long is a mistyped fingerprint or key id rather than a user ID. */
const MIN_BARE_HEX = 8;

const quoted = (reference: string) => JSON.stringify(reference.length > 200 ? `${reference.slice(0, 200)}…` : reference);

/**
 * What `reference` names, or BAD_REQUEST when it has the form of an id but not a valid one
 * (`0x` + non-hex or the wrong number of digits, `sha256:` + anything but 64 hex, 8 or more bare
 * hex digits that are neither 16 nor 40). Anything else is a user ID, matched exactly.
 */
export function parseReference(reference: string): Reference {
  const text = reference.trim();
  if (text.length === 0) throw new IcsError('BAD_REQUEST', 'an empty record reference');
  if (text.length > MAX_REFERENCE_LENGTH) throw new IcsError('BAD_REQUEST', `a record reference is at most ${MAX_REFERENCE_LENGTH} characters`);
  const fingerprint = FINGERPRINT.exec(text)?.[1];
  if (fingerprint !== undefined) return { kind: 'fingerprint', fingerprint: fingerprint.toLowerCase() };
  const keyId = KEY_ID.exec(text)?.[1];
  if (keyId !== undefined) return { kind: 'keyId', keyId: keyId.toLowerCase() };
  const digest = CODE_ID.exec(text)?.[1];
  if (digest !== undefined) return { kind: 'code', id: `sha256:${digest.toLowerCase()}` };
  if (/^sha256:/i.test(text)) throw new IcsError('BAD_REQUEST', `${quoted(text)}: a code id is sha256: and 64 hex digits`);
  const prefixed = /^0x/i.test(text);
  const hex = HEX.exec(text)?.[1];
  if (prefixed && hex === undefined) throw new IcsError('BAD_REQUEST', `${quoted(text)}: after 0x come hex digits, a long key id (16) or a v4 fingerprint (40)`);
  if (hex !== undefined && (prefixed || hex.length >= MIN_BARE_HEX)) {
    switch (hex.length) {
      case 8:
        // 32-bit key ids collide by construction (the "evil32" set): naming a record by one is unsafe.
        throw new IcsError('BAD_REQUEST', 'short (8 hex digit) key ids are not accepted: use the long key id (16) or the fingerprint (40)');
      case 32:
        throw new IcsError('BAD_REQUEST', 'v3 fingerprints are not accepted: use the v4 fingerprint (40 hex digits)');
      case 64:
        throw new IcsError('BAD_REQUEST', 'a code id is sha256: followed by the 64 hex digits');
      default:
        throw new IcsError('BAD_REQUEST', `${hex.length} hex digits: a fingerprint has 40, a long key id 16`);
    }
  }
  return { kind: 'userId', userId: text };
}

/**
 * The one stored record `reference` names (see parseReference), among those `visible`
 * accepts. NOT_FOUND when there is none; BAD_REQUEST when the reference is malformed or names
 * several records (a key id or user ID they share: use the fingerprint then). A fingerprint or
 * code id names the record with that id only (not a record holding the key as a subkey); a
 * key id prefers the record whose primary key it is, since anyone may bind someone else's
 * public key as a subkey of their own record.
 */
export async function resolveReference(store: RecordReader & RecordIndexes, reference: string, options: ResolveOptions = {}): Promise<StoredRecord> {
  const parsed = parseReference(reference);
  const visible = options.visible ?? (() => true);
  let found: StoredRecord[];
  switch (parsed.kind) {
    case 'fingerprint':
    case 'code': {
      const stored = await store.get(parsed.kind === 'code' ? parsed.id : parsed.fingerprint);
      found = stored && visible(stored) ? [stored] : [];
      break;
    }
    case 'keyId':
      found = await byKeyId(store, parsed.keyId, visible);
      break;
    case 'userId':
      found = await byUserId(store, parsed.userId, visible, options.revive ?? ((s) => reviveRecord(s.bytes)));
      break;
  }
  const [only] = found;
  if (only === undefined) throw new IcsError('NOT_FOUND', `no record ${reference.trim().slice(0, 200)}`);
  if (found.length > 1) {
    throw new IcsError('BAD_REQUEST', `${quoted(reference.trim())} names several records; use the fingerprint`, {
      details: { candidates: found.slice(0, LISTED_CANDIDATES).map((s) => s.id) },
    });
  }
  return only;
}

/** Tokens in the order to try: a URN's last segment first, then the longest words. */
function bySpecificity(userId: string, tokens: readonly string[]): string[] {
  const lower = userId.toLowerCase();
  const last = lower.startsWith('urn:') ? lower.slice(lower.lastIndexOf(':') + 1) : undefined;
  return [...tokens].sort((a, b) => Number(b === last) - Number(a === last) || b.length - a.length);
}

/** Visible records of `ids`, in order, stopping once `enough` are found. */
async function visibleOf(store: RecordReader, ids: readonly string[], visible: (s: StoredRecord) => boolean, enough: number): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (let at = 0; at < ids.length && out.length < enough; at += CHUNK) {
    for (const s of await store.getMany(ids.slice(at, at + CHUNK))) {
      if (s && visible(s)) out.push(s);
      if (out.length >= enough) break;
    }
  }
  return out;
}

async function byKeyId(store: RecordReader & RecordIndexes, keyId: string, visible: (s: StoredRecord) => boolean): Promise<StoredRecord[]> {
  const ids = await store.findByKeyId(keyId, { limit: RESOLVE_SCAN_CAP });
  // A v4 key id is the low 64 bits of the fingerprint, and a device record's id is its
  // primary fingerprint: primary holders are known without reading a record.
  const primary = ids.filter((id) => id.endsWith(keyId));
  const holders = await visibleOf(store, primary, visible, 2);
  if (holders.length > 0) return holders;
  return visibleOf(
    store,
    ids.filter((id) => !id.endsWith(keyId)),
    visible,
    2,
  );
}

/**
 * Key records with a user ID equal to `userId` (case and all). Every token of a user ID is
 * indexed, so a match is in each token's set: the sets read in full are intersected and the
 * few candidates left are confirmed against their user IDs.
 */
async function byUserId(
  store: RecordReader & RecordIndexes,
  userId: string,
  visible: (s: StoredRecord) => boolean,
  revive: (s: StoredRecord) => Promise<IdentityRecord>,
): Promise<StoredRecord[]> {
  const tokens = bySpecificity(userId, userIdTokens(userId));
  if (tokens.length === 0) return [];
  // Every match holds every token, and each candidate is checked against the whole user ID
  // below: the first token whose set is complete (not capped) is enough. The most specific
  // token first — a URN's last segment (a serial), else the longest word — so that one small
  // index read answers, not a capped read of "urn" or "device" per token.
  let candidates: string[] | undefined;
  for (const token of tokens) {
    const ids = await store.findByToken(token, { limit: RESOLVE_SCAN_CAP + 1 });
    if (ids.length <= RESOLVE_SCAN_CAP) {
      candidates = ids;
      break;
    }
  }
  if (candidates === undefined) {
    // Reading a capped set could miss the match or a second one: say so rather than guess.
    throw new IcsError('BAD_REQUEST', `every word of ${quoted(userId)} is in more than ${RESOLVE_SCAN_CAP} records: use the fingerprint`);
  }
  const matches: StoredRecord[] = [];
  for (let at = 0; at < candidates.length; at += CHUNK) {
    for (const stored of await store.getMany(candidates.slice(at, at + CHUNK))) {
      if (!stored || stored.kind === 'code' || !visible(stored)) continue;
      const record = await revive(stored);
      if (record.type === 'key' && record.userIds.some((u) => u.userId === userId)) matches.push(stored);
    }
  }
  return matches;
}
