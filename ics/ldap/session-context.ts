// What a session and its operation handlers share: the server's context (one per server) and
// the session's own scope (one per connection: the framing, who is bound, the client).
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { AuthenticatedUser, Authenticator } from '../auth/index.ts';
import type { RecordSubmitter } from '../ingest/index.ts';
import type { AddressRateLimiter, FailureLimiter, ThrottledWarning } from '../net/clients.ts';
import type { Principal } from '../policy/index.ts';
import type { Directory } from './directory.ts';
import type { Connection } from './framing.ts';
import type { SearchLimits } from './search.ts';

export interface SessionContext {
  readonly directory: Directory;
  readonly ingest: RecordSubmitter;
  readonly authenticator: Authenticator | undefined;
  readonly logger: Logger;
  readonly limits: SearchLimits;
  readonly allowInsecureBind: boolean;
  /** For StartTLS on a plain listener; undefined when the server has no certificate or serves LDAPS. */
  readonly startTls: SecureContext | undefined;
  readonly maxKeyBytes: number;
  /** A session without traffic is closed after this long: short while anonymous, longer once bound. */
  readonly idleTimeoutMs: { readonly anonymous: number; readonly bound: number };
  /** Operations per client address (all its sessions together); beyond, busy (51). */
  readonly rate: {
    readonly limiter: AddressRateLimiter;
    readonly perSecond: number;
    readonly refused: () => void;
    readonly log: ThrottledWarning;
  };
  /** Failed binds per client address (IPv6 per /56, all its sessions together); beyond, busy (51) unchecked. */
  readonly bindFailures: {
    readonly limiter: FailureLimiter;
    readonly max: number;
    /** The window, for messages: e.g. `60 s`. */
    readonly window: string;
    readonly failed: () => void;
    readonly throttled: () => void;
    readonly log: ThrottledWarning;
  };
}

/** Who a session is bound as (RFC 4513 §5.1): anonymous until a bind succeeds. */
export interface Identity {
  principal: Principal;
  user: AuthenticatedUser | undefined;
  /** The user's name (`cn=<name>,ou=users,<base>`) while bound. */
  name: string | undefined;
}

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/** What an operation handler may use of its session. */
export interface SessionScope {
  readonly ctx: SessionContext;
  readonly connection: Connection;
  readonly log: Logger;
  readonly identity: Identity;
  /** Names this connection in the paged-results cookies it is given (cookie.ts). */
  readonly connectionId: Buffer;
  /** The client address per-address limits count under (clientAddress). */
  readonly address: string;
  /** `address:port`, for the log and the event log's origin. */
  readonly remote: string;
}
