// The LDAP front end as a component (STYLE "Components"): `createLdapServer(init, components)`
// returns a server with start() / stop(). It listens on 127.0.0.1 unless told otherwise, in
// LDAPS when given a certificate (or plain with StartTLS, when asked), and serves the
// directory of directory.ts from the store, under the current policy.
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { IcsError } from '../errors.ts';
import type { RecordSubmitter } from '../ingest/index.ts';
import type { Authenticator } from '../auth/index.ts';
import type { PolicyEngine, PolicyVerdictCache } from '../policy/index.ts';
import { DEFAULT_LIMITS } from '../record/index.ts';
import type { CacheFigures } from '../store/index.ts';
import { Directory, type DirectoryStore } from './directory.ts';
import { DecodeError } from './ldapjs.ts';
import { AddressRateLimiter, AddressSet, ClientMetrics, ConnectionGuard, FailureLimiter, ThrottledWarning } from '../net/clients.ts';
import {
  BIND_FAILURE_WINDOW_MS,
  BIND_FAILURES_PER_WINDOW,
  BOUND_IDLE_TIMEOUT_MS,
  BURST_SECONDS,
  IDLE_TIMEOUT_MS,
  MAX_SESSIONS,
  MAX_SESSIONS_PER_ADDRESS,
  REQUESTS_PER_SECOND,
  TLS_HANDSHAKE_TIMEOUT_MS,
} from './limits.ts';
import { ResultCode } from './protocol.ts';
import { Session } from './session.ts';
import type { NodeInfo } from './views.ts';

export interface LdapTls {
  /** PEM certificate (chain) and private key. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /**
   * `ldaps` (default): TLS from the first byte. `starttls`: a plain listener offering the
   * StartTLS extended operation (RFC 4511 §4.14).
   */
  readonly mode?: 'ldaps' | 'starttls';
}

export interface LdapInit {
  /** Address to listen on; 127.0.0.1 when absent. */
  readonly host?: string;
  /** Port; 0 picks an ephemeral one (tests). */
  readonly port: number;
  /** The naming context, e.g. `dc=ics,dc=example`. */
  readonly baseDn: string;
  readonly tls?: LdapTls;
  /** Accept simple binds with a password without TLS (only sensible on loopback). */
  readonly allowInsecureBind: boolean;
  /** Most entries one search (or one page) returns, and most records one request examines. */
  readonly sizeLimit: number;
  /** Longest a search runs. */
  readonly timeLimitSeconds: number;
  /** Ids one index term of a search yields (the candidate cap); default MAX_LOOKUP_IDS. */
  readonly maxCandidates?: number;
  readonly nodeInfo: NodeInfo;
  /** Largest pgpKey accepted in a write; the record model's armored limit by default. */
  readonly maxKeyBytes?: number;
  /** An anonymous session idle this long is closed; default IDLE_TIMEOUT_MS (limits.ts). */
  readonly idleTimeoutSeconds?: number;
  /** A bound session idle this long is closed; default BOUND_IDLE_TIMEOUT_MS. */
  readonly boundIdleTimeoutSeconds?: number;
  /** Sessions open at once in all; default MAX_SESSIONS. */
  readonly maxConnections?: number;
  /** Sessions open at once from one client address; default MAX_SESSIONS_PER_ADDRESS. */
  readonly maxConnectionsPerAddress?: number;
  /** Operations per second from one client address (bursts of BURST_SECONDS' worth), beyond: busy (51); default REQUESTS_PER_SECOND. */
  readonly requestsPerSecond?: number;
  /** Client addresses and CIDR blocks exempt from the per-address limits. */
  readonly exempt?: readonly string[];
  /** The window failed binds per address are counted in (BIND_FAILURES_PER_WINDOW); default BIND_FAILURE_WINDOW_MS. */
  readonly bindFailureWindowSeconds?: number;
}

export interface LdapComponents {
  readonly store: DirectoryStore;
  /** A getter: the node may reload its policy at any time. */
  readonly policy: () => PolicyEngine;
  readonly ingest: RecordSubmitter;
  readonly logger: Logger;
  /** Checks simple binds; without it every bind with a password fails (invalidCredentials). */
  readonly authenticator?: Authenticator;
  /** The node's one verdict cache, shared with the JSON API; a cache of its own when absent. */
  readonly verdicts?: PolicyVerdictCache;
  /** The node's metrics registry: refused connections, rate-limited operations and failed binds are counted in it. */
  readonly metrics?: { readonly registry: Registry };
}

export interface LdapAddress {
  readonly url: string;
  readonly host: string;
  readonly port: number;
}

export interface LdapServer {
  start(): Promise<LdapAddress>;
  /** Its entry caches by name, for /metrics. */
  caches(): Record<string, CacheFigures>;
  stop(): Promise<void>;
}

/** Time stop() gives sessions to take their Notice of Disconnection before sockets are destroyed. */
const STOP_GRACE_MS = 500;

