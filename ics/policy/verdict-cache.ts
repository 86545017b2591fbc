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

export interface CachedVerdict {
  readonly verdict: PolicyVerdict;
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
 * Verdicts by record digest and engine generation, bounded by entry count. One entry per
 * digest: a verdict of another generation does not count, and the newer one replaces it, so
 * the verdicts of a policy no longer in force do not take room from current ones.
 */
export class PolicyVerdictCache {
  readonly #entries: LRUCache<string, CachedVerdict>;

  /** `capacity` ≥ 1: the verdicts kept (about 1–2 KB each). */
  constructor(readonly capacity: number) {
    this.#entries = new LRUCache({ max: capacity });
  }

  /** The cached verdict on the record version `digest` under `engine`, if it holds at `now`. */
  get(digest: string, engine: PolicyEngine, now: Date): CachedVerdict | undefined {
    const hit = this.#entries.get(digest);
    return hit && hit.generation === engine.generation && now.getTime() < hit.validUntil ? hit : undefined;
  }

  /** Evaluates the verdict on `record` (stored as `digest`) at `now`, and caches it. */
  evaluate(digest: string, record: IdentityRecord, engine: PolicyEngine, now: Date): CachedVerdict {
    const entry: CachedVerdict = {
      verdict: engine.verdict(record, now),
      generation: engine.generation,
      checkedAt: now,
      validUntil: verdictValidUntil(record, engine, now.getTime()),
    };
    this.#entries.set(digest, entry);
    return entry;
  }
}
