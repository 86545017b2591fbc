// Resolving an HKP search over the store's indexes (never by scanning records): by
// fingerprint, by long key id, or by text over the user-ID token index. Only key records
// are served over HKP (code records have no key for gpg to import), and only those the
// caller may read; the result limit counts readable records.
import { type Access, type RecordCache, TOKEN_SCAN_CAP } from '../http/index.ts';
import type { PolicyEngine, Principal } from '../policy/index.ts';
import type { IdentityRecord } from '../record/index.ts';
import { userIdTokens } from '../store/index.ts';
import type { RecordIndexes, RecordReader, StoredRecord } from '../store/types.ts';
import { MAX_CONFIRMED_CANDIDATES } from './limits.ts';
import type { SearchTerm } from './query.ts';

export interface Found {
  /** Readable key records, at most the limit, in the store's order. */
  readonly records: readonly StoredRecord[];
  /** More records matched than were returned (limit reached, or a token too common to read in full). */
  readonly truncated: boolean;
}

export interface FindOptions {
  readonly exact: boolean;
  readonly limit: number;
  readonly engine: PolicyEngine;
  readonly principal: Principal;
}

export class Finder {
  constructor(
    private readonly store: RecordReader & RecordIndexes,
    private readonly access: Access,
    private readonly cache: RecordCache,
  ) {}

  async find(term: SearchTerm, options: FindOptions): Promise<Found> {
    switch (term.kind) {
      case 'fingerprint':
        return this.#byFingerprint(term.fingerprint, options);
      case 'keyId': {
        const ids = await this.store.findByKeyId(term.keyId, { limit: TOKEN_SCAN_CAP });
        return this.#collect(ids, options, undefined, ids.length >= TOKEN_SCAN_CAP);
      }
      case 'text':
        return this.#byText(term.text, term.tokens, options);
    }
  }

  /** True for a key record the caller may read. */
  servable(stored: StoredRecord | undefined, options: Pick<FindOptions, 'engine' | 'principal'>): stored is StoredRecord {
    return stored !== undefined && stored.kind !== 'code' && this.access.canRead(stored, options.engine, options.principal);
  }

  async #byFingerprint(fingerprint: string, options: FindOptions): Promise<Found> {
    // A device record's id is its primary fingerprint: one read answers the common case. A
    // primary key wins over records that merely carry the same key as a subkey (anyone may
    // bind someone else's public key as an encryption subkey).
    const direct = await this.store.get(fingerprint);
    if (this.servable(direct, options)) return { records: [direct], truncated: false };
    const ids = await this.store.findByFingerprint(fingerprint, { limit: TOKEN_SCAN_CAP });
    return this.#collect(ids, options, undefined, ids.length >= TOKEN_SCAN_CAP);
  }

  /**
   * Text: each token is looked up in the token index (by prefix unless `exact`), at most
   * TOKEN_SCAN_CAP entries each. Tokens read in full are intersected; tokens too common to
   * read in full, and `exact`, are checked against the candidates' user IDs instead.
   */
  async #byText(text: string, tokens: readonly string[], options: FindOptions): Promise<Found> {
    const sets = await Promise.all(
      tokens.map((token) => this.store.findByToken(token, { limit: TOKEN_SCAN_CAP + 1, prefix: !options.exact })),
    );
    const complete = sets.filter((s) => s.length <= TOKEN_SCAN_CAP).sort((a, b) => a.length - b.length);
    let candidates: string[];
    let capped = false;
    if (complete.length > 0) {
      const [first, ...rest] = complete as [string[], ...string[][]];
      const others = rest.map((s) => new Set(s));
      candidates = first.filter((id) => others.every((s) => s.has(id)));
    } else {
      // Every token is common: read the least common one's first entries and confirm each.
      candidates = (sets.sort((a, b) => a.length - b.length)[0] ?? []).slice(0, TOKEN_SCAN_CAP);
      capped = true;
    }
    const confirm = options.exact || complete.length < sets.length;
    const wanted = options.exact ? text.toLowerCase() : undefined;
    const matches = confirm
      ? (record: IdentityRecord) =>
          record.type === 'key' &&
          record.userIds.some((u) =>
            wanted !== undefined ? u.userId.toLowerCase() === wanted : coversTokens(userIdTokens(u.userId), tokens),
          )
      : undefined;
    return this.#collect(candidates.slice(0, MAX_CONFIRMED_CANDIDATES), options, matches, capped);
  }

  /** Reads candidates in order, keeps servable (and matching) ones up to the limit. */
  async #collect(
    ids: readonly string[],
    options: FindOptions,
    matches: ((record: IdentityRecord) => boolean) | undefined,
    capped: boolean,
  ): Promise<Found> {
    const records: StoredRecord[] = [];
    const chunk = Math.max(options.limit + 1, 16);
    for (let at = 0; at < ids.length && records.length <= options.limit; at += chunk) {
      const stored = await this.store.getMany(ids.slice(at, at + chunk));
      for (const s of stored) {
        if (!this.servable(s, options)) continue;
        if (matches && !matches(await this.cache.revive(s))) continue;
        records.push(s);
        if (records.length > options.limit) break;
      }
    }
    const truncated = capped || records.length > options.limit;
    return { records: records.slice(0, options.limit), truncated };
  }
}

/** Every search token is a prefix of one of the user ID's tokens. */
function coversTokens(have: readonly string[], want: readonly string[]): boolean {
  return want.every((w) => have.some((h) => h.startsWith(w)));
}
