// Benchmark entry point: `npm run bench [-- <filter>...]`, quick smoke mode with BENCH_QUICK=1.
// Benchmarks run one after another in this process; a filter argument keeps the benchmark of
// that name, or else those whose name contains it. To add one (store, HKP, LDAP, sync…),
// write bench/<name>.ts exporting a `Benchmark` and list it in BENCHMARKS below.
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type BenchContext, type Benchmark, environmentLine, type Figure, type GoalResult, LABEL_WIDTH, sourceCommit } from './harness.ts';
import { consoleBenchmark } from './console.ts';
import { enrolBenchmark } from './enrol.ts';
import { federationBenchmark } from './federation.ts';
import { floodBenchmark } from './flood.ts';
import { hkpBenchmark } from './hkp.ts';
import { ldapBenchmark } from './ldap.ts';
import { recordBenchmark } from './record.ts';
import { reliabilityBenchmark } from './reliability.ts';
import { logBenchmark } from './log.ts';
import { revocationPropagationBenchmark } from './revocation-propagation.ts';
import { revocationBenchmark } from './revocation.ts';
import { storeBenchmark } from './store.ts';
import { scaleBenchmark } from './scale.ts';
import { startBenchmark } from './start.ts';
import { storePostgresBenchmark } from './store-postgres.ts';
import { syncBenchmark } from './sync.ts';

const BENCHMARKS: readonly Benchmark[] = [recordBenchmark, storeBenchmark, storePostgresBenchmark, syncBenchmark, startBenchmark, scaleBenchmark, ldapBenchmark, hkpBenchmark, enrolBenchmark, revocationBenchmark, revocationPropagationBenchmark, logBenchmark, consoleBenchmark, floodBenchmark, reliabilityBenchmark, federationBenchmark];

function usage(): string {
  return [
    'usage: npm run bench [-- <filter>...]      (BENCH_QUICK=1 for a quick smoke run)',
    `benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}`,
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    console.log(usage());
    return 0;
  }
  const filters = argv.filter((a) => !a.startsWith('-'));
  // A filter that names a benchmark exactly selects that one (`store` is not also `store-postgres`).
  const names = new Set(BENCHMARKS.map((b) => b.name));
  const selected = filters.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => filters.some((f) => (names.has(f) ? b.name === f : b.name.includes(f))));
  if (selected.length === 0) {
    console.error(`no benchmark matches ${filters.map((f) => JSON.stringify(f)).join(', ')}\n${usage()}`);
    return 2;
  }
  const quick = /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '');
  const goals: GoalResult[] = [];

  for (const bench of selected) {
    console.log(`\n== ${bench.name}: ${bench.title} ==`);
    const row = (label: string, figures: string) => console.log(`${label.padEnd(LABEL_WIDTH)} ${figures}`);
    const figures: Record<string, Figure> = {};
    const run = { date: new Date().toISOString(), commit: sourceCommit(), environment: environmentLine(), cores: availableParallelism(), loadAverage: loadavg() };
    const facts: Record<string, unknown> = {};
    const ctx: BenchContext = {
      quick,
      log: (line) => console.log(line),
      row,
      goal: (name, met, detail) => {
        goals.push({ bench: bench.name, enforce: bench.enforce === true, name, met, detail });
        row('goal', `${name}: ${met ? 'MET' : 'MISSED'} (${detail})`);
      },
      figure: (name, figure) => {
        figures[name] = figure;
      },
      describe: (more) => Object.assign(facts, more),
    };
    const start = performance.now();
    await bench.run(ctx);
    if (!quick && Object.keys(figures).length > 0) {
      const file = fileURLToPath(new URL(`./results/${bench.name}.json`, import.meta.url));
      writeFileSync(file, `${JSON.stringify({ benchmark: bench.name, runs: { [bench.name]: { ...run, ...facts } }, figures }, null, 2)}\n`);
      console.log(`figures written to bench/results/${bench.name}.json`);
    }
    console.log(`-- ${bench.name} done in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }

  if (goals.length > 0) {
    console.log('\n== goals ==');
    for (const g of goals) console.log(`${`${g.bench}`.padEnd(10)} ${g.met ? 'MET   ' : 'MISSED'} ${g.name} (${g.detail})`);
  }
  // Goals are reported, not enforced (a benchmark run is a measurement, not a test), except
  // those of benchmarks that check invariants (the reliability suite).
  return goals.some((g) => g.enforce && !g.met) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
