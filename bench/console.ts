// Console benchmark (`npm run bench -- console`): the web console's record page and search
// page served per second, with p50/p99, beside `/ics/v1/records/{id}` (the JSON API's answer
// for the same records) in the same run, rounds alternating — on a node holding N device
// records (the store benchmark's corpus, 1,000,000; 20,000 in quick mode) in LevelDB, as a
// signed-in operator (session cookie), 16 connections from a load generator in its own thread.
// Goals (issue "The administrator's console"): each page ≥ 0.5× the JSON answer, p99 < 50 ms.
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { adminPlugin } from '../ics/admin/index.ts';
import { apiPlugin } from '../ics/api/index.ts';
import { createAuthenticator, hashPassword } from '../ics/auth/index.ts';
import { consolePlugin } from '../ics/console/plugin.ts';
import { createHttpServer, httpInit } from '../ics/http/index.ts';
import { createMetrics } from '../ics/node/index.ts';
import { corpusSeeds } from './corpus-policy.ts';
import { type BenchContext, type Benchmark, environmentLine, type Figure, int, pick } from './harness.ts';
import { corpusNode, ensureStore, fmt, load, type LoadResult } from './hkp.ts';
import { loadCorpus } from './store-corpus.ts';
import { deviceUserId } from './store-corpus-shared.ts';

const GOAL_SHARE = 0.5;
const GOAL_P99_MS = 50;
const FINGERPRINT_BYTES = 20;
const PASSWORD = 'bench password, long enough';

interface Settings {
  records: number;
  connections: number;
  durationSec: number;
  rounds: number;
  paths: number;
}

const FULL: Settings = { records: 1_000_000, connections: 16, durationSec: 10, rounds: 3, paths: 20_000 };
const QUICK: Settings = { records: 20_000, connections: 16, durationSec: 2, rounds: 1, paths: 2_000 };

const median = (results: readonly LoadResult[]): LoadResult => [...results].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(results.length / 2)] as LoadResult;

