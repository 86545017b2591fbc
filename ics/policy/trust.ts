// The policy's issuer table, asked per domain: which issuer holds which role where.
import type { Role } from '../record/index.ts';
import type { DomainPolicy, Policy, TrustedIssuerEntry } from './types.ts';

export class TrustTable {
  readonly #byFingerprint = new Map<string, TrustedIssuerEntry>();
  readonly #byName = new Map<string, TrustedIssuerEntry>();

  constructor(readonly entries: readonly TrustedIssuerEntry[]) {
    for (const entry of entries) {
      this.#byFingerprint.set(entry.fingerprint, entry);
      this.#byName.set(entry.name, entry);
    }
  }

  static of(policy: Policy): TrustTable {
    return new TrustTable(policy.trust.issuers);
  }

  entry(fingerprint: string): TrustedIssuerEntry | undefined {
    return this.#byFingerprint.get(fingerprint.toLowerCase());
  }

  named(name: string): TrustedIssuerEntry | undefined {
    return this.#byName.get(name);
  }

  /** Whether the entry's roles count in `domain` at all. */
  static trustedIn(entry: TrustedIssuerEntry, domain: string): boolean {
    return entry.domains === undefined || entry.domains.includes(domain);
  }

  /** Whether `fingerprint` may sign as `role` in `domain`. */
  holds(fingerprint: string, role: Role, domain: string): boolean {
    const entry = this.entry(fingerprint);
    return entry !== undefined && entry.roles.includes(role) && TrustTable.trustedIn(entry, domain);
  }

  /** Roles the entry holds in the domain that the domain also lets it write. */
  static writableRoles(entry: TrustedIssuerEntry, domain: DomainPolicy): Role[] {
    if (!TrustTable.trustedIn(entry, domain.name)) return [];
    return entry.roles.filter((role) => domain.write.roles.includes(role));
  }
}
