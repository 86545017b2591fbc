// Wiring of one ICS node: the only place that picks implementations. Opens the data
// directory's config, store, policy (with issuer keys from files and from the store) and
// the ingest path; front ends and CLI operations receive these parts, never the wiring.
import type { KeyObject } from 'node:crypto';
import { isIcsError } from '../errors.ts';
import { type BatchSubmitter, Ingest, type RecordSubmitter } from '../ingest/index.ts';
import { assertNoTestKeys, openPolicy, type PolicyEngine, trustedTestKeys, trustGaps } from '../policy/index.ts';
import { DEFAULT_LIMITS, type Issuer, type KeyRecord, type RecordLimits, reviveRecord } from '../record/index.ts';
import { type LevelStoreInit, openLevelStore } from '../store/level/index.ts';
import { createMemoryStore } from '../store/memory/index.ts';
import { openPostgresStore } from '../store/postgres/index.ts';
import type { RecordReader, RecordStore, StoreHooks } from '../store/types.ts';
import { CheckpointSigner, TransparencyLog, Witness } from '../tlog/index.ts';
import { loadConfig, type NodeConfig } from './config.ts';
import { DataDir } from './datadir.ts';
import { migrateDataDir } from './data-format.ts';
import { pkcs11Settings } from './ca.ts';
import { isTokenReference, openIssuerKey } from './issuer-key.ts';
import { watchIssuerRecords } from './issuers.ts';
import { loadOrCreateLogKey } from './log-key.ts';
import { WitnessFiles } from './witness-files.ts';
import { createLogger, type Logger } from './logger.ts';

export interface OpenNodeOptions {
  /** Overrides the configured log level (the CLI keeps operations quiet). */
  readonly logLevel?: string;
  readonly logger?: Logger;
  /**
   * Published test keys (policy/test-keys.ts) in the policy, at open and on every reload:
   * 'refuse' throws CONFIG_INVALID (a serving node), 'allow' logs a warning (tests and
   * demos). Absent: not checked, for offline CLI operations on the data directory.
   */
  readonly testKeys?: 'refuse' | 'allow';
}

