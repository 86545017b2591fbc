// The HTTP host's tuning (`HttpInit`), what it needs (`HttpComponents`), what it is
// (`HttpServer`) and what it serves (`HttpPlugin`), after js-libp2p's Init / Components /
// factory shape. One host is one listener; a second listener (other address, other TLS,
// other plugins) is a second host.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Authenticator, LocalOperatorToken } from '../auth/index.ts';
import type { BatchSubmitter, RecordSubmitter } from '../ingest/index.ts';
import type { Listener } from '../net/clients.ts';
import type { PolicyEngine } from '../policy/index.ts';
import type { CacheFigures, CertificateIndex, EventLog, RecordIndexes, RecordReader, StoreLifecycle, SyncSet } from '../store/types.ts';
import type { HttpContext } from './context.ts';
import type { ProblemWriter } from './problems.ts';

export interface HttpInit {
  /** Address to bind; 127.0.0.1 unless configured otherwise. */
  readonly host: string;
  /** TCP port; 0 picks an ephemeral one (see `start()`'s answer). */
  readonly port: number;
  /** PEM certificate and key: HTTPS. Absent: plain HTTP. */
  readonly tls?: HttpTls;
  /** Largest request body; refused with 413 from its Content-Length before it is read. */
  readonly maxBodyBytes: number;
  /** A request (headers and body) not received within this is answered 408 and its connection closed. */
  readonly requestTimeoutSeconds: number;
  /** Connections open at once in all. */
  readonly maxConnections: number;
  /** Connections open at once from one client address. */
  readonly maxConnectionsPerAddress: number;
  /** Requests per minute from one client address, beyond: 429 with Retry-After. */
  readonly requestsPerMinute: number;
  /** Client addresses and CIDR blocks exempt from the per-address limits (gateways behind one NAT). */
  readonly exempt: readonly string[];
  /**
   * Accept HTTP basic auth over plain HTTP (loopback tests, or TLS ended by a proxy on the
   * same host). False: without TLS, a request carrying credentials is refused (400) before
   * they are checked, as LDAP refuses password binds without TLS.
   */
  readonly allowInsecureAuth: boolean;
  /** Who may read /metrics (figures of every domain): any authenticated user, or anyone. */
  readonly metrics: 'public' | 'authenticated';
  /** Names this listener in the metrics and logs of its connection and rate refusals. */
  readonly listener: Listener;
  /** Shown by the plugins (HKP op=stats, /ics/v1/status) and in ics_node_info. */
  readonly nodeInfo: { readonly name: string; readonly role: string; readonly version: string };
}

export interface HttpTls {
  /** PEM: the server certificate, then its issuers (not the root). */
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
  /**
   * Ask every client for a certificate (mutual TLS, EST's). TLS never refuses one, absent or
   * unverified: the plugin decides, so that a refusal is an HTTP answer with its reason. The
   * chain a client sent is `HttpContext.peerCertificates(request)`.
   */
  readonly requestCert?: boolean;
  /** PEM CA certificates named to the client as acceptable issuers of its certificate (a hint; verification is the plugin's). */
  readonly clientCAs?: Buffer | string | ReadonlyArray<Buffer | string>;
}

export interface HttpComponents {
  /**
   * What the host and its plugins read: records, indexes, figures (sync sets, stats), history
   * and the change feed, the certificates issued (of a record, by serial, by expiry); never writes.
   */
  readonly store: RecordReader & RecordIndexes & SyncSet & EventLog & StoreLifecycle & Pick<CertificateIndex, 'certificatesOf' | 'getCertificate' | 'expiringBefore'>;
  /** The current policy engine: read on every request, so that a reload applies at once. */
  readonly policy: () => PolicyEngine;
  /** The one write path (verify, policy, merge, store), for the plugins that take submissions. */
  readonly ingest: RecordSubmitter & BatchSubmitter;
  readonly logger: Logger;
  /** Absent: every client is anonymous, and writes that require authentication are refused. */
  readonly authenticator?: Authenticator;
  /** The local operator's bearer token (admin.token in the data directory), accepted from loopback clients. */
  readonly localToken?: LocalOperatorToken;
  /** The node's metrics registry (ics/node/metrics.ts); absent: a private one, still served at /metrics. */
  readonly metrics?: { readonly registry: Registry };
}

/**
 * Routes served by a host, registered in their own encapsulated fastify scope (their
 * content-type parsers and hooks stay theirs) with the host's shared services.
 */
export interface HttpPlugin {
  /** Names the plugin in errors about it. */
  readonly name: string;
  /** Adds the routes to `scope`. */
  register(scope: FastifyInstance, host: HttpContext): Promise<void>;
  /**
   * How problems under a path prefix are written, when not as JSON (e.g. HKP's `/pks/` as
   * text): errors of any kind there — unknown endpoints, rate limits, credentials — included.
   */
  readonly problems?: { readonly prefix: string; readonly write: ProblemWriter };
  /** An HTML fragment for the landing page at `/` (what this plugin offers, with links). */
  readonly landing?: string;
}

export interface HttpAddress {
  /** `http://host:port` or `https://host:port` (IPv6 hosts in brackets). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
}

export interface HttpServer {
  /** Binds and serves; resolves with the bound address. Rejects (UNAVAILABLE) if the port is taken. */
  start(): Promise<HttpAddress>;
  /** Its caches (revived records, armored answers) by name, for /metrics. */
  caches(): Record<string, CacheFigures>;
  /** Stops accepting, lets requests in progress finish (bounded), then closes every connection. */
  stop(): Promise<void>;
}
