// The policy engine: a loaded policy plus the trusted issuers' keys, answering what the
// front ends, ingest and sync ask — which keys verify, which domains hold a record, which
// signatures are kept, whether a record is accepted, the verdict, who may read, with whom
// to sync.
import { IcsError } from '../errors.ts';
import {
  combineRevocations,
  DEFAULT_LIMITS,
  evaluateVerdict,
  filterSignatures,
  type IdentityRecord,
  IssuerKeyring,
  type KeyRecord,
  keyLifecycle,
  mergeRecords,
  type TrustedIssuer,
  type VerdictPolicy,
} from '../record/index.ts';
import { enforceLimits, judgeSignature } from './admission.ts';
import { definitionDigest, domainDefinition } from './digest.ts';
import { membershipMiss } from './select.ts';
import { TrustTable } from './trust.ts';
import type {
  Admission,
  DomainLimits,
  DomainPolicy,
  Policy,
  PolicyDrop,
  PolicyVerdict,
  Principal,
  RejectionReason,
  SyncPeer,
  TrustedIssuerEntry,
} from './types.ts';

const union = <T>(lists: ReadonlyArray<readonly T[]>): T[] => [...new Set(lists.flat())];

/** A trusted issuer key's state: from its key record's self-signatures and the policy entry. */
export type IssuerState = Pick<TrustedIssuer, 'revokedAt' | 'revocationReason' | 'revocationText' | 'expiresAt'>;

function issuerState(entry: TrustedIssuerEntry, record: KeyRecord | undefined): IssuerState {
  const own = record ? keyLifecycle(record) : {};
  const ownRevocation = own.revokedAt && {
    at: own.revokedAt,
    reason: own.revocationReason ?? 'unspecified',
    ...(own.revocationText !== undefined && { text: own.revocationText }),
  };
  const byPolicy = entry.revoked && {
    at: entry.revoked.at,
    reason: entry.revoked.reason,
    ...(entry.revoked.comment !== undefined && { text: entry.revoked.comment }),
  };
  const revocation = combineRevocations(ownRevocation, byPolicy);
  const expiries = [own.expiresAt, entry.expires].filter((d): d is Date => d !== undefined);
  const expiresAt = expiries.sort((a, b) => a.getTime() - b.getTime())[0];
  return {
    ...(revocation && { revokedAt: revocation.at, revocationReason: revocation.reason }),
    ...(revocation?.text !== undefined && { revocationText: revocation.text }),
    ...(expiresAt && { expiresAt }),
  };
}

/** Engines this process has made: the newest one's generation. */
let enginesMade = 0;

export class PolicyEngine {
  readonly policy: Policy;
  /**
   * Distinct for every engine of the process, rising: a reload or a trusted issuer's key
   * changing makes a new engine, so an answer cached under one generation (a verdict) is
   * never served under another.
   */
  readonly generation: number;
  readonly #trust: TrustTable;
  readonly #ring: IssuerKeyring;
  readonly #missingKeys: readonly TrustedIssuerEntry[];
  readonly #domains: ReadonlyMap<string, DomainPolicy>;
  readonly #digests: ReadonlyMap<string, string>;
  readonly #peers: ReadonlyMap<string, SyncPeer>;
  /** The trusted issuers' key records, one per fingerprint (copies merged). */
  readonly #issuerRecords: ReadonlyMap<string, KeyRecord>;
  readonly #states: ReadonlyMap<string, IssuerState>;

  private constructor(
    policy: Policy,
    ring: IssuerKeyring,
    missingKeys: readonly TrustedIssuerEntry[],
    issuerRecords: ReadonlyMap<string, KeyRecord>,
  ) {
    this.policy = policy;
    this.generation = ++enginesMade;
    this.#trust = TrustTable.of(policy);
    this.#ring = ring;
    this.#missingKeys = missingKeys;
    this.#issuerRecords = issuerRecords;
    this.#states = new Map(policy.trust.issuers.map((e) => [e.fingerprint, issuerState(e, issuerRecords.get(e.fingerprint))]));
    this.#domains = new Map(policy.domains.map((d) => [d.name, d]));
    this.#digests = new Map(policy.domains.map((d) => [d.name, definitionDigest(domainDefinition(d, this.#trust))]));
    this.#peers = new Map(policy.sync.peers.map((p) => [p.peerId, p]));
  }

