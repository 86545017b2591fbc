// Verdict answers, made once per record version and policy and reused until the clock
// crosses the next expiry in the record. A verdict is a function of the record (its digest),
// the policy (the engine instance: a reload, or a trusted issuer's key changing in the store,
// makes a new one) and the time — and the time matters only where a signature, the key or
// a trusted issuer's key expires or is revoked (evaluateVerdict compares `now` with nothing
// else). So a cached answer is exact until then, and says so: `checkedAt` is when
// it was evaluated, `validUntil` that expiry. The answer is kept as the bytes sent.
import { ANSWER_CACHE_ENTRIES, Lru, type RecordCache } from '../http/index.ts';
import type { PolicyEngine } from '../policy/index.ts';
import type { IdentityRecord, VerifiedSignature } from '../record/index.ts';
import type { StoredRecord } from '../store/types.ts';
import { verdictJson } from './describe.ts';

interface Entry {
  readonly engine: PolicyEngine;
  /** The JSON answer, UTF-8. */
  readonly body: Buffer;
  /** ms since the epoch when a signature or the key next expires; Infinity when none will. */
  readonly validUntil: number;
}

function signaturesOf(record: IdentityRecord): VerifiedSignature[] {
  if (record.type === 'code') return [...record.signatures];
  return [...record.keySignatures, ...record.userIds.flatMap((u) => u.signatures), ...record.subkeys.flatMap((s) => s.signatures)];
}

/** The first expiry (signature or key) after `now`: until then the verdict cannot change. */
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

export class VerdictCache {
  readonly #entries = new Lru<string, Entry>(ANSWER_CACHE_ENTRIES);

  constructor(private readonly records: RecordCache) {}

  /** The verdict at `now`, as the JSON bytes to send. */
  async json(stored: StoredRecord, engine: PolicyEngine, now: Date): Promise<Buffer> {
    const key = stored.digest;
    const t = now.getTime();
    let entry = this.#entries.get(key);
    if (!entry || entry.engine !== engine || t >= entry.validUntil) {
      const record = await this.records.revive(stored);
      const validUntil = Math.min(nextExpiry(record, t), engine.nextIssuerChange(t));
      const body = Buffer.from(JSON.stringify(verdictJson(engine.verdict(record, now), engine, stored.digest, now, validUntil)), 'utf8');
      entry = { engine, body, validUntil };
      this.#entries.set(key, entry);
    }
    return entry.body;
  }
}
