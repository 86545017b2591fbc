// Policy model (DESIGN §3): what a node trusts, which records it keeps in which domain,
// who may add signatures, who may read, and with whom it syncs. The file format is
// schemas/policy.schema.json; these are the validated, frozen in-memory types.
import type { EntityKind, Role } from '../record/index.ts';

export interface TrustedIssuerEntry {
  /** A label for logs and reasons. */
  readonly name: string;
  /** v4 fingerprint, 40 lower-case hex digits. */
  readonly fingerprint: string;
  /** Roles this issuer may sign in. */
  readonly roles: readonly Role[];
  /** Domains where these roles count; all domains when absent. */
  readonly domains?: readonly string[];
  /** Armored public key file, relative to the policy file; else the key must be in the store. */
  readonly key?: string;
}

export interface DomainSelector {
  /** Record kinds in the domain; all kinds when absent. */
  readonly kinds?: readonly EntityKind[];
  /** Glob (`*` = any run of characters) over user IDs; for code records, over `name@version`. */
  readonly userId?: string;
  /** The record must carry a valid signature in this role (by an issuer trusted for it). */
  readonly signedBy?: { readonly role: Role; readonly issuer?: string };
}

export interface AcceptRule {
  /** Roles whose signatures a record must carry to be stored in the domain. */
  readonly requireRoles: readonly Role[];
}

export interface WriteRule {
  /** Roles whose signatures (certifications, statuses, endorsements, revocations) are kept. */
  readonly roles: readonly Role[];
}

export type ReadRule =
  | { readonly public: true }
  | { readonly public: false; readonly peers: readonly string[]; readonly authenticated: boolean };

export interface DomainLimits {
  readonly maxRecordBytes?: number;
  readonly maxSignaturesPerSigner?: number;
}

export interface VerdictRule {
  readonly requiredRoles: readonly Role[];
  readonly statusSetters?: readonly Role[];
  readonly trustedStatuses?: readonly string[];
  readonly terminalStatuses?: readonly string[];
  readonly allowMissingStatus?: boolean;
}

export interface DomainPolicy {
  readonly name: string;
  readonly description?: string;
  readonly select: DomainSelector;
  readonly accept: AcceptRule;
  readonly write: WriteRule;
  readonly read: ReadRule;
  readonly limits: DomainLimits;
  readonly verdict: VerdictRule;
}

export interface SyncPeer {
  readonly name: string;
  /** libp2p peer id (base58btc multihash, e.g. `12D3KooW…`). */
  readonly peerId: string;
  readonly addresses: readonly string[];
  /** Domains this node pulls from the peer. */
  readonly pull: readonly string[];
  /** Domains this node offers to the peer (it must also be allowed to read them). */
  readonly push: readonly string[];
  readonly intervalSeconds: number;
}

export interface Policy {
  readonly version: 1;
  /** File it was loaded from (for messages). */
  readonly source: string;
  readonly trust: { readonly issuers: readonly TrustedIssuerEntry[] };
  readonly domains: readonly DomainPolicy[];
  readonly sync: { readonly peers: readonly SyncPeer[] };
}

/** Who is asking to read. */
export type Principal =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'user'; readonly name: string }
  | { readonly kind: 'peer'; readonly peerId: string };
