// The one write path every front end uses (CLI, HKP, LDAP, JSON API, sync peers):
// parse + verify, policy filter, merge with what is stored, accept rules on the merged
// record, then one atomic store write. Nothing reaches the store any other way.
import { IcsError, isIcsError } from '../errors.ts';
import {
  claimsOf,
  DEFAULT_LIMITS,
  type IdentityRecord,
  mergeRecords,
  parseRecord,
  type RecordLimits,
  reviveRecord,
  splitRecords,
  type VerifiedSignature,
} from '../record/index.ts';
import type {
  BatchItemResult,
  BatchOptions,
  BatchOutcome,
  BatchSubmitter,
  DroppedReport,
  IngestComponents,
  IngestContext,
  IngestInit,
  IngestOutcome,
  RecordSubmitter,
} from './types.ts';

/** The one refusal for a record that would be stored only where its submitter may not read. */
function hiddenRefusal(): IcsError {
  return new IcsError('POLICY_REJECTED', 'no domain that this client may read would hold the record');
}

const DEFAULT_MAX_ATTEMPTS = 5;
/** Records of one batch parsed and merged at once, unless the caller says otherwise. */
export const DEFAULT_BATCH_CONCURRENCY = 16;

function allSignatures(record: IdentityRecord): VerifiedSignature[] {
  if (record.type === 'code') return [...record.signatures];
  return [...record.keySignatures, ...record.userIds.flatMap((u) => u.signatures), ...record.subkeys.flatMap((s) => s.signatures)];
}

export class Ingest implements RecordSubmitter, BatchSubmitter {
  readonly #components: IngestComponents;
  readonly #limits: RecordLimits;
  readonly #maxAttempts: number;
  /** Per-record queue: writes to one id run one after another, so merges never race. */
  readonly #tails = new Map<string, Promise<unknown>>();

  constructor(init: IngestInit, components: IngestComponents) {
    this.#components = components;
    this.#limits = init.limits ?? DEFAULT_LIMITS;
    this.#maxAttempts = init.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  /** Ingests one record (armored or binary). Throws IcsError when it is refused. */
  async submit(input: Uint8Array | string, context: IngestContext): Promise<IngestOutcome> {
    const { logger } = this.#components;
    try {
      const parsed = await parseRecord(input, { issuers: this.#components.policy.issuerRing(), limits: this.#limits, pace: context.pace });
      const dropped: DroppedReport[] = parsed.dropped.map((d) => ({ issuer: d.issuer, reason: d.reason, detail: d.detail }));
      const outcome = await this.#serialised(parsed.record.id, () => this.#mergeAndWrite(parsed.record, dropped, context));
      logger.debug(
        { id: outcome.id, action: outcome.action, added: outcome.signaturesAdded, dropped: dropped.length, source: context.source },
        'ingest',
      );
      return outcome;
    } catch (error) {
      if (isIcsError(error) && error.code !== 'INTERNAL') {
        logger.debug({ code: error.code, source: context.source, origin: context.origin, reason: error.message }, 'ingest refused');
      } else {
        logger.error({ err: error, source: context.source }, 'ingest failed');
      }
      throw error;
    }
  }

  /** Ingests every record of a keyring or bulk file; each is judged alone. */
  async submitBatch(input: Uint8Array | string, context: IngestContext, options: BatchOptions = {}): Promise<BatchOutcome> {
    const pieces = await splitRecords(input, this.#limits);
    const results: BatchItemResult[] = new Array(pieces.length);
    const counts = { inserted: 0, updated: 0, unchanged: 0, rejected: 0 };
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < pieces.length) {
        const index = next++;
        try {
          const outcome = await this.submit(pieces[index] as Uint8Array | string, context);
          counts[outcome.action] += 1;
          results[index] = { index, outcome };
        } catch (error) {
          counts.rejected += 1;
          const e = isIcsError(error) ? error : new IcsError('INTERNAL', 'internal error', { cause: error });
          results[index] = { index, error: { code: e.code, message: e.publicMessage } };
        }
        options.onProgress?.(++done, pieces.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_BATCH_CONCURRENCY) }, worker));
    return { results, counts };
  }

  async #serialised<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(id) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => undefined);
    this.#tails.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    }
  }

