// Verdict answers of /ics/v1/verify as the JSON bytes sent. The verdicts themselves come from
// the policy's verdict cache (policy/verdict-cache.ts: once per record version and policy
// generation, exact until the next expiry that bears on them); each one's answer is encoded
// once and lives as long as its verdict stays cached.
import { ANSWER_CACHE_ENTRIES, type RecordCache } from '../http/index.ts';
import { type CachedVerdict, type PolicyEngine, PolicyVerdictCache } from '../policy/index.ts';
import type { StoredRecord } from '../store/types.ts';
import { verdictJson } from '../http/describe.ts';

export class VerdictCache {
  /** The JSON answer (UTF-8) of each cached verdict: dropped with it. */
  readonly #bodies = new WeakMap<CachedVerdict, Buffer>();

  constructor(
    private readonly records: RecordCache,
    /** As many verdicts as answers kept ready (ANSWER_CACHE_ENTRIES): a gateway's working set. */
    private readonly verdicts = new PolicyVerdictCache(ANSWER_CACHE_ENTRIES),
  ) {}

  /** The verdict at `now`, as the JSON bytes to send. */
  async json(stored: StoredRecord, engine: PolicyEngine, now: Date): Promise<Buffer> {
    const cached =
      this.verdicts.get(stored, engine, now) ?? this.verdicts.evaluate(stored, await this.records.revive(stored), engine, now);
    let body = this.#bodies.get(cached);
    if (body === undefined) {
      body = Buffer.from(JSON.stringify(verdictJson(cached.verdict, engine, stored.digest, cached.checkedAt, cached.validUntil)), 'utf8');
      this.#bodies.set(cached, body);
    }
    return body;
  }
}
