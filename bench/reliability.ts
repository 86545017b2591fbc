// The reliability suite (`npm run bench -- reliability`; BENCH_QUICK=1 for the short form):
// kill -9 during ingest and sync, fuzzing of every front end, the leak matrix of private
// domains, a certification flood under lookup load and a soak of the four-role mesh
// (RELIABILITY_SOAK_MINUTES sets its length). Each part prints its figures and checks its
// goals; unlike the other benchmarks a missed goal here fails the run (run.ts exits
// non-zero), and a full run writes bench/results/reliability.json. RELIABILITY_PARTS (e.g.
// `fuzz,soak`) runs only those parts; their figures replace those parts' figures in the file.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type BenchContext, type Benchmark, environmentLine, int, mib, pick, sourceCommit } from './harness.ts';
import { describeSample, type Figure, runSeed } from './reliability/common.ts';
import { runFuzz } from './reliability/fuzz.ts';
import { runKill } from './reliability/kill.ts';
import { leakTable, runLeak } from './reliability/leak.ts';
import { FLOOD_IN_FLIGHT, runFlood } from './reliability/flood.ts';
import { FD_TOLERANCE, runSoak } from './reliability/soak.ts';

/** RSS growth of a fuzzed node allowed: its caches filling, not a leak per input. */
export const FUZZ_RSS_BOUND_BYTES = 256 * 1024 * 1024;

const RESULTS = fileURLToPath(new URL('./results/reliability.json', import.meta.url));

async function kill(ctx: BenchContext, seed: number, figures: Record<string, Figure>): Promise<void> {
  const cycles = pick(ctx, 20, 2);
  const report = await runKill({ cycles, seed, syncBatch: pick(ctx, 500, 300), log: ctx.log });
  const ingestAcked = report.ingest.reduce((n, c) => n + c.acknowledged, 0);
  const lost = report.ingest.reduce((n, c) => n + c.lost, 0) + report.sync.reduce((n, c) => n + c.lost, 0) + report.lostAtEnd;
  ctx.row('kill.ingest', `${cycles} cycles, ${int(ingestAcked)} acknowledged, ${report.ingest.reduce((n, c) => n + c.lost, 0)} lost, ${report.lostAtEnd} missing at the end`);
  ctx.row('kill.sync', `${cycles} cycles, ${report.sync.reduce((n, c) => n + c.lost, 0)} lost, ${report.notConverged} not converged`);
  ctx.row('kill.duplicated', `${report.duplicated}`);
  ctx.goal('kill: 0 acknowledged records lost', lost === 0, `${lost} lost, seed ${seed}`);
  ctx.goal('kill: 0 duplicated', report.duplicated === 0, `${report.duplicated}`);
  ctx.goal('kill: converges after restart', report.notConverged === 0, `${report.notConverged} of ${cycles} sync cycles did not`);
  figures['kill.lost'] = { value: lost, unit: 'records', baseline: null, goal: '= 0', met: lost === 0 };
  figures['kill.duplicated'] = { value: report.duplicated, unit: 'records', baseline: null, goal: '= 0', met: report.duplicated === 0 };
  figures['kill.not_converged'] = { value: report.notConverged, unit: 'cycles', baseline: null, goal: '= 0', met: report.notConverged === 0 };
  figures['kill.acknowledged'] = { value: ingestAcked, unit: 'records', baseline: null, goal: 'info', met: true };
}

