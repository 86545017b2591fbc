// Wiring of one ICS node: the only place that picks implementations. Opens the data
// directory's config, store, policy (with issuer keys from files and from the store) and
// the ingest path; front ends and CLI operations receive these parts, never the wiring.
import { readFile } from 'node:fs/promises';
import type * as openpgp from 'openpgp';
import { IcsError } from '../errors.ts';
import { Ingest } from '../ingest/ingest.ts';
import { openPolicy, type PolicyEngine } from '../policy/index.ts';
import { DEFAULT_LIMITS, type KeyRecord, readPrivateKey, type RecordLimits, reviveRecord } from '../record/index.ts';
import { openLevelStore } from '../store/level/index.ts';
import { createMemoryStore } from '../store/memory/index.ts';
import type { RecordStore } from '../store/types.ts';
import { loadConfig, type NodeConfig } from './config.ts';
import { DataDir } from './datadir.ts';
import { createLogger, type Logger } from './logger.ts';

export interface OpenNodeOptions {
  /** Overrides the configured log level (the CLI keeps operations quiet). */
  readonly logLevel?: string;
  readonly logger?: Logger;
}

export interface IcsNode {
  readonly dataDir: DataDir;
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly store: RecordStore;
  readonly policy: PolicyEngine;
  readonly ingest: Ingest;
  readonly limits: RecordLimits;
  /** The node's own issuer key, decrypted on first use (ICS_PASSPHRASE or the passphrase file). */
  issuerKey(): Promise<openpgp.PrivateKey>;
  /** Reloads the policy file (and issuer keys) without restarting. */
  reloadPolicy(): Promise<void>;
  close(): Promise<void>;
}

async function openStore(dir: DataDir, config: NodeConfig): Promise<RecordStore> {
  if (config.store.backend === 'memory') return createMemoryStore();
  return openLevelStore({
    path: dir.resolve(config.store.path),
    cacheRecords: config.store.cacheRecords,
    blockCacheBytes: config.store.blockCacheBytes,
    writeBufferBytes: config.store.writeBufferBytes,
    maxOpenFiles: config.store.maxOpenFiles,
    syncWrites: config.store.syncWrites,
  });
}

/** Issuer keys the policy names without a key file, looked up in the store. */
async function issuerRecordsFromStore(store: RecordStore, fingerprints: readonly string[]): Promise<KeyRecord[]> {
  const found = await store.getMany(fingerprints);
  const records: KeyRecord[] = [];
  for (const stored of found) {
    if (!stored) continue;
    const record = await reviveRecord(stored.bytes);
    if (record.type === 'key') records.push(record);
  }
  return records;
}

async function loadPolicyFor(dir: DataDir, config: NodeConfig, store: RecordStore, logger: Logger): Promise<PolicyEngine> {
  const path = dir.resolve(config.policy);
  let engine = await openPolicy(path);
  const missing = engine.missingIssuerKeys().map((e) => e.fingerprint);
  if (missing.length > 0) {
    engine = await openPolicy(path, await issuerRecordsFromStore(store, missing));
    for (const entry of engine.missingIssuerKeys()) {
      logger.warn({ issuer: entry.name, fingerprint: entry.fingerprint }, 'trusted issuer has no key (no key file, not in the store): its signatures are dropped');
    }
  }
  return engine;
}

export async function openNode(root: string, options: OpenNodeOptions = {}): Promise<IcsNode> {
  const dataDir = new DataDir(root);
  const config = await loadConfig(dataDir.configFile);
  const logger = options.logger ?? createLogger(options.logLevel ?? config.log.level);
  const limits: RecordLimits = { ...DEFAULT_LIMITS, ...config.limits };
  const store = await openStore(dataDir, config);
  let policy: PolicyEngine;
  try {
    policy = await loadPolicyFor(dataDir, config, store, logger);
  } catch (error) {
    await store.close();
    throw error;
  }
  // Ingest reads the current engine on every call, so a policy reload takes effect at once.
  const policyView = {
    issuerRing: () => policy.issuerRing(),
    admit: (record: Parameters<PolicyEngine['admit']>[0]) => policy.admit(record),
    issuerName: (fingerprint: string) => policy.issuerName(fingerprint),
  };
  const ingest = new Ingest({ limits }, { store, policy: policyView, logger: logger.child({ component: 'ingest' }) });
  let issuer: Promise<openpgp.PrivateKey> | undefined;
  return {
    dataDir,
    config,
    logger,
    store,
    get policy() {
      return policy;
    },
    ingest,
    limits,
    issuerKey() {
      issuer ??= (async () => {
        const armored = await readFile(dataDir.resolve(config.issuer.secretKey), 'utf8').catch((cause) => {
          throw new IcsError('KEY_UNUSABLE', 'the node issuer key file cannot be read', { cause });
        });
        return readPrivateKey(armored, await dataDir.passphrase(config));
      })();
      return issuer;
    },
    async reloadPolicy() {
      policy = await loadPolicyFor(dataDir, config, store, logger);
      logger.info({ domains: policy.domainNames() }, 'policy reloaded');
    },
    async close() {
      await store.close();
    },
  };
}
