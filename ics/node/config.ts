// Node configuration (config.yaml in the data directory): defaults, the file, validated
// against schemas/config.schema.json with every failing path reported at once, frozen. A file
// in an older shape is read in the current one, with a notice for the operator.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import AjvModule from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { AdminRole } from '../auth/index.ts';
import { IcsError } from '../errors.ts';
import type { RecordLimits } from '../record/index.ts';
import type { ResolvedLevelOptions } from '../store/level/index.ts';

export type NodeRole = 'manufacturer' | 'developer' | 'maintenance' | 'infield' | 'default';

/** A local user (`ics user add`): password hash, write right, groups, admin role and tenant. */
export interface UserConfig {
  readonly name: string;
  readonly passwordHash: string;
  readonly write: boolean;
  readonly groups?: readonly string[];
  readonly role?: AdminRole;
  readonly domains?: readonly string[];
  readonly tokens?: ReadonlyArray<{ readonly label: string; readonly sha256: string; readonly created?: string }>;
}

export interface NodeConfig {
  readonly version: 1;
  readonly name: string;
  readonly role: NodeRole;
  readonly policy: string;
  readonly issuer: { readonly secretKey: string; readonly publicKey: string; readonly passphraseFile: string };
  readonly store: StoreConfig;
  /** `est` absent: no EST listener. */
  readonly listen: { readonly hkp: string; readonly ldap: string; readonly p2p: string; readonly est?: string };
  readonly limits: Partial<RecordLimits>;
  readonly log: { readonly level: string };
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly auth: {
    readonly users: ReadonlyArray<UserConfig>;
  };
  readonly hkp: {
    readonly maxBodyBytes: number;
    readonly requestTimeoutSeconds: number;
    readonly resultLimit: number;
    readonly writesRequireAuth: boolean;
    readonly allowInsecureAuth: boolean;
    readonly metrics: 'authenticated' | 'public';
    readonly maxConnections: number;
    readonly maxConnectionsPerAddress: number;
    readonly requestsPerMinute: number;
  };
  readonly ldap: {
    readonly baseDn: string;
    readonly allowInsecureBind: boolean;
    readonly sizeLimit: number;
    readonly timeLimitSeconds: number;
    readonly idleTimeoutSeconds: number;
    readonly boundIdleTimeoutSeconds: number;
    readonly maxConnections: number;
    readonly maxConnectionsPerAddress: number;
    readonly requestsPerSecond: number;
    readonly maxCandidates: number;
  };
  /** The EST listener (listen.est): its TLS files (absent: a certificate from the node's CA at start) and limits. */
  readonly est: {
    readonly tls?: { readonly cert: string; readonly key: string };
    readonly requestTimeoutSeconds: number;
    readonly maxConnections: number;
    readonly maxConnectionsPerAddress: number;
    readonly requestsPerMinute: number;
    /** Base URL of this node's /pki/ (CRL, OCSP) for relying parties, written into issued certificates. */
    readonly statusUrl?: string;
  };
  /** A PKCS#11 token holding signing keys (enrol/pkcs11.ts): its module and PIN source; absent: keys are files. */
  readonly pkcs11?: { readonly module: string; readonly pinFile?: string; readonly pinEnv?: string };
  /** An MQTT broker the node signals and controls after revocations (ics broker init); absent: none. */
  readonly broker?: {
    readonly pidFile?: string;
    readonly reloadDelayMs: number;
    readonly control?: { readonly url: string; readonly username: string; readonly passwordFile: string; readonly timeoutMs: number };
  };
  readonly sync: {
    readonly keyFile: string;
    readonly maxMessageBytes: number;
    readonly batchSize: number;
    readonly announce: boolean;
    readonly maxConnections: number;
    readonly maxConnectionsPerAddress: number;
  };
  /** Addresses exempt from every listener's per-address limits. */
  readonly clientLimits: { readonly exempt: readonly string[] };
}

/** The store section: which backend, and each backend's own settings (only the chosen one's are read). */
export interface StoreConfig {
  readonly backend: 'level' | 'memory' | 'postgres';
  readonly level: LevelStoreConfig;
  /** The in-memory store has no settings. */
  readonly memory: Readonly<Record<string, never>>;
  readonly postgres: PostgresStoreConfig;
}