async function fuzz(ctx: BenchContext, seed: number, figures: Record<string, Figure>): Promise<void> {
  const inputs = pick(ctx, 1_000_000, 2000);
  const report = await runFuzz({ inputs, socketSample: pick(ctx, 10_000, 100), seed, log: ctx.log });
  let bad = 0;
  for (const f of report.fronts) {
    ctx.row(`fuzz.${f.name}`, `${int(f.inputs)} inputs, ${f.crashes} crashes, ${f.hangs} hangs, ${f.storedFromInvalid} stored from invalid input`);
    for (const file of f.failures) ctx.log(`  failing input: ${file}`);
    bad += f.crashes + f.hangs + f.storedFromInvalid;
    figures[`fuzz.${f.name}.failures`] = { value: f.crashes + f.hangs + f.storedFromInvalid, unit: 'inputs', baseline: null, goal: '= 0', met: f.crashes + f.hangs + f.storedFromInvalid === 0 };
  }
  ctx.row('fuzz.rss growth', `${mib(report.rssGrowth)} (bound ${mib(FUZZ_RSS_BOUND_BYTES)})`);
  ctx.goal('fuzz: 0 crashes, 0 hangs, 0 stored from invalid input', bad === 0, `${bad} failing inputs, seed ${seed}`);
  ctx.goal('fuzz: RSS bounded', report.rssGrowth <= FUZZ_RSS_BOUND_BYTES, mib(report.rssGrowth));
  figures['fuzz.rss_growth'] = { value: report.rssGrowth / (1024 * 1024), unit: 'MiB', baseline: null, goal: `<= ${FUZZ_RSS_BOUND_BYTES / (1024 * 1024)}`, met: report.rssGrowth <= FUZZ_RSS_BOUND_BYTES };
}

async function leak(ctx: BenchContext, seed: number, figures: Record<string, Figure>): Promise<void> {
  const report = await runLeak({ perDomain: pick(ctx, 5, 2), seed, log: ctx.log });
  for (const line of leakTable(report)) ctx.log(line);
  for (const f of report.figureLeaks) ctx.row('leak.figure', `${f.iface} to ${f.caller}: ${f.what}`);
  for (const c of report.underServed) ctx.row('leak.probe', `${c.iface} served ${c.caller} ${c.served} of ${c.planted} ${c.domain} records it may read`);
  ctx.row('leak.records', `${report.recordsLeaked} private records served to callers the policy does not name (${report.cells.length} cells)`);
  ctx.row('leak.figures', `${report.figureLeaks.length} figures about private records (${report.figureChecks} figure answers checked)`);
  ctx.goal('leak: 0 private records to callers the policy does not name', report.recordsLeaked === 0, `${report.recordsLeaked}`);
  ctx.goal('leak: 0 figures about private records to callers the policy does not name', report.figureLeaks.length === 0, report.figureLeaks.map((f) => `${f.iface}/${f.caller}`).join(', ') || '0');
  ctx.goal('leak: every probe serves what the policy allows (the matrix can see a leak)', report.underServed.length === 0, `${report.underServed.length} cells short`);
  figures['leak.records'] = { value: report.recordsLeaked, unit: 'records', baseline: null, goal: '= 0', met: report.recordsLeaked === 0 };
  figures['leak.figures'] = { value: report.figureLeaks.length, unit: 'answers', baseline: null, goal: '= 0', met: report.figureLeaks.length === 0 };
}

/** Lookup p99 during the flood at most this multiple of p99 without (as bench/flood.ts). */
export const FLOOD_P99_RATIO = 2;

