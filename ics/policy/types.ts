// Policy model (DESIGN §3): what a node trusts, which records it keeps in which domain,
// who may add signatures, who may read, and with whom it syncs. The file format is
// schemas/policy.schema.json; these are the validated, frozen in-memory types.
import type { AfterIssuerEnd, EntityKind, IdentityRecord, RevocationReason, Role, Verdict } from '../record/index.ts';

export interface TrustedIssuerEntry {
  /** A label for logs and reasons; unique in the policy; referenced by `signedBy.issuer`. */
  readonly name: string;
  /** v4 fingerprint, 40 lower-case hex digits; unique in the policy. */
  readonly fingerprint: string;
  /** Roles this issuer may sign in. */
  readonly roles: readonly Role[];
  /** Domains where these roles count; all domains when absent. */
  readonly domains?: readonly string[];
  /** Armored public key file, relative to the policy file; else the key must be in the store. */
  readonly key?: string;
  /** The operator's revocation of the key: statements from `at` on never count. */
  readonly revoked?: { readonly at: Date; readonly reason: RevocationReason; readonly comment?: string };
  /** The operator's expiry of the key (the earlier of this and the key's own counts). */
  readonly expires?: Date;
}

export interface DomainSelector {
  /** Record kinds in the domain; all kinds when absent. */
  readonly kinds?: readonly EntityKind[];
  /** Glob (`*` = any run of characters) over user IDs; for code records, over `name@version`. */
  readonly userId?: string;
  /**
   * The record must carry a signature in this role by an issuer trusted for it in the domain
   * (on a user ID matching `userId`, when given). `issuer` names a `trust.issuers` entry.
   */
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
  | {
      readonly public: false;
      readonly peers: readonly string[];
      /** Any authenticated user. */
      readonly authenticated: boolean;
      /** Local users by name, and members of these groups (config `auth.users[].groups`). */
      readonly users: readonly string[];
      readonly groups: readonly string[];
    };

/** Applied after the policy drops signatures; defaults are the record parser's own caps. */
export interface DomainLimits {
  /** Bytes of the canonical record. */
  readonly maxRecordBytes: number;
  /** Signatures by one issuer on one target (user ID, key, subkey, code statement). */
  readonly maxSignaturesPerSigner: number;
}

export interface VerdictRule {
  /** Defaults to the domain's `accept.requireRoles`. */
  readonly requiredRoles: readonly Role[];
  /** Absent: the record model's defaults (which depend on the record kind). */
  readonly statusSetters?: readonly Role[];
  readonly trustedStatuses?: readonly string[];
  readonly terminalStatuses?: readonly string[];
  readonly allowMissingStatus: boolean;
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

/** Key types an operational certificate may certify. */
export type EnrolKeyType = 'p256' | 'ed25519';

export interface EnrolProfile {
  readonly lifetimeSeconds: number;
  /** How long before expiry a device renews; less than the lifetime. */
  readonly renewalWindowSeconds: number;
  readonly keyTypes: readonly EnrolKeyType[];
}

/** Certificate enrolment (DESIGN §7): validated here, acted on by enrol/. */
export interface EnrolPolicy {
  /** As written: PEM files relative to the policy file, or PEM text (enrol/ reads them). */
  readonly birthCAs: readonly string[];
  /** Roles the device record's verdict must hold, besides being trusted. */
  readonly requireRoles: readonly Role[];
  readonly profile: EnrolProfile;
  readonly approval: 'auto' | 'manual';
  readonly bootstrap: 'none' | 'record-key';
  readonly revocation: {
    /** nextUpdate − thisUpdate of the node's CRLs. */
    readonly crlValiditySeconds: number;
    /** Whether a renewal revokes the device's previous certificates (superseded). */
    readonly revokeOnRenewal: boolean;
  };
}

export interface Policy {
  readonly version: 1;
  /** File it was loaded from (for messages, and the base of relative `key` paths). */
  readonly source: string;
  readonly trust: {
    readonly issuers: readonly TrustedIssuerEntry[];
    /** Whether statements made before an issuer key's (compromised/unspecified) revocation count. */
    readonly afterIssuerRevocation: AfterIssuerEnd;
    /** Whether statements made before an issuer key's expiry count. */
    readonly afterIssuerExpiry: AfterIssuerEnd;
  };
  readonly domains: readonly DomainPolicy[];
  readonly sync: { readonly peers: readonly SyncPeer[] };
  /** Absent: the node issues no operational certificates. */
  readonly enrol?: EnrolPolicy;
}

/** Who is asking to read. `user` is an authenticated client (LDAP bind, API credentials). */
export type Principal =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'user'; readonly name: string; readonly groups?: readonly string[] }
  | { readonly kind: 'peer'; readonly peerId: string };

/** One problem in a policy file, as listed in a CONFIG_INVALID error's `details.errors`. */
export interface PolicyFileError {
  readonly file: string;
  /** JSON Pointer (RFC 6901) into the document; `''` for the whole document or a syntax error. */
  readonly path: string;
  readonly message: string;
  /** 1-based position in the file, when known. */
  readonly line?: number;
  readonly column?: number;
}

/** Why the policy dropped a signature (the flood defence of DESIGN §3). */
export type PolicyDropReason = 'ISSUER_NOT_ALLOWED' | 'ROLE_NOT_ALLOWED' | 'NO_ROLE';

export interface PolicyDrop {
  /** Issuer fingerprint. */
  readonly issuer: string;
  readonly reason: PolicyDropReason;
  readonly detail: string;
}

/** A record the policy admits: signatures it does not allow removed, and its domains. */
export interface Admission {
  readonly record: IdentityRecord;
  /** Domains the record belongs to, in policy order. */
  readonly domains: string[];
  readonly dropped: PolicyDrop[];
}

/** Why a domain does not hold a record; listed in a POLICY_REJECTED error's `details.reasons`. */
export interface RejectionReason {
  readonly domain: string;
  readonly code: 'KIND_NOT_SELECTED' | 'USER_ID_NOT_SELECTED' | 'SIGNER_MISSING' | 'ROLE_MISSING';
  readonly message: string;
  /** The roles missing (ROLE_MISSING, SIGNER_MISSING). */
  readonly roles?: readonly Role[];
}

/** The record model's verdict under this policy, with the domains it was judged in. */
export interface PolicyVerdict extends Verdict {
  readonly domains: readonly string[];
}
