// A sync node in its own process, for the restart test: `child-node.ts <config.json>` opens
// the LevelDB store (fsync on, as a node runs), starts sync, prints `READY <peerId>`, then
// `COUNT <records>` every 50 ms, until it is killed.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { Ingest } from '../../../ics/ingest/index.ts';
import { PolicyEngine, policyFromObject } from '../../../ics/policy/index.ts';
import { type KeyRecord, parseRecord } from '../../../ics/record/index.ts';
import { LevelStore } from '../../../ics/store/level/index.ts';
import { createSyncService, loadOrCreatePeerKey } from '../../../ics/sync/index.ts';

interface ChildConfig {
  readonly path: string;
  readonly keyFile: string;
  readonly policy: object;
  /** Issuer key records (hex). */
  readonly issuers: string[];
}

const config = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as ChildConfig;
const logger = pino({ level: process.env.ICS_TEST_LOG ?? 'silent' });
const store = await LevelStore.open({ path: config.path, syncWrites: true });
const issuers: KeyRecord[] = [];
for (const h of config.issuers) issuers.push((await parseRecord(Buffer.from(h, 'hex'))).record as KeyRecord);
const policy = await PolicyEngine.create(policyFromObject(config.policy, 'child-policy'), issuers);
const ingest = new Ingest({}, { store, policy, logger });
const key = await loadOrCreatePeerKey(config.keyFile);
const service = createSyncService({ privateKey: key.privateKey }, { store, policy: () => policy, ingest, logger });
const started = await service.start();
process.stdout.write(`READY ${started.peerId}\n`);
setInterval(async () => {
  process.stdout.write(`COUNT ${(await store.stats()).records}\n`);
}, 50);