  /**
   * An engine for `policy`, verifying with the keys among `issuerRecords` that the policy
   * trusts (others are ignored). Trusted issuers without a key are `missingIssuerKeys()`.
   */
  static async create(policy: Policy, issuerRecords: readonly KeyRecord[] = []): Promise<PolicyEngine> {
    const trust = TrustTable.of(policy);
    // Copies of one issuer key (its key file, the store's) are merged: a revocation in
    // either counts. All are verified records, so merging adds no trust.
    const byId = new Map<string, KeyRecord>();
    for (const record of issuerRecords) {
      if (record.type !== 'key' || trust.entry(record.id) === undefined) continue;
      const seen = byId.get(record.id);
      byId.set(record.id, seen ? mergeRecords(seen, record) : record);
    }
    const ring = await IssuerKeyring.fromRecords(byId.values());
    const missing = policy.trust.issuers.filter((e) => !ring.has(e.fingerprint));
    return new PolicyEngine(policy, ring, missing, byId);
  }

  /**
   * A new engine for the same policy, with `records` merged into the issuer keys this one
   * holds: how a node applies an issuer's revocation or new expiry arriving in its store.
   * A new engine, not a changed one, so every answer cached per engine is dropped with it.
   */
  withIssuerRecords(records: readonly KeyRecord[]): Promise<PolicyEngine> {
    return PolicyEngine.create(this.policy, [...this.#issuerRecords.values(), ...records]);
  }

  /** Whether `fingerprint` is a trusted issuer of this policy. */
  trusts(fingerprint: string): boolean {
    return this.#trust.entry(fingerprint) !== undefined;
  }

  /** The key state (revoked, expires) of a trusted issuer; undefined for others. */
  issuerState(fingerprint: string): IssuerState | undefined {
    return this.#states.get(fingerprint.toLowerCase());
  }

  /**
   * The first instant after `now` (ms) at which an issuer's revocation or expiry takes
   * effect; Infinity when none will. Verdicts cached by callers hold until then.
   */
  nextIssuerChange(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const state of this.#states.values()) {
      for (const d of [state.revokedAt, state.expiresAt]) {
        const t = d?.getTime();
        if (t !== undefined && t > now && t < next) next = t;
      }
    }
    return next;
  }

  /**
   * The trusted issuers' keys, for `parseRecord`: signatures by any other key are dropped
   * unverified, so a flood costs no cryptography. Callers MUST NOT add keys to it.
   */
  issuerRing(): IssuerKeyring {
    return this.#ring;
  }

  /** Trusted issuers whose key was not given: their signatures cannot be verified. */
  missingIssuerKeys(): readonly TrustedIssuerEntry[] {
    return this.#missingKeys;
  }

  /** The policy's label for an issuer, for logs and summaries. */
  issuerName(fingerprint: string): string | undefined {
    return this.#trust.entry(fingerprint)?.name;
  }

  domain(name: string): DomainPolicy | undefined {
    return this.#domains.get(name);
  }

  domainNames(): string[] {
    return [...this.#domains.keys()];
  }

  /**
   * The domains the record belongs to (selector matches and accept rules hold), in policy
   * order. Depends on the record's content only, not on the time.
   */
  domainsOf(record: IdentityRecord): string[] {
    return this.#memberDomains(record).map((d) => d.name);
  }

  /**
   * Removes the signatures the policy does not allow and checks the accept rules and
   * limits. Throws POLICY_REJECTED (details.reasons: RejectionReason[], one per domain)
   * when the record belongs to no domain, LIMIT_EXCEEDED when it breaks a domain's limit.
   * Idempotent: admitting the result again changes nothing and drops nothing, so callers
   * run it on the record merged with the stored copy. Admission does not depend on the
   * time (see select.ts); `now` is accepted so that callers can pass one clock throughout.
   */
  admit(record: IdentityRecord, _now?: Date): Admission {
    const dropped: PolicyDrop[] = [];
    let current = record;
    let domains = this.#memberDomains(current);
    // Dropping a signature can only take domains away, never add one, so this ends; with
    // the load-time check that required roles are writable it ends after one round.
    for (;;) {
      const round: PolicyDrop[] = [];
      const member = domains;
      current = filterSignatures(current, (sig) => {
        const drop = judgeSignature(sig, member, this.#trust);
        if (drop) round.push(drop);
        return drop === undefined;
      });
      if (round.length === 0) break;
      dropped.push(...round);
      domains = this.#memberDomains(current);
    }
    if (domains.length === 0) {
      // Explained on the record as received: once it belongs nowhere every third-party
      // signature is dropped, and "no signer" would hide which role was actually missing.
      const reasons = this.#rejectionReasons(record);
      throw new IcsError(
        'POLICY_REJECTED',
        `record ${record.id} belongs to no domain of this node: ${reasons.map((r) => `${r.domain}: ${r.message}`).join('; ')}`,
        {
          details: { reasons },
        },
      );
    }
    enforceLimits(current, domains);
    return { record: current, domains: domains.map((d) => d.name), dropped };
  }

  /**
   * The record model's verdict under the rules of the record's domains. A record in several
   * domains must satisfy all of them: required roles and terminal statuses are the union of
   * the domains' lists, trusted statuses their intersection, status setters the union, and
   * a missing status is allowed only when every domain allows it. A domain that leaves a
   * list out takes no part in combining that list (the record model's default applies when
   * no domain gives it). Issuers count in the roles they hold and may write in those domains.
   * A record in no domain is judged with no trusted issuer and no required role.
   */
  verdict(record: IdentityRecord, now?: Date): PolicyVerdict {
    const domains = this.#memberDomains(record);
    const rules = domains.map((d) => d.verdict);
    const defined = <T>(pick: (r: (typeof rules)[number]) => readonly T[] | undefined) =>
      rules.map(pick).filter((x): x is readonly T[] => x !== undefined);
    const issuers: TrustedIssuer[] = this.#trust.entries
      .map((e) => ({
        fingerprint: e.fingerprint,
        name: e.name,
        roles: union(domains.map((d) => TrustTable.writableRoles(e, d))),
        ...this.#states.get(e.fingerprint),
      }))
      .filter((e) => e.roles.length > 0);
    const statusSetters = defined((r) => r.statusSetters);
    const trustedStatuses = defined((r) => r.trustedStatuses);
    const terminalStatuses = defined((r) => r.terminalStatuses);
    const policy: VerdictPolicy = {
      issuers,
      requiredRoles: union(rules.map((r) => r.requiredRoles)),
      ...(statusSetters.length > 0 && { statusSetters: union(statusSetters) }),
      ...(trustedStatuses.length > 0 && { trustedStatuses: trustedStatuses.reduce((a, b) => a.filter((s) => b.includes(s))) }),
      ...(terminalStatuses.length > 0 && { terminalStatuses: union(terminalStatuses) }),
      allowMissingStatus: rules.length > 0 && rules.every((r) => r.allowMissingStatus),
      afterIssuerRevocation: this.policy.trust.afterIssuerRevocation,
      afterIssuerExpiry: this.policy.trust.afterIssuerExpiry,
      ...(now && { now }),
    };
    return { ...evaluateVerdict(record, policy), domains: domains.map((d) => d.name) };
  }

  /** The strictest limits of the named domains (the parser's own when none): for merge caps. */
  limitsFor(domains: readonly string[]): DomainLimits {
    const limits = domains.map((name) => this.#domains.get(name)?.limits).filter((l): l is DomainLimits => l !== undefined);
    return {
      maxRecordBytes: Math.min(DEFAULT_LIMITS.maxRecordBytes, ...limits.map((l) => l.maxRecordBytes)),
      maxSignaturesPerSigner: Math.min(DEFAULT_LIMITS.maxSignaturesPerSigner, ...limits.map((l) => l.maxSignaturesPerSigner)),
    };
  }

  /**
   * Public domains are readable by anyone; others by the peers they list, the users they
   * name, members of the groups they name and, when they say `authenticated`, by any
   * authenticated user. Unknown domains by no one.
   */
  canRead(domain: string, principal: Principal): boolean {
    const read = this.#domains.get(domain)?.read;
    if (!read) return false;
    if (read.public) return true;
    if (principal.kind === 'peer') return read.peers.includes(principal.peerId);
    if (principal.kind === 'user') {
      return read.authenticated || read.users.includes(principal.name) || (principal.groups ?? []).some((g) => read.groups.includes(g));
    }
    return false;
  }

  readableDomains(principal: Principal): string[] {
    return this.domainNames().filter((name) => this.canRead(name, principal));
  }

  /** sha256 (hex) of the domain's canonical definition (see digest.ts); NOT_FOUND if unknown. */
  domainDigest(name: string): string {
    const digest = this.#digests.get(name);
    if (digest === undefined) throw new IcsError('NOT_FOUND', `no domain named "${name}"`, { details: { domain: name } });
    return digest;
  }

  syncPeers(): readonly SyncPeer[] {
    return this.policy.sync.peers;
  }

  peer(peerId: string): SyncPeer | undefined {
    return this.#peers.get(peerId);
  }

  #memberDomains(record: IdentityRecord): DomainPolicy[] {
    return this.policy.domains.filter((d) => membershipMiss(d, record, this.#trust) === undefined);
  }

  #rejectionReasons(record: IdentityRecord): RejectionReason[] {
    const reasons: RejectionReason[] = [];
    for (const domain of this.policy.domains) {
      const miss = membershipMiss(domain, record, this.#trust);
      if (miss) reasons.push({ domain: domain.name, ...miss });
    }
    return reasons;
  }
}