export interface IcsNode {
  readonly dataDir: DataDir;
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly store: RecordStore;
  readonly policy: PolicyEngine;
  readonly ingest: RecordSubmitter & BatchSubmitter;
  readonly limits: RecordLimits;
  /** The node's own issuer key: the file decrypted on first use (ICS_PASSPHRASE or the passphrase file), or its PKCS#11 token key. */
  issuerKey(): Promise<Issuer>;
  /** The transparency log of every domain (appended by the store in each record's batch). */
  readonly log: TransparencyLog;
  /** Signs the logs' checkpoints with the node's log key (keys/log.key, made on first use). */
  checkpointSigner(): Promise<CheckpointSigner>;
  /** The node as a witness of its peers' logs, cosigning with the same key. */
  witness(): Promise<Witness>;
  /** What it witnessed, and the evidence of split views (log/ in the data directory). */
  readonly witnessFiles: WitnessFiles;
  /** Reloads the policy file (and issuer keys) without restarting; on error the old policy stays. */
  reloadPolicy(): Promise<void>;
  /** Resolves once `policy` reflects every trusted issuer key record written to the store so far. */
  issuersSettled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The configured store. A store held by another process (a serving node) is UNAVAILABLE
 * naming that node; the memory and PostgreSQL backends have no data directory lock (several
 * processes, each with its own data directory, share one database), so addresses.json decides
 * there. A PostgreSQL store that cannot be opened (bad URL, unreachable, foreign or newer
 * schema) fails here, before anything else of the node starts.
 */
/** What opening a store may be told besides the hooks every store takes. */
type OpenHooks = StoreHooks & Pick<LevelStoreInit, 'onUpgrade' | 'onBucketIndex' | 'onCatchUp'>;

async function openStore(dir: DataDir, config: NodeConfig, hooks: OpenHooks): Promise<RecordStore> {
  if (config.store.backend === 'memory' || config.store.backend === 'postgres') {
    const serving = await dir.runningNode();
    if (serving) throw dir.inUseError(serving);
    if (config.store.backend === 'memory') return createMemoryStore(hooks);
    const { url, replicaUrl, pool, syncRoleRetryMs } = config.store.postgres;
    return openPostgresStore({ ...hooks, url: url ?? '', replicaUrl, poolSize: pool, syncRoleRetryMs });
  }
  try {
    return await openLevel(dir, config, hooks);
  } catch (error) {
    if (isIcsError(error, 'UNAVAILABLE') && error.details?.locked === true) throw dir.inUseError(await dir.runningNode(), error);
    throw error;
  }
}

async function openLevel(dir: DataDir, config: NodeConfig, hooks: OpenHooks): Promise<RecordStore> {
  const level = config.store.level;
  return openLevelStore({
    ...hooks,
    path: dir.resolve(level.path),
    cacheRecords: level.cacheRecords,
    cacheBytes: level.cacheBytes,
    blockCacheBytes: level.blockCacheBytes,
    writeBufferBytes: level.writeBufferBytes,
    maxOpenFiles: level.maxOpenFiles,
    syncWrites: level.syncWrites,
  });
}

/** Issuer keys the policy names without a key file, looked up in the store. */
async function issuerRecordsFromStore(store: RecordReader, fingerprints: readonly string[]): Promise<KeyRecord[]> {
  const found = await store.getMany(fingerprints);
  const records: KeyRecord[] = [];
  for (const stored of found) {
    if (!stored) continue;
    const record = await reviveRecord(stored.bytes);
    if (record.type === 'key') records.push(record);
  }
  return records;
}

async function loadPolicyFor(
  dir: DataDir,
  config: NodeConfig,
  store: RecordReader,
  logger: Logger,
  testKeys: OpenNodeOptions['testKeys'],
): Promise<PolicyEngine> {
  const path = dir.resolve(config.policy);
  let engine = await openPolicy(path);
  // Before anything else is read: a refused policy must never become the node's policy.
  if (testKeys === 'refuse') assertNoTestKeys(engine.policy);
  if (testKeys === 'allow') {
    const found = trustedTestKeys(engine.policy);
    if (found.length > 0) {
      logger.warn(
        { testKeys: found.map((k) => ({ issuer: k.issuer, fingerprint: k.fingerprint, secretKey: k.secretKey })) },
        'policy trusts published test keys (--allow-test-keys): anyone can sign as these issuers; for tests and demos only',
      );
    }
  }
  // Normal on a fresh node (it trusts only itself), so information rather than a warning.
  for (const gap of trustGaps(engine.policy)) {
    logger.info(
      { domain: gap.domain, role: gap.role, path: gap.path },
      `no trusted issuer may sign as ${gap.role} in domain ${gap.domain}: it stores no records until one is added (ics trust add --key K.asc --roles ${gap.role})`,
    );
  }
  // Every trusted issuer's copy in the store, key file or not: a revocation uploaded there counts.
  const fromStore = await issuerRecordsFromStore(
    store,
    engine.policy.trust.issuers.map((e) => e.fingerprint),
  );
  if (fromStore.length > 0) engine = await engine.withIssuerRecords(fromStore);
  for (const entry of engine.missingIssuerKeys()) {
    logger.warn({ issuer: entry.name, fingerprint: entry.fingerprint }, 'trusted issuer has no key (no key file, not in the store): its signatures are dropped');
  }
  return engine;
}

/**
 * Runs `task` while this process holds the data directory (its store), so that the files a
 * serving node reads (config.yaml, policy.yaml) are never edited under it: UNAVAILABLE,
 * naming the serving node, when one holds it.
 */
/** Brings an ICS data directory to this version's format (nothing for one that is not: loadConfig says why). */
async function migrateIfInitialised(dir: DataDir): Promise<Array<{ from: number; to: number }>> {
  return (await dir.isInitialised()) ? migrateDataDir(dir.root) : [];
}

export async function withDataDirHeld<T>(root: string, task: (dir: DataDir, config: NodeConfig) => Promise<T>): Promise<T> {
  const dir = new DataDir(root);
  await migrateIfInitialised(dir);
  const config = await loadConfig(dir.configFile);
  const store = await openStore(dir, config, {});
  try {
    return await task(dir, config);
  } finally {
    await store.close();
  }
}

export async function openNode(root: string, options: OpenNodeOptions = {}): Promise<IcsNode> {
  const dataDir = new DataDir(root);
  const notices: string[] = [];
  for (const step of await migrateIfInitialised(dataDir)) notices.push(`data directory migrated from format ${step.from} to ${step.to}`);
  const config = await loadConfig(dataDir.configFile, { onNotice: (notice) => notices.push(notice) });
  const logger = options.logger ?? createLogger(options.logLevel ?? config.log.level);
  // Said once the logger exists: the file still loads, but the operator should update it.
  for (const notice of notices) logger.warn(notice);
  const limits: RecordLimits = { ...DEFAULT_LIMITS, ...config.limits };
  // Every accepted record version is appended to its domains' logs in the record's own batch.
  const log = new TransparencyLog();
  const store = await openStore(dataDir, config, {
    derived: [log],
    onUpgrade: (upgrade) => logger.info(upgrade, 'store format upgraded'),
    onCatchUp: (event) => logger.info({ ...event, ms: Math.round(event.ms) }, 'derived structure took in the events written before it'),
    onBucketIndex: (event) =>
      logger.info({ ...event, ms: Math.round(event.ms) }, event.source === 'saved' ? 'sync bucket index loaded as saved at the last stop' : 'sync bucket index built from the sync set'),
  });
  let policy: PolicyEngine;
  try {
    policy = await loadPolicyFor(dataDir, config, store, logger, options.testKeys);
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
  // A trusted issuer's key record written to the store (e.g. its revocation) updates the engine.
  const issuerWatch = watchIssuerRecords(
    store,
    { get: () => policy, set: (engine) => (policy = engine) },
    logger.child({ component: 'issuers' }),
  );
  let issuer: Promise<Issuer> | undefined;
  let logKey: Promise<KeyObject> | undefined;
  const loadLogKey = () => {
    logKey ??= loadOrCreateLogKey(dataDir, config);
    // A failure (a wrong passphrase) is not kept: the next call tries again.
    logKey.catch(() => (logKey = undefined));
    return logKey;
  };
  let signer: Promise<CheckpointSigner> | undefined;
  let witness: Promise<Witness> | undefined;
  const witnessFiles = new WitnessFiles(dataDir);
  return {
    dataDir,
    config,
    logger,
    store,
    log,
    witnessFiles,
    checkpointSigner() {
      signer ??= loadLogKey().then((key) => new CheckpointSigner(log, key, `ics/${config.name}`));
      signer.catch(() => (signer = undefined));
      return signer;
    },
    witness() {
      witness ??= loadLogKey().then((key) => new Witness(witnessFiles, key, `ics/${config.name}`));
      witness.catch(() => (witness = undefined));
      return witness;
    },
    get policy() {
      return policy;
    },
    ingest,
    limits,
    issuerKey() {
      const secretKey = config.issuer.secretKey;
      issuer ??= openIssuerKey(
        { secretKey: isTokenReference(secretKey) ? secretKey : dataDir.resolve(secretKey), publicKey: dataDir.resolve(config.issuer.publicKey) },
        { passphrase: () => dataDir.passphrase(config), pkcs11: pkcs11Settings(dataDir, config) },
      );
      // A token that is away now may be back for the next statement.
      issuer.catch(() => (issuer = undefined));
      return issuer;
    },
    async reloadPolicy() {
      await issuerWatch.serialize(async () => {
        policy = await loadPolicyFor(dataDir, config, store, logger, options.testKeys);
      });
      logger.info({ domains: policy.domainNames() }, 'policy reloaded');
    },
    issuersSettled: () => issuerWatch.settled(),
    async close() {
      issuerWatch.stop();
      await store.close();
    },
  };
}
