// The HTTP host's defaults, and the check of a whole HttpInit. The node passes its config's
// `hkp:` section (validated, defaults filled, by schemas/config.schema.json); tests and benches
// state only what they change.
import { IcsError } from '../errors.ts';
import { AddressSet } from '../net/clients.ts';
import { MAX_BODY_BYTES, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS, REQUEST_TIMEOUT_SECONDS, REQUESTS_PER_MINUTE } from './limits.ts';
import type { HttpInit } from './types.ts';

/** The node's defaults (config.schema.json's), on loopback and an ephemeral port. */
export const DEFAULT_HTTP_INIT: HttpInit = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  maxBodyBytes: MAX_BODY_BYTES,
  requestTimeoutSeconds: REQUEST_TIMEOUT_SECONDS,
  maxConnections: MAX_CONNECTIONS,
  maxConnectionsPerAddress: MAX_CONNECTIONS_PER_ADDRESS,
  requestsPerMinute: REQUESTS_PER_MINUTE,
  exempt: Object.freeze([]),
  allowInsecureAuth: false,
  metrics: 'authenticated',
  listener: 'hkp',
  nodeInfo: Object.freeze({ name: 'ics', role: 'default', version: '0.0.0' }),
});

/** DEFAULT_HTTP_INIT with `changes` applied. */
export function httpInit(changes: Partial<HttpInit> = {}): HttpInit {
  return { ...DEFAULT_HTTP_INIT, ...changes };
}

/** Throws CONFIG_INVALID listing every bad setting at once. */
export function checkHttpInit(init: HttpInit): void {
  const problems: string[] = [];
  if (typeof init.host !== 'string' || init.host.length === 0) problems.push('host must be a non-empty string');
  if (!Number.isInteger(init.port) || init.port < 0 || init.port > 65535) problems.push('port must be an integer 0..65535');
  if (!Number.isInteger(init.maxBodyBytes) || init.maxBodyBytes < 1024) problems.push('maxBodyBytes must be an integer ≥ 1024');
  if (!Number.isInteger(init.requestTimeoutSeconds) || init.requestTimeoutSeconds < 1) problems.push('requestTimeoutSeconds must be an integer ≥ 1');
  if (init.tls && (!init.tls.cert || !init.tls.key)) problems.push('tls needs both cert and key');
  for (const key of ['maxConnections', 'maxConnectionsPerAddress', 'requestsPerMinute'] as const) {
    const value = init[key];
    if (!Number.isInteger(value) || value < 1) problems.push(`${key} must be an integer ≥ 1`);
  }
  new AddressSet(init.exempt); // throws CONFIG_INVALID naming the bad entry
  if (problems.length > 0) throw new IcsError('CONFIG_INVALID', `${init.listener}: ${problems.join('; ')}`, { details: { errors: problems } });
}
