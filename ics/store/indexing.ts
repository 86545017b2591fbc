// What a record is found by: key ids, fingerprints and user-ID tokens, and its content time
// (the sync set's order, DESIGN §6). Pure functions of the record, shared by every store.
import type { IdentityRecord, VerifiedSignature } from '../record/index.ts';

/** Shortest run of letters/digits indexed: single characters would match nearly every record. */
export const MIN_TOKEN_LENGTH = 2;
/**
 * Longest token indexed. Long enough for `sha512:` + 128 hex digits (a code digest, 135);
 * longer strings are not useful search terms and would only bloat index keys.
 */
export const MAX_TOKEN_LENGTH = 160;

export interface IndexTerms {
  /** 16-hex-digit key ids of the primary key and every subkey, lower-case. */
  readonly keyIds: readonly string[];
  /** 40-hex-digit fingerprints of the primary key and every subkey, lower-case. */
  readonly fingerprints: readonly string[];
  /** Search tokens, lower-case, deduplicated. */
  readonly tokens: readonly string[];
}

const RUN = /[a-z0-9]+/g;
const MAILBOX = /<([^<>\s]+@[^<>\s]+)>/;

/** A token is indexable when it is within the length bounds and holds no NUL (the key separator). */
function indexable(token: string): boolean {
  return token.length >= 1 && token.length <= MAX_TOKEN_LENGTH && !token.includes('\0');
}

/**
 * Tokens of one user ID: lower-cased runs of [a-z0-9] of at least MIN_TOKEN_LENGTH, the whole
 * lower-cased e-mail address inside `<…>` if any, and for URNs each `:`-separated segment,
 * lower-cased. Deduplicated, in that order.
 *
 * `urn:cm4it:device:acme.example:cam-3:SN12345` → urn, cm4it, device, acme, example, cam,
 * sn12345, acme.example, cam-3.
 */
export function userIdTokens(userId: string): string[] {
  const lower = userId.toLowerCase();
  const out = new Set<string>();
  for (const match of lower.matchAll(RUN)) if (match[0].length >= MIN_TOKEN_LENGTH) out.add(match[0]);
  const mailbox = MAILBOX.exec(lower);
  if (mailbox?.[1]) out.add(mailbox[1]);
  if (lower.startsWith('urn:')) for (const segment of lower.split(':')) if (segment.length > 0) out.add(segment);
  return [...out].filter(indexable);
}

function codeTokens(record: Extract<IdentityRecord, { type: 'code' }>): string[] {
  const { name, version, digest } = record.statement.subject;
  const out = new Set<string>([...userIdTokens(name), name.toLowerCase(), ...userIdTokens(version), version.toLowerCase()]);
  for (const [algorithm, hex] of Object.entries(digest)) {
    if (typeof hex !== 'string') continue;
    out.add(`${algorithm}:${hex.toLowerCase()}`);
    out.add(hex.toLowerCase());
  }
  return [...out].filter(indexable);
}

/** Everything a record is found by. Code records have no keys; their tokens come from the statement. */
export function indexTermsOf(record: IdentityRecord): IndexTerms {
  if (record.type === 'code') return { keyIds: [], fingerprints: [], tokens: codeTokens(record) };
  const keys = [record.primaryKey, ...record.subkeys.map((s) => s.key)];
  const tokens = new Set<string>();
  for (const u of record.userIds) for (const t of userIdTokens(u.userId)) tokens.add(t);
  return {
    keyIds: [...new Set(keys.map((k) => k.keyId.toLowerCase()))],
    fingerprints: [...new Set(keys.map((k) => k.fingerprint.toLowerCase()))],
    tokens: [...tokens],
  };
}

function newest(sigs: readonly VerifiedSignature[], start: number): number {
  let t = start;
  for (const s of sigs) {
    const ms = s.created.getTime();
    if (ms > t) t = ms;
  }
  return t;
}

/** Newest signature creation time in the record, ms since the epoch; 0 when it has none. */
export function contentTime(record: IdentityRecord): number {
  if (record.type === 'code') return newest(record.signatures, 0);
  let t = newest(record.keySignatures, 0);
  for (const u of record.userIds) t = newest(u.signatures, t);
  for (const s of record.subkeys) t = newest(s.signatures, t);
  return t;
}
