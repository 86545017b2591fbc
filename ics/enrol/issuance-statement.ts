// Each issuance written into the device's identity record (DESIGN §7): a certification of the
// device's URN by the node's issuer key, with notations x509-sha256@cm4it.org (SHA-256 of the
// certificate's DER) and x509-serial@cm4it.org, expiring with the certificate, submitted
// through the one write path like any other statement, so that peers, LDAP and HKP show which
// certificates a device holds. The verdict counts it toward nothing (record/verdict.ts).
import type { PolicyEngine } from '../policy/index.ts';
import { certify, type Issuer, ISSUANCE_METADATA, ISSUANCE_SERIAL_METADATA, issuerFingerprint, type KeyRecord, type Role } from '../record/index.ts';
import type { ChangeSource, StoredRecord } from '../store/index.ts';
import type { IssuedCertificate } from './certificate.ts';

/** The one write path as this module uses it (the ingest path's RecordSubmitter). */
export interface StatementSubmitter {
  submit(
    input: Uint8Array,
    context: { readonly source: ChangeSource; readonly origin?: string },
  ): Promise<{ readonly action: string; readonly dropped: ReadonlyArray<{ readonly issuer: string | undefined; readonly reason: string; readonly detail: string }> }>;
}

export type StatementOutcome =
  /** The record holds the statement. */
  | { readonly written: true }
  /** Not written: why (the policy dropped it, or the node's key may write no role there). */
  | { readonly written: false; readonly reason: string };

/**
 * The role the statement is signed in: admission keeps no third-party signature without a
 * role the signer may write in one of the record's domains. The first such role of the
 * node's key; none when its key may write nowhere the record is.
 */
export function issuanceRole(engine: PolicyEngine, issuer: string, stored: StoredRecord): Role | undefined {
  const entry = engine.policy.trust.issuers.find((e) => e.fingerprint === issuer.toLowerCase());
  if (!entry) return undefined;
  const writable = stored.domains
    .map((name) => engine.domain(name))
    .filter((d) => d !== undefined && (entry.domains === undefined || entry.domains.includes(d.name)))
    .flatMap((d) => d?.write.roles ?? []);
  return entry.roles.find((role) => writable.includes(role));
}

export interface IssuanceWrite {
  readonly engine: PolicyEngine;
  readonly issuerKey: Issuer;
  readonly submitter: StatementSubmitter;
  readonly source: ChangeSource;
  readonly origin?: string;
}

export async function writeIssuanceStatement(stored: StoredRecord, record: KeyRecord, urn: string, issued: IssuedCertificate, write: IssuanceWrite): Promise<StatementOutcome> {
  const issuer = issuerFingerprint(write.issuerKey);
  const role = issuanceRole(write.engine, issuer, stored);
  if (!role) return { written: false, reason: 'the node’s issuer key may sign in no role the record’s domains admit' };
  const lifetimeSeconds = Math.max(1, Math.ceil((issued.notAfter.getTime() - Date.now()) / 1000));
  const signed = await certify(
    record,
    write.issuerKey,
    { role, metadata: { [ISSUANCE_METADATA]: issued.fingerprint, [ISSUANCE_SERIAL_METADATA]: issued.serial } },
    { userId: urn, expiresInSeconds: lifetimeSeconds },
  );
  const outcome = await write.submitter.submit(signed.bytes, { source: write.source, ...(write.origin !== undefined && { origin: write.origin }) });
  const dropped = outcome.dropped.find((d) => d.issuer === issuer);
  return dropped ? { written: false, reason: `the policy dropped it: ${dropped.reason} (${dropped.detail})` } : { written: true };
}
