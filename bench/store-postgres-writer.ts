// One ICS process of the PostgreSQL store benchmark (store-postgres.ts): opens the store on
// the database it is given, builds the record objects of its share of the corpus before any
// timing, says READY, waits for GO on stdin, writes its share with INFLIGHT writes in flight
// (the store commits them in groups), and says DONE <elapsed ms>.
//   node --import ./bin/ts-loader.mjs bench/store-postgres-writer.ts URL COUNT FIRST END INFLIGHT
import { createInterface } from 'node:readline';
import type { KeyRecord } from '../ics/record/index.ts';
import { PostgresStore } from '../ics/store/postgres/index.ts';
import { corpusWrite, pool } from './harness.ts';
import { corpusChunks, lightRecords, loadCorpus } from './store-corpus.ts';

const CHUNK = 4096;

async function main(): Promise<void> {
  const [url = '', countArg, firstArg, endArg, inFlightArg] = process.argv.slice(2);
  const [count, first, end, inFlight] = [countArg, firstArg, endArg, inFlightArg].map(Number) as [number, number, number, number];
  const corpus = await loadCorpus(count, () => undefined);
  const records: KeyRecord[] = [];
  let index = 0;
  for (const chunk of corpusChunks(corpus, CHUNK, end)) {
    const from = Math.max(first - index, 0);
    if (from < chunk.length) records.push(...lightRecords(corpus, index + from, chunk.slice(from)));
    index += chunk.length;
  }
  const store = await PostgresStore.open({ url });
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  process.stdout.write(`READY ${records.length}\n`);
  await lines.next();
  const start = performance.now();
  await pool(records, inFlight, (record) => store.write(corpusWrite(record)));
  const elapsed = performance.now() - start;
  await store.close();
  process.stdout.write(`DONE ${elapsed.toFixed(1)}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
