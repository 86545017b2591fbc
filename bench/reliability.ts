// The reliability suite (`npm run bench -- reliability`; BENCH_QUICK=1 for the short form):
// kill -9 during ingest and sync, and fuzzing of every front end. Each part prints its
// figures and checks its goals; unlike the other benchmarks a missed goal here fails the run
// (run.ts exits non-zero), and a full run writes bench/results/reliability.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type BenchContext, type Benchmark, environmentLine, int, mib, pick } from './harness.ts';
import { type Figure, runSeed } from './reliability/common.ts';
import { runFuzz } from './reliability/fuzz.ts';
import { runKill } from './reliability/kill.ts';

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

export const reliabilityBenchmark: Benchmark = {
  name: 'reliability',
  title: 'kill -9 during ingest and sync; fuzzing of HKP, LDAP, sync frames, policy and config files',
  enforce: true,
  async run(ctx) {
    const seed = runSeed();
    ctx.log(environmentLine());
    ctx.log(`seed ${seed} (RELIABILITY_SEED=${seed} reproduces this run)`);
    const figures: Record<string, Figure> = {};
    await kill(ctx, seed, figures);
    await fuzz(ctx, seed, figures);
    if (!ctx.quick) {
      await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
      await writeFile(RESULTS, `${JSON.stringify({ benchmark: 'reliability', date: new Date().toISOString(), environment: environmentLine(), seed, figures }, null, 2)}\n`);
      ctx.log(`figures written to bench/results/reliability.json`);
    }
  },
};