/** PostgreSQL settings (the schema requires `url` when the backend is postgres). Meaning: PostgresStoreInit. */
export interface PostgresStoreConfig {
  readonly url?: string;
  readonly replicaUrl?: string;
  readonly pool: number;
  readonly syncRoleRetryMs: number;
}

/**
 * LevelDB settings, every one given (the schema fills defaults) but maxOpenFiles, which the
 * store sizes at open when unset: the store's own resolved
 * options, with `path` relative to the data directory. Meaning and limits: LevelStoreInit.
 */
export type LevelStoreConfig = ResolvedLevelOptions;

export interface ConfigLoadOptions {
  /** Told what was read from an older shape of the file, and where it belongs now. */
  readonly onNotice?: (message: string) => void;
}

const require = createRequire(import.meta.url);
const Ajv = AjvModule as unknown as typeof AjvModule.default;
const validate = new Ajv({ allErrors: true, strict: true, useDefaults: true }).compile<NodeConfig>(
  require('../../schemas/config.schema.json') as object,
);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

interface ConfigError {
  readonly file: string;
  readonly path: string;
  readonly message: string;
}

/** LevelDB settings that sat directly under `store` before each backend had its own section. */
const FLAT_LEVEL_SETTINGS = ['path', 'cacheRecords', 'blockCacheBytes', 'writeBufferBytes', 'maxOpenFiles', 'syncWrites'] as const;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads an older shape of `config` (in place) as the current one: LevelDB settings directly
 * under `store` move to `store.level`, so that existing files keep loading. A setting given in
 * both places is an error: which one was meant cannot be known.
 */
function upgradeConfig(config: unknown, file: string): { notices: string[]; errors: ConfigError[] } {
  const notices: string[] = [];
  const errors: ConfigError[] = [];
  const store = isObject(config) ? config.store : undefined;
  if (!isObject(store)) return { notices, errors };
  for (const name of FLAT_LEVEL_SETTINGS) {
    if (!(name in store)) continue;
    if (store.level === undefined) store.level = {};
    const level = store.level;
    if (!isObject(level)) break; // the schema reports the malformed section
    if (name in level) {
      errors.push({ file, path: `/store/${name}`, message: `set here and as /store/level/${name}: keep the one under store.level` });
    } else {
      level[name] = store[name];
      notices.push(`${file}: /store/${name} is read as /store/level/${name} (each store backend now has its own section): move it there`);
    }
    delete store[name];
  }
  return { notices, errors };
}

function invalid(errors: readonly ConfigError[]): IcsError {
  return new IcsError('CONFIG_INVALID', errors.map((e) => `${e.file}: ${e.path}: ${e.message}`).join('\n'), { details: { errors } });
}

/**
 * Validates a parsed config object (defaults filled in) or throws CONFIG_INVALID listing every
 * error. An older shape is read as the current one first, each move noticed.
 */
export function checkConfig(value: unknown, file: string, options: ConfigLoadOptions = {}): NodeConfig {
  const copy = structuredClone(value);
  const upgrade = upgradeConfig(copy, file);
  if (!validate(copy) || upgrade.errors.length > 0) {
    // An `if` that failed its `then` says nothing the `then`'s own errors do not.
    const errors = [...upgrade.errors, ...(validate.errors ?? []).filter((e) => e.keyword !== 'if').map((e) => ({ file, path: e.instancePath || '/', message: e.message ?? 'invalid' }))];
    throw invalid(errors);
  }
  for (const notice of upgrade.notices) options.onNotice?.(notice);
  return deepFreeze(copy);
}

export async function loadConfig(file: string, options: ConfigLoadOptions = {}): Promise<NodeConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new IcsError('CONFIG_INVALID', `${file}: cannot be read (is this an initialised data directory?)`, { cause });
  }
  let value: unknown;
  try {
    value = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (cause) {
    throw new IcsError('CONFIG_INVALID', `${file}: ${(cause as Error).message}`, {
      cause,
      details: { errors: [{ file, path: '/', message: (cause as Error).message }] },
    });
  }
  return checkConfig(value, file, options);
}