  async #mergeAndWrite(incoming: IdentityRecord, dropped: DroppedReport[], context: IngestContext): Promise<IngestOutcome> {
    const { store, policy } = this.#components;
    const readable = context.readable;
    const shown = (domains: readonly string[]) => (readable ? domains.filter(readable) : domains);
    for (let attempt = 1; ; attempt++) {
      const stored = await store.get(incoming.id);
      if (readable && stored && !stored.domains.some(readable)) {
        // Answer as for an unknown record: judge the input alone (its refusal, if any, is the
        // one an unknown record gets); only if that alone lands where the submitter may read
        // does the merge go ahead, and its result is then the submitter's to see.
        const alone = policy.admit(incoming);
        if (!alone.domains.some(readable)) throw hiddenRefusal();
      }
      const base = stored ? await reviveRecord(stored.bytes) : undefined;
      const merged = base ? mergeRecords(base, incoming, this.#limits) : incoming;
      // The policy judges the merged record: a copy carrying only a new countersignature
      // of a device already held is as acceptable as the full record. The stored part was
      // admitted before (admission is idempotent), so what it drops came with this input.
      const admitted = policy.admit(merged);
      if (attempt === 1) dropped.push(...admitted.dropped.map((d) => ({ issuer: d.issuer, reason: d.reason, detail: d.detail })));
      if (readable && !admitted.domains.some(readable)) throw hiddenRefusal();
      const record = admitted.record;
      const before = new Set(base ? allSignatures(base).map((s) => s.sigId) : []);
      const added = allSignatures(record).filter((s) => !before.has(s.sigId));
      const sameDomains = stored !== undefined && stored.domains.join('\n') === [...admitted.domains].sort().join('\n');
      if (stored && stored.digest === record.digest && sameDomains) {
        return this.#outcome(record, 'unchanged', shown(admitted.domains), 0, dropped, undefined);
      }
      try {
        const event = await store.write({
          record,
          domains: [...admitted.domains].sort(),
          expectedDigest: stored?.digest,
          source: context.source,
          origin: context.origin,
          signaturesAdded: added.length,
          summary: this.#summary(stored === undefined, added),
        });
        return this.#outcome(record, stored ? 'updated' : 'inserted', shown(admitted.domains), added.length, dropped, event.seq);
      } catch (error) {
        if (isIcsError(error, 'CONFLICT') && attempt < this.#maxAttempts) continue;
        throw error;
      }
    }
  }

  #outcome(
    record: IdentityRecord,
    action: IngestOutcome['action'],
    domains: readonly string[],
    signaturesAdded: number,
    dropped: DroppedReport[],
    seq: number | undefined,
  ): IngestOutcome {
    return { id: record.id, kind: record.kind, action, digest: record.digest, domains: [...domains].sort(), signaturesAdded, dropped, seq };
  }

  /** A short account of what the change says, for the event log. */
  #summary(isNew: boolean, added: readonly VerifiedSignature[]): string {
    const parts = added
      .filter((s) => !s.self)
      .map((s) => {
        const claims = claimsOf(s.notations);
        const who = this.#components.policy.issuerName?.(s.issuer) ?? s.issuer.slice(-16);
        const what = s.type === 0x30 ? 'withdrawal' : `${claims.role ?? 'certification'}${claims.status ? ` status=${claims.status}` : ''}`;
        return `${what} by ${who}`;
      });
    const head = isNew ? 'registered' : 'updated';
    const text = parts.length > 0 ? `${head}: ${parts.join('; ')}` : head;
    return text.length > 240 ? `${text.slice(0, 239)}…` : text;
  }
}
