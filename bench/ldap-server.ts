// The node's LDAP front end for the LDAP benchmark, in a process of its own (as `ics serve`
// runs it), so that its memory and CPU are the server's alone — not the benchmark's corpus,
// nor its bookkeeping. Started by bench/ldap.ts:
//
//   node --import ./bin/ts-loader.mjs bench/ldap-server.ts <store dir> <base DN>
//
// It opens the LevelDB store (upgrading an older format), serves LDAP on a loopback port and
// prints one JSON line: {"port", "pid", "upgrade"?}. Then it answers lines on stdin: `memory`
// with a JSON line of its memory (RSS, its peak, private and file-backed, V8 heap, external);
// `stop` closes the server and the store and exits.
import { residentMemory } from './harness.ts';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { Ingest } from '../ics/ingest/index.ts';
import { createLdapServer, ldapInit } from '../ics/ldap/index.ts';
import { PolicyEngine, policyFromObject } from '../ics/policy/index.ts';
import type { FormatUpgrade } from '../ics/store/level/format.ts';
import { LevelStore } from '../ics/store/level/index.ts';

/** What the server says of its memory, in bytes. */
export interface ServerMemory {
  readonly rss: number;
  /** The most RSS the process has had (VmHWM). */
  readonly peakRss: number;
  readonly anon: number;
  readonly file: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}

function memory(): ServerMemory {
  const resident = residentMemory() ?? { rss: Number.NaN, peakRss: Number.NaN, anon: Number.NaN, file: Number.NaN };
  const { heapUsed, heapTotal, external } = process.memoryUsage();
  return { ...resident, heapUsed, heapTotal, external };
}

async function main(): Promise<void> {
  const [dir, baseDn] = process.argv.slice(2);
  if (!dir || !baseDn) throw new Error('usage: ldap-server.ts <store dir> <base DN>');
  let upgrade: FormatUpgrade | undefined;
  const store = await LevelStore.open({ path: dir, onUpgrade: (u) => (upgrade = u) });
  const logger = pino({ level: 'warn' });
  const engine = await PolicyEngine.create(policyFromObject({ version: 1, domains: [{ name: 'devices', read: 'public' }] }, 'bench-policy.yaml'));
  const ingest = new Ingest({}, { store, policy: engine, logger });
  const server = createLdapServer(
    // The load generator stands for many clients: its address is exempt from the per-address limits.
    ldapInit({ baseDn, nodeInfo: { name: 'bench', version: 'bench' }, exempt: ['127.0.0.1'] }),
    { store, policy: () => engine, ingest, logger },
  );
  const { port } = await server.start();
  process.stdout.write(`${JSON.stringify({ port, pid: process.pid, upgrade })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'memory') process.stdout.write(`${JSON.stringify(memory())}\n`);
    else if (line === 'stop') break;
  }
  await server.stop();
  await store.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