export function createLdapServer(init: LdapInit, components: LdapComponents): LdapServer {
  const logger = components.logger;
  let directory: Directory;
  const tlsMode = init.tls ? (init.tls.mode ?? 'ldaps') : undefined;
  let context: SecureContext | undefined;
  try {
    directory = new Directory(
      { baseDn: init.baseDn, nodeInfo: init.nodeInfo, startTls: tlsMode === 'starttls' },
      { store: components.store, policy: components.policy, logger, ...(components.verdicts && { verdicts: components.verdicts }) },
    );
    if (init.tls) context = createSecureContext({ cert: init.tls.cert, key: init.tls.key });
  } catch (cause) {
    if (cause instanceof DecodeError) throw new IcsError('CONFIG_INVALID', `ldap.baseDn: ${cause.message}`, { cause });
    throw new IcsError('CONFIG_INVALID', 'the LDAP TLS certificate or key cannot be used', { cause });
  }
  if (!(init.sizeLimit >= 1) || !(init.timeLimitSeconds >= 1)) throw new IcsError('CONFIG_INVALID', 'ldap.sizeLimit and ldap.timeLimitSeconds must be at least 1');
  for (const key of ['idleTimeoutSeconds', 'boundIdleTimeoutSeconds', 'maxConnections', 'maxConnectionsPerAddress', 'requestsPerSecond', 'maxCandidates', 'bindFailureWindowSeconds'] as const) {
    const value = init[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new IcsError('CONFIG_INVALID', `ldap.${key} must be an integer ≥ 1`);
  }
  const exempt = new AddressSet(init.exempt);
  const clientMetrics = components.metrics ? ClientMetrics.of(components.metrics.registry) : undefined;
  const rate = init.requestsPerSecond ?? REQUESTS_PER_SECOND;
  const guard = new ConnectionGuard(
    'ldap',
    { maxConnections: init.maxConnections ?? MAX_SESSIONS, maxConnectionsPerAddress: init.maxConnectionsPerAddress ?? MAX_SESSIONS_PER_ADDRESS, exempt },
    clientMetrics,
    logger,
  );

  const sessions = new Set<Session>();
  const sessionContext = {
    directory,
    ingest: components.ingest,
    authenticator: components.authenticator,
    logger,
    limits: { sizeLimit: init.sizeLimit, timeLimitSeconds: init.timeLimitSeconds, ...(init.maxCandidates !== undefined && { maxCandidates: init.maxCandidates }) },
    allowInsecureBind: init.allowInsecureBind,
    startTls: tlsMode === 'starttls' ? context : undefined,
    maxKeyBytes: init.maxKeyBytes ?? DEFAULT_LIMITS.maxArmoredBytes,
    idleTimeoutMs: {
      anonymous: (init.idleTimeoutSeconds ?? IDLE_TIMEOUT_MS / 1000) * 1000,
      bound: (init.boundIdleTimeoutSeconds ?? BOUND_IDLE_TIMEOUT_MS / 1000) * 1000,
    },
    rate: {
      limiter: new AddressRateLimiter(rate, BURST_SECONDS * rate, exempt),
      perSecond: rate,
      refused: () => clientMetrics?.limited.inc({ listener: 'ldap' }),
      log: new ThrottledWarning(logger, 'request refused: rate limit exceeded'),
    },
    bindFailures: {
      limiter: new FailureLimiter(BIND_FAILURES_PER_WINDOW, (init.bindFailureWindowSeconds ?? BIND_FAILURE_WINDOW_MS / 1000) * 1000, exempt),
      max: BIND_FAILURES_PER_WINDOW,
      window: `${init.bindFailureWindowSeconds ?? BIND_FAILURE_WINDOW_MS / 1000} s`,
      failed: () => clientMetrics?.authFailures.inc({ listener: 'ldap' }),
      throttled: () => clientMetrics?.authThrottled.inc({ listener: 'ldap' }),
      log: new ThrottledWarning(logger, 'request refused: too many failed authentications'),
    },
  };
  const open = (socket: Socket, secure: boolean) => {
    const session = new Session(socket, secure, sessionContext, () => sessions.delete(session));
    sessions.add(session);
  };

  let server: NetServer | undefined;

  return {
    caches: () => directory.caches(),
    async start() {
      if (server) throw new IcsError('UNAVAILABLE', 'the LDAP server is already started');
      // The guard sees each TCP connection first (before a TLS handshake) and closes those over the caps.
      const s =
        tlsMode === 'ldaps'
          ? createTlsServer({ cert: init.tls?.cert, key: init.tls?.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (socket) => open(socket, true))
          : createNetServer();
      guard.attach(s);
      if (tlsMode !== 'ldaps') s.on('connection', (socket: Socket) => socket.destroyed || open(socket, false));
      s.on('tlsClientError', (error: Error) => logger.debug({ err: error }, 'TLS handshake failed'));
      s.on('error', (error) => logger.error({ err: error }, 'LDAP listener error'));
      const host = init.host ?? '127.0.0.1';
      await new Promise<void>((resolve, reject) => {
        const fail = (error: Error) => reject(new IcsError('UNAVAILABLE', `cannot listen on ${host}:${init.port}: ${error.message}`, { cause: error }));
        s.once('error', fail);
        s.listen({ host, port: init.port }, () => {
          s.removeListener('error', fail);
          resolve();
        });
      });
      server = s;
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : init.port;
      const scheme = tlsMode === 'ldaps' ? 'ldaps' : 'ldap';
      const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
      logger.info({ url, baseDn: init.baseDn, tls: tlsMode ?? 'none' }, 'LDAP server listening');
      return { url, host, port };
    },

    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      for (const session of [...sessions]) session.shutdown(ResultCode.unavailable, 'server shutting down');
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())]);
      for (const session of [...sessions]) session.destroy();
      await closed;
      logger.info('LDAP server stopped');
    },
  };
}
