// The JSON API plugin's tuning (`ApiInit`) and what it takes from other parts of the node
// (`ApiComponents`), beside what the host it is served by shares with it.
import type { PolicyVerdictCache } from '../policy/index.ts';
import type { LogComponents } from './log.ts';

export interface ApiInit {
  /** Most records one lookup answers (code records by digest). */
  readonly resultLimit: number;
  /** When true, JSON writes need HTTP basic auth by a user with write rights. */
  readonly writesRequireAuth: boolean;
}

export interface ApiComponents {
  /** Extra sections of /ics/v1/status supplied by other parts (e.g. `{ peers: [...] }` from sync). */
  readonly statusSections?: () => Promise<Record<string, unknown>>;
  /** The node's one verdict cache, shared with LDAP; a cache of its own when absent. */
  readonly verdicts?: PolicyVerdictCache;
  /** The node's transparency log and checkpoint signer: /ics/v1/log/… and verify?proof=1. Absent: neither. */
  readonly log?: LogComponents;
}
