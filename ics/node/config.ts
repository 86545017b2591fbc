// Node configuration (config.yaml in the data directory): defaults, the file, validated
// against schemas/config.schema.json with every failing path reported at once, frozen.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import AjvModule from 'ajv';
import { parse as parseYaml } from 'yaml';
import { IcsError } from '../errors.ts';
import type { RecordLimits } from '../record/index.ts';

export type NodeRole = 'manufacturer' | 'developer' | 'maintenance' | 'infield' | 'default';

export interface NodeConfig {
  readonly version: 1;
  readonly name: string;
  readonly role: NodeRole;
  readonly policy: string;
  readonly issuer: { readonly secretKey: string; readonly publicKey: string; readonly passphraseFile: string };
  readonly store: {
    readonly backend: 'level' | 'memory';
    readonly path: string;
    readonly cacheRecords: number;
    readonly blockCacheBytes: number;
    readonly writeBufferBytes: number;
    readonly maxOpenFiles: number;
    readonly syncWrites: boolean;
  };
  readonly listen: { readonly hkp: string; readonly ldap: string; readonly p2p: string };
  readonly limits: Partial<RecordLimits>;
  readonly log: { readonly level: string };
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly auth: {
    readonly users: ReadonlyArray<{ readonly name: string; readonly passwordHash: string; readonly write: boolean; readonly groups?: readonly string[] }>;
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

/** Validates a parsed config object (defaults filled in) or throws CONFIG_INVALID listing every error. */
export function checkConfig(value: unknown, file: string): NodeConfig {
  const copy = structuredClone(value);
  if (!validate(copy)) {
    const errors = (validate.errors ?? []).map((e) => ({ file, path: e.instancePath || '/', message: e.message ?? 'invalid' }));
    throw new IcsError('CONFIG_INVALID', errors.map((e) => `${e.file}: ${e.path}: ${e.message}`).join('\n'), { details: { errors } });
  }
  return deepFreeze(copy);
}

export async function loadConfig(file: string): Promise<NodeConfig> {
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
  return checkConfig(value, file);
}
