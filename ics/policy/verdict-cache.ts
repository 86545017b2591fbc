// Verdicts, evaluated once per record version and policy generation and reused until the
// clock crosses the next expiry that bears on them. A verdict is a function of the record
// (its digest), the policy engine (its generation: a reload, or a trusted issuer's key
// changing in the store, makes a new engine) and the time — and the time matters only where
// a signature, the key or a trusted issuer's key expires or is revoked (evaluateVerdict
// compares `now` with nothing else). So a cached verdict is exact until then, and says so:
// `checkedAt` is when it was evaluated, `validUntil` that instant.
import { LRUCache } from 'lru-cache';
import type { IdentityRecord, VerifiedSignature } from '../record/index.ts';
import type { PolicyEngine } from './engine.ts';
import type { PolicyVerdict } from './types.ts';

/** One version of one record: its id and the digest of its bytes (a StoredRecord is one). */
export interface RecordVersion {
  readonly id: string;
  readonly digest: string;
}

export interface CachedVerdict {
  readonly verdict: PolicyVerdict;
  /** The record version it is about. */
  readonly digest: string;
  /** The generation of the engine that evaluated it. */
  readonly generation: number;
  readonly checkedAt: Date;
  /** ms since the epoch when it may first change; Infinity when nothing will expire. */
  readonly validUntil: number;
}

function signaturesOf(record: IdentityRecord): VerifiedSignature[] {
  if (record.type === 'code') return [...record.signatures];
  return [...record.keySignatures, ...record.userIds.flatMap((u) => u.signatures), ...record.subkeys.flatMap((s) => s.signatures)];
}

/** The first expiry (signature or key) after `now`: until then the record's own part of a verdict cannot change. */
export function nextExpiry(record: IdentityRecord, now: number): number {
  let next = Number.POSITIVE_INFINITY;
  for (const s of signaturesOf(record)) {
    for (const d of [s.expires, s.keyExpires]) {
      const t = d?.getTime();
      if (t !== undefined && t > now && t < next) next = t;
    }
  }
  return next;
}

/** Until when a verdict on `record` under `engine`, evaluated at `now` (ms), holds. */
export function verdictValidUntil(record: IdentityRecord, engine: PolicyEngine, now: number): number {
  return Math.min(nextExpiry(record, now), engine.nextIssuerChange(now));
}

/**
 * Verdicts by record version and engine generation, bounded by entry count. One entry per
 * record id: a verdict on another version or of another generation does not count, and the
 * newer one replaces it, so neither the versions a record's status changes leave behind nor
 * the verdicts of a policy no longer in force take room (the cache holds at most one verdict
 * per record read, however often records change).
 */
export class PolicyVerdictCache {
  readonly #entries: LRUCache<string, CachedVerdict>;

  /** `capacity` ≥ 1: the verdicts kept (about 1–2 KB each). */
  constructor(readonly capacity: number) {
    this.#entries = new LRUCache({ max: capacity });
  }

  /** Verdicts held (one per record; bounded by count, each ~1–2 KB). */
  get size(): number {
    return this.#entries.size;
  }

  /** The cached verdict on `version` under `engine`, if it holds at `now`. */
  get(version: RecordVersion, engine: PolicyEngine, now: Date): CachedVerdict | undefined {
    const hit = this.#entries.get(version.id);
    return hit && hit.digest === version.digest && hit.generation === engine.generation && now.getTime() < hit.validUntil ? hit : undefined;
  }

  /** Evaluates the verdict on `record` (stored as `version`) at `now`, and caches it. */
  evaluate(version: RecordVersion, record: IdentityRecord, engine: PolicyEngine, now: Date): CachedVerdict {
    const entry: CachedVerdict = {
      verdict: engine.verdict(record, now),
      digest: version.digest,
      generation: engine.generation,
      checkedAt: now,
      validUntil: verdictValidUntil(record, engine, now.getTime()),
    };
    this.#entries.set(version.id, entry);
    return entry;
  }
}
