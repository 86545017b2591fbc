// The HKP / JSON API component's tuning (`HkpInit`), what it needs (`HkpComponents`) and
// what it is (`HkpServer`), after js-libp2p's Init / Components / factory shape.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Ingest } from '../ingest/ingest.ts';
import type { PolicyEngine, Principal } from '../policy/index.ts';
import type { RecordStore } from '../store/types.ts';

export interface HkpInit {
  /** Address to bind; 127.0.0.1 unless configured otherwise. */
  readonly host: string;
  /** TCP port; 0 picks an ephemeral one (see `start()`'s answer). */
  readonly port: number;
  /** PEM certificate and key: HKPS (HTTPS). Absent: plain HTTP. */
  readonly tls?: { readonly cert: Buffer | string; readonly key: Buffer | string };
  /** Largest request body; refused with 413 from its Content-Length before it is read. */
  readonly maxBodyBytes: number;
  /** A request (headers and body) not received within this is answered 408 and its connection closed. */
  readonly requestTimeoutSeconds: number;
  /** Most records one lookup answers (index, vindex, get by text, code by digest). */
  readonly resultLimit: number;
  /** When true, /pks/add and JSON writes need HTTP basic auth by a user with write rights. */
  readonly writesRequireAuth: boolean;
  /** Connections open at once in all; default MAX_CONNECTIONS (limits.ts). */
  readonly maxConnections?: number;
  /** Connections open at once from one client address; default MAX_CONNECTIONS_PER_ADDRESS. */
  readonly maxConnectionsPerAddress?: number;
  /** Requests per minute from one client address, beyond: 429 with Retry-After; default REQUESTS_PER_MINUTE. */
  readonly requestsPerMinute?: number;
  /** Client addresses and CIDR blocks exempt from the per-address limits (gateways behind one NAT). */
  readonly exempt?: readonly string[];
  /**
   * Accept HTTP basic auth over plain HTTP (loopback tests, or TLS ended by a proxy on the
   * same host). Default false: without TLS, a request carrying credentials is refused (400)
   * before they are checked, as LDAP refuses password binds without TLS.
   */
  readonly allowInsecureAuth?: boolean;
  /** Who may read /metrics (figures of every domain): any authenticated user (default) or anyone. */
  readonly metrics?: 'public' | 'authenticated';
  /** Shown by op=stats and /ics/v1/status. */
  readonly nodeInfo: { readonly name: string; readonly role: string; readonly version: string };
}

/** Checks HTTP basic-auth credentials (ics/node/auth.ts's `Authenticator` fits). */
export interface HkpAuthenticator {
  authenticate(name: string, password: string): Promise<{ readonly principal: Principal; readonly write: boolean } | undefined>;
}

export interface HkpComponents {
  readonly store: RecordStore;
  /** The current policy engine: read on every request, so that a reload applies at once. */
  readonly policy: () => PolicyEngine;
  /** The one write path (verify, policy, merge, store). */
  readonly ingest: Pick<Ingest, 'submit' | 'submitBatch'>;
  readonly logger: Logger;
  /** Absent: every client is anonymous, and writes that require authentication are refused. */
  readonly authenticator?: HkpAuthenticator;
  /** The node's metrics registry (ics/node/metrics.ts); absent: a private one, still served at /metrics. */
  readonly metrics?: { readonly registry: Registry };
  /** Extra sections of /ics/v1/status supplied by other parts (e.g. `{ peers: [...] }` from sync). */
  readonly statusSections?: () => Promise<Record<string, unknown>>;
}

export interface HkpAddress {
  /** `http://host:port` or `https://host:port` (IPv6 hosts in brackets). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
}

export interface HkpServer {
  /** Binds and serves; resolves with the bound address. Rejects (UNAVAILABLE) if the port is taken. */
  start(): Promise<HkpAddress>;
  /** Stops accepting, lets requests in progress finish (bounded), then closes every connection. */
  stop(): Promise<void>;
}