async function flood(ctx: BenchContext, seed: number, figures: Record<string, Figure>): Promise<void> {
  const report = await runFlood({
    unknownCertifications: pick(ctx, 100_000, 20_000),
    reusedIssuers: pick(ctx, 1000, 100),
    copiesPerIssuer: pick(ctx, 100, 100),
    devices: pick(ctx, 1000, 50),
    connections: pick(ctx, 16, 8),
    windowSeconds: pick(ctx, 20, 3),
    seed,
    log: ctx.log,
  });
  const fmt = (r: typeof report.quiet) => `${int(r.lookups)} lookups, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(1)} ms, ${r.failedLookups} failed`;
  for (const w of report.whole) ctx.row('flood.whole', `${w.name}: ${mib(w.bytes)} form body → HTTP ${w.status}`);
  const refused = Object.entries(report.chunkRefusals).map(([status, n]) => `${n}× ${status}`).join(', ') || 'none';
  ctx.row('flood.chunks', `${report.chunks} chunks (largest ${mib(report.largestChunkBytes)}), ${report.passes} passes, ${report.submissions} submissions ${FLOOD_IN_FLIGHT} at a time; refused chunks: ${refused}`);
  ctx.row('flood.filtered', `${int(report.certificationsDropped)} of ${int(report.certificationsSent)} certifications sent in chunks reported dropped`);
  ctx.row('flood.forgeries', `${report.forgeriesAccepted} of ${report.forgeries} forged manufacturer certifications accepted`);
  ctx.row('flood.stored', `${report.thirdPartyStored} third-party signatures on the flooded keys, ${report.unauthorisedStored} by untrusted issuers, ${report.foreignStored} not the legitimate ones`);
  ctx.row('flood.lookup quiet', fmt(report.quiet));
  ctx.row('flood.lookup flooded', fmt(report.flooded));
  if (report.overrunSeconds > 0) ctx.row('flood.overrun', `the first pass ended ${report.overrunSeconds.toFixed(1)} s after the lookup window`);
  const ratio = report.flooded.p99 / report.quiet.p99;
  const wholeOk = report.whole.every((w) => w.status === 413);
  const filteredOk = report.certificationsSent > 0 && report.certificationsDropped === report.certificationsSent && Object.keys(report.chunkRefusals).length === 0 && report.forgeriesAccepted === 0;
  const servingOk = report.servingAfter && report.flooded.failedLookups === 0 && report.flooded.lookups > 0;
  ctx.goal('flood: whole floods above the body limit refused 413', wholeOk, report.whole.map((w) => `${w.status}`).join(', '));
  ctx.goal('flood: every certification reaches the filter and is dropped; forgeries refused', filteredOk, `${int(report.certificationsDropped)}/${int(report.certificationsSent)} dropped, ${refused} refused chunks, ${report.forgeriesAccepted} forgeries accepted`);
  ctx.goal('flood: 0 unauthorised certifications stored', report.unauthorisedStored === 0 && report.foreignStored === 0, `${report.unauthorisedStored} by untrusted issuers, ${report.foreignStored} not legitimate, seed ${seed}`);
  ctx.goal('flood: node still serving', servingOk, `${report.flooded.failedLookups} failed lookups during, ${report.servingAfter ? 'answers' : 'does NOT answer'} after`);
  ctx.goal(`flood: lookup p99 during flood ≤ ${FLOOD_P99_RATIO}× p99 without`, ratio <= FLOOD_P99_RATIO, `${ratio.toFixed(2)}×: ${report.flooded.p99.toFixed(2)} ms vs ${report.quiet.p99.toFixed(2)} ms`);
  figures['flood.unauthorised_stored'] = { value: report.unauthorisedStored + report.foreignStored, unit: 'signatures', baseline: null, goal: '= 0', met: report.unauthorisedStored + report.foreignStored === 0 };
  figures['flood.unfiltered'] = { value: report.certificationsSent - report.certificationsDropped, unit: 'certifications', baseline: null, goal: '= 0', met: filteredOk };
  figures['flood.certifications_sent'] = { value: report.certificationsSent, unit: 'certifications', baseline: null, goal: 'info', met: true };
  figures['flood.whole_not_413'] = { value: report.whole.filter((w) => w.status !== 413).length, unit: 'submissions', baseline: null, goal: '= 0', met: wholeOk };
  figures['flood.failed_lookups'] = { value: report.flooded.failedLookups + (report.servingAfter ? 0 : 1), unit: 'lookups', baseline: null, goal: '= 0', met: servingOk };
  figures['flood.lookup_p99_quiet'] = { value: report.quiet.p99, unit: 'ms', baseline: null, goal: 'info', met: true };
  figures['flood.lookup_p99_flooded'] = { value: report.flooded.p99, unit: 'ms', baseline: report.quiet.p99, goal: `<= ${FLOOD_P99_RATIO}x baseline`, met: ratio <= FLOOD_P99_RATIO };
  figures['flood.lookup_p99_ratio'] = { value: ratio, unit: 'x', baseline: null, goal: `<= ${FLOOD_P99_RATIO}`, met: ratio <= FLOOD_P99_RATIO };
}

/** Soak length in minutes: RELIABILITY_SOAK_MINUTES, else 60 (0.5 in quick mode). */
export function soakMinutes(quick: boolean): { minutes: number; from: string } {
  const text = process.env.RELIABILITY_SOAK_MINUTES;
  if (text === undefined || text === '') return { minutes: quick ? 0.5 : 60, from: quick ? 'quick default' : 'default' };
  const minutes = Number(text);
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Error('RELIABILITY_SOAK_MINUTES must be a positive number of minutes');
  return { minutes, from: 'RELIABILITY_SOAK_MINUTES' };
}

