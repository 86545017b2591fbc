// Ingest outcomes as the plugins that take submissions answer them: JSON (dropped signatures
// counted by reason, with a sample) and, for HKP clients, text. Nothing here reads the store.
import type { IcsErrorCode } from '../errors.ts';
import type { BatchOutcome, DroppedReport, IngestOutcome } from '../ingest/index.ts';
import { DROPPED_SAMPLE } from './limits.ts';

/** Dropped signatures, counted by reason; the first few listed (a flood would list thousands). */
export function droppedJson(dropped: readonly DroppedReport[]) {
  const byReason: Record<string, number> = {};
  for (const d of dropped) byReason[d.reason] = (byReason[d.reason] ?? 0) + 1;
  return {
    count: dropped.length,
    byReason,
    sample: dropped.slice(0, DROPPED_SAMPLE).map((d) => ({ issuer: d.issuer ?? null, reason: d.reason, detail: d.detail })),
  };
}

export function outcomeJson(o: IngestOutcome) {
  return {
    id: o.id,
    kind: o.kind,
    action: o.action,
    digest: o.digest,
    domains: [...o.domains],
    signaturesAdded: o.signaturesAdded,
    dropped: droppedJson(o.dropped),
  };
}

export type SubmissionResult =
  | ({ readonly index: number } & ReturnType<typeof outcomeJson>)
  | { readonly index: number; readonly action: 'rejected'; readonly error: { readonly code: IcsErrorCode; readonly message: string } };

export interface SubmissionAnswer {
  readonly counts: BatchOutcome['counts'];
  readonly results: readonly SubmissionResult[];
}

export function batchJson(batch: BatchOutcome): SubmissionAnswer {
  return {
    counts: { ...batch.counts },
    results: batch.results.map((r): SubmissionResult => {
      if (r.outcome) return { index: r.index, ...outcomeJson(r.outcome) };
      return { index: r.index, action: 'rejected', error: { code: r.error?.code ?? 'INTERNAL', message: r.error?.message ?? 'internal error' } };
    }),
  };
}

/** The plain-text answer of /pks/add: one summary line, then one line per record. */
export function batchText(answer: SubmissionAnswer): string {
  const c = answer.counts;
  const lines = [`inserted ${c.inserted}, updated ${c.updated}, unchanged ${c.unchanged}, rejected ${c.rejected}`];
  for (const r of answer.results) {
    if (r.action === 'rejected') {
      lines.push(`record ${r.index + 1}: rejected: ${r.error.code}: ${r.error.message}`);
      continue;
    }
    const drops = Object.entries(r.dropped.byReason)
      .map(([reason, n]) => `${reason} ${n}`)
      .join(', ');
    lines.push(
      `record ${r.index + 1}: ${r.action} ${r.id.toUpperCase()} (${r.domains.join(', ')}); ${r.signaturesAdded} signature(s) added` +
        (r.dropped.count > 0 ? `; ${r.dropped.count} not kept (${drops})` : ''),
    );
    for (const d of r.dropped.sample) lines.push(`  not kept: ${d.reason} ${d.issuer?.toUpperCase() ?? 'unknown issuer'}: ${d.detail}`);
    if (r.dropped.count > r.dropped.sample.length) lines.push(`  … and ${r.dropped.count - r.dropped.sample.length} more`);
  }
  return `${lines.join('\n')}\n`;
}