async function run(ctx: BenchContext): Promise<void> {
  const s = pick(ctx, FULL, QUICK);
  ctx.row('env', `${environmentLine()}${ctx.quick ? ', QUICK mode (figures are a smoke check only)' : ''}`);
  ctx.row('load average', `${loadavg().map((l) => l.toFixed(2)).join(' ')} (1, 5, 15 min) before the run`);
  const corpus = await loadCorpus(s.records, ctx.log);
  const seeds = corpusSeeds(corpus.file);
  const pristine = await ensureStore(ctx, corpus);
  const { root, store, engine, logger, ingest } = await corpusNode(pristine.dir, seeds, 'console');
  const admin = { issuerKey: () => Promise.reject(new Error('the benchmark signs nothing')), reloadPolicy: async () => undefined };
  const server = createHttpServer(
    httpInit({ nodeInfo: { name: 'bench', role: 'manufacturer', version: 'bench' }, exempt: ['127.0.0.1'], allowInsecureAuth: true }),
    {
      store,
      policy: () => engine,
      ingest,
      logger,
      metrics: createMetrics(),
      authenticator: createAuthenticator([{ name: 'operator', passwordHash: await hashPassword(PASSWORD), write: true }]),
    },
    [apiPlugin(), adminPlugin(admin), consolePlugin({ ...admin, node: { name: 'bench', role: 'manufacturer' } })],
  );
  const { url } = await server.start();
  try {
    const login = await fetch(`${url}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user: 'operator', password: PASSWORD }).toString(),
      redirect: 'manual',
    });
    const cookie = login.headers.get('set-cookie')?.split(';')[0];
    if (login.status !== 303 || !cookie) throw new Error(`console login failed: HTTP ${login.status}`);
    const headers = { cookie };

    const idHex = (i: number) => corpus.ids.toString('hex', i * FINGERPRINT_BYTES, (i + 1) * FINGERPRINT_BYTES);
    const picks = Array.from({ length: s.paths }, () => Math.floor(Math.random() * corpus.count));
    const apiPaths = picks.map((i) => `/ics/v1/records/${idHex(i)}`);
    const recordPaths = picks.map((i) => `/console/records/${idHex(i)}`);
    const searchPaths = picks.map((i) => `/console/search?q=${encodeURIComponent(deviceUserId(i))}`);

    // Sanity before anything is timed: each page shows the record asked for.
    const sample = picks[0] as number;
    const page = await fetch(`${url}${recordPaths[0]}`, { headers });
    const html = await page.text();
    if (page.status !== 200 || !html.includes(idHex(sample)) || !html.includes('id="verdict">trusted<')) throw new Error(`the record page did not show ${idHex(sample)} trusted`);
    const found = await (await fetch(`${url}${searchPaths[0]}`, { headers })).text();
    if (!found.includes(`/console/records/${idHex(sample)}`)) throw new Error('the search page did not find the record by its URN');
    ctx.row(
      'node',
      `${int(corpus.count)} device records in LevelDB (${pristine.built ? 'built now' : 'from the cache'}); signed in as an operator; record page ${int(html.length)} bytes; ${s.connections} connections`,
    );

    const rounds: { api: LoadResult[]; record: LoadResult[]; search: LoadResult[] } = { api: [], record: [], search: [] };
    const duration = s.durationSec;
    for (let r = 0; r < s.rounds; r++) {
      rounds.api.push(await load({ url, connections: s.connections, duration, paths: apiPaths, headers }));
      rounds.record.push(await load({ url, connections: s.connections, duration, paths: recordPaths, headers }));
      rounds.search.push(await load({ url, connections: s.connections, duration, paths: searchPaths, headers }));
    }
    const [api, record, search] = [median(rounds.api), median(rounds.record), median(rounds.search)];
    ctx.row('/ics/v1/records/{id}', `${fmt(api)}  (the baseline: the JSON answer for the same records)`);
    ctx.row('console record page', `${fmt(record)}  (${((record.perSecond / api.perSecond) * 100).toFixed(0)}% of the baseline)`);
    ctx.row('console search by URN', `${fmt(search)}  (${((search.perSecond / api.perSecond) * 100).toFixed(0)}% of the baseline)`);
    const failed = [api, record, search].reduce((n, x) => n + x.non2xx + x.errors + x.timeouts, 0);
    const recordShare = record.perSecond / api.perSecond;
    const searchShare = search.perSecond / api.perSecond;
    ctx.goal(`record page ≥ ${GOAL_SHARE}× /ics/v1/records/{id}`, recordShare >= GOAL_SHARE, `${recordShare.toFixed(2)}×`);
    ctx.goal(`search page ≥ ${GOAL_SHARE}× /ics/v1/records/{id}`, searchShare >= GOAL_SHARE, `${searchShare.toFixed(2)}×`);
    ctx.goal(`record page p99 < ${GOAL_P99_MS} ms`, record.p99 < GOAL_P99_MS, `${record.p99.toFixed(1)} ms`);
    ctx.goal(`search page p99 < ${GOAL_P99_MS} ms`, search.p99 < GOAL_P99_MS, `${search.p99.toFixed(1)} ms`);
    ctx.goal('every request answered 200', failed === 0, `${failed} failed`);
    const figures: Record<string, Figure> = {
      'api.record.per_second': { value: api.perSecond, unit: 'req/s', baseline: null, goal: 'info', met: true },
      'api.record.p99': { value: api.p99, unit: 'ms', baseline: null, goal: 'info', met: true },
      'console.record.per_second': { value: record.perSecond, unit: 'req/s', baseline: api.perSecond, goal: `>= ${GOAL_SHARE}x baseline`, met: recordShare >= GOAL_SHARE },
      'console.record.p99': { value: record.p99, unit: 'ms', baseline: api.p99, goal: `< ${GOAL_P99_MS}`, met: record.p99 < GOAL_P99_MS },
      'console.search.per_second': { value: search.perSecond, unit: 'req/s', baseline: api.perSecond, goal: `>= ${GOAL_SHARE}x baseline`, met: searchShare >= GOAL_SHARE },
      'console.search.p99': { value: search.p99, unit: 'ms', baseline: api.p99, goal: `< ${GOAL_P99_MS}`, met: search.p99 < GOAL_P99_MS },
      'failed': { value: failed, unit: 'requests', baseline: null, goal: '= 0', met: failed === 0 },
    };
    for (const [name, figure] of Object.entries(figures)) ctx.figure(name, figure);
    ctx.describe({ records: corpus.count, connections: s.connections, durationSec: s.durationSec, rounds: s.rounds });
  } finally {
    await server.stop();
    await store.close();
    rmSync(root, { recursive: true, force: true });
  }
}

export const consoleBenchmark: Benchmark = {
  name: 'console',
  title: 'web console: record and search pages vs /ics/v1/records/{id}',
  run,
};