/** RSS at the end within this share of the RSS at the mark (the medians of a window at each). */
export const SOAK_RSS_BAND = 0.1;

async function soak(ctx: BenchContext, seed: number, figures: Record<string, Figure>, minutes: number): Promise<void> {
  // The mark (RSS and fds after warm-up) at a third of the soak, at most 10 minutes in.
  // RSS is compared between the medians of two windows (a minute in the hour-long soak), each
  // read once the nodes have been quiet for half a minute: one when the load pauses at the
  // mark, one after it ends (bench/reliability/soak.ts says why).
  const seconds = minutes * 60;
  const report = await runSoak({ seconds, markSeconds: Math.min(600, seconds / 3), windowSeconds: Math.min(60, seconds / 6), settleSeconds: Math.min(30, seconds / 6), seed, log: ctx.log });
  ctx.row('soak.load', `${report.seconds.toFixed(0)} s, ${int(report.requests)} requests, ${report.submitted} devices + services submitted, ${report.statusChanges} status changes, ${report.synced}/${report.submitted} devices synced to maintenance`);
  ctx.row('soak.errors', `${report.errors}${report.errorSamples.length ? ` (${report.errorSamples.slice(0, 3).join('; ')})` : ''}`);
  let rssOk = true;
  let fdOk = true;
  for (const [role, end] of Object.entries(report.end)) {
    const mark = report.mark[role as keyof typeof report.mark];
    const markWindow = report.markWindow[role as keyof typeof report.markWindow];
    const endWindow = report.endWindow[role as keyof typeof report.endWindow];
    const change = endWindow.median / markWindow.median - 1;
    rssOk &&= Math.abs(change) <= SOAK_RSS_BAND;
    fdOk &&= end.fds <= mark.fds + FD_TOLERANCE;
    const range = (w: typeof markWindow) => `${mib(w.median)} (${mib(w.min)}–${mib(w.max)})`;
    ctx.row(
      `soak.${role}`,
      `RSS after a full collection, median (least–most) of ${markWindow.samples} samples over ${report.windowSeconds.toFixed(0)} s after ${report.settleSeconds.toFixed(0)} s without load: ${range(markWindow)} at the mark, ${range(endWindow)} at the end (${(change * 100).toFixed(1)} %); ` +
        `under load, one sample each: ${mib(mark.rss)} → ${mib(end.rss)}; fds ${mark.fds} → ${end.fds}`,
    );
    ctx.row(`soak.${role} memory`, `mark: ${describeSample(mark)}; end: ${describeSample(end)}`);
    figures[`soak.${role}.rss_change`] = { value: change * 100, unit: '%', baseline: null, goal: `within ±${SOAK_RSS_BAND * 100} (median after full collections, at the end vs at the mark)`, met: Math.abs(change) <= SOAK_RSS_BAND };
    figures[`soak.${role}.rss_end_max`] = { value: endWindow.max / 2 ** 20, unit: 'MiB', baseline: markWindow.max / 2 ** 20, goal: 'info (the most RSS in the quiet window at the end; baseline: at the mark)', met: true };
    figures[`soak.${role}.rss_under_load_change`] = { value: (end.rss / mark.rss - 1) * 100, unit: '%', baseline: null, goal: 'info (one sample under load at the mark and at the end)', met: true };
    figures[`soak.${role}.fd_growth`] = { value: end.fds - mark.fds, unit: 'fds', baseline: null, goal: `<= ${FD_TOLERANCE}`, met: end.fds <= mark.fds + FD_TOLERANCE };
  }
  ctx.goal('soak: 0 errors', report.errors === 0, `${report.errors} of ${int(report.requests)}`);
  ctx.goal(`soak: RSS at the end within ±${SOAK_RSS_BAND * 100} % of the mark (medians after full collections)`, rssOk, 'per node above');
  ctx.goal(`soak: no fd growth (tolerance ${FD_TOLERANCE})`, fdOk, 'per node above');
  figures['soak.errors'] = { value: report.errors, unit: 'requests', baseline: null, goal: '= 0', met: report.errors === 0 };
  figures['soak.minutes'] = { value: report.seconds / 60, unit: 'min', baseline: null, goal: `info (asked ${minutes})`, met: true };
}

const PARTS = ['kill', 'fuzz', 'leak', 'flood', 'soak'] as const;
type Part = (typeof PARTS)[number];

/** When and how each part's figures were made: parts may come from separate runs. */
interface PartRun {
  readonly date: string;
  /** The checked-out commit the part ran on, with "+changes" when the work tree differed from it. */
  readonly commit: string;
  readonly seed: number;
  readonly environment: string;
  readonly soakMinutes?: number;
  readonly soakMinutesFrom?: string;
}

interface Results {
  readonly benchmark: 'reliability';
  readonly runs: Record<string, PartRun>;
  readonly figures: Record<string, Figure>;
}

function selectedParts(): Part[] {
  const text = process.env.RELIABILITY_PARTS;
  if (text === undefined || text.trim() === '') return [...PARTS];
  const asked = text.split(',').map((p) => p.trim());
  const unknown = asked.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`RELIABILITY_PARTS: unknown part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`);
  return PARTS.filter((p) => asked.includes(p));
}

/** The file's figures with those of the parts just run replaced (figures are named `<part>.…`). */
async function mergeResults(parts: readonly Part[], runs: Record<string, PartRun>, figures: Record<string, Figure>): Promise<Results> {
  let previous: Partial<Results> = {};
  try {
    previous = JSON.parse(await readFile(RESULTS, 'utf8')) as Partial<Results>;
  } catch {
    // no earlier results
  }
  const kept = Object.entries(previous.figures ?? {}).filter(([name]) => !parts.some((p) => name.startsWith(`${p}.`)));
  return {
    benchmark: 'reliability',
    runs: { ...(previous.runs ?? {}), ...runs },
    figures: Object.fromEntries([...kept, ...Object.entries(figures)].sort(([a], [b]) => a.localeCompare(b))),
  };
}

export const reliabilityBenchmark: Benchmark = {
  name: 'reliability',
  title: 'kill -9 during ingest and sync; fuzzing of HKP, LDAP, sync frames, policy and config files; leak matrix; certification flood; soak',
  enforce: true,
  async run(ctx) {
    const seed = runSeed();
    ctx.log(environmentLine());
    const soakLength = soakMinutes(ctx.quick);
    ctx.log(`seed ${seed} (RELIABILITY_SEED=${seed} reproduces this run)`);
    ctx.log(`soak ${soakLength.minutes} min (${soakLength.from === 'RELIABILITY_SOAK_MINUTES' ? 'from RELIABILITY_SOAK_MINUTES' : `${soakLength.from}; RELIABILITY_SOAK_MINUTES sets it`})`);
    const parts = selectedParts();
    ctx.log(`parts: ${parts.join(', ')}${parts.length < PARTS.length ? ' (RELIABILITY_PARTS)' : ''}`);
    const figures: Record<string, Figure> = {};
    const runs: Record<string, PartRun> = {};
    for (const part of parts) {
      const started = new Date();
      // Taken before the part runs: the figures are of the code it started with, whatever is committed meanwhile.
      const commit = sourceCommit();
      if (part === 'kill') await kill(ctx, seed, figures);
      if (part === 'fuzz') await fuzz(ctx, seed, figures);
      if (part === 'leak') await leak(ctx, seed, figures);
      if (part === 'flood') await flood(ctx, seed, figures);
      if (part === 'soak') await soak(ctx, seed, figures, soakLength.minutes);
      runs[part] = { date: started.toISOString(), commit, seed, environment: environmentLine(), ...(part === 'soak' && { soakMinutes: soakLength.minutes, soakMinutesFrom: soakLength.from }) };
    }
    if (!ctx.quick) {
      await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
      const merged = await mergeResults(parts, runs, figures);
      await writeFile(RESULTS, `${JSON.stringify(merged, null, 2)}\n`);
      ctx.log(`figures written to bench/results/reliability.json`);
    }
  },
};
