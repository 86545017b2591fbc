// Records, their history and verdicts as the JSON API shows them (dates as ISO 8601, issuers
// by fingerprint with the policy's name beside). Nothing here reads the store.
import type { PolicyEngine, PolicyVerdict } from '../policy/index.ts';
import { type IdentityRecord, type PublicKeyInfo, SigType, type VerifiedSignature } from '../record/index.ts';
import type { CertificateEntry, ChangeEvent, StoredRecord } from '../store/types.ts';

const iso = (d: Date | undefined | null) => (d ? d.toISOString() : null);

const SIG_TYPE_NAMES: Readonly<Record<number, string>> = {
  [SigType.binary]: 'statement',
  [SigType.certGeneric]: 'certification',
  [SigType.certPersona]: 'certification',
  [SigType.certCasual]: 'certification',
  [SigType.certPositive]: 'certification',
  [SigType.subkeyBinding]: 'subkey-binding',
  [SigType.directKey]: 'direct-key',
  [SigType.keyRevocation]: 'key-revocation',
  [SigType.subkeyRevocation]: 'subkey-revocation',
  [SigType.certRevocation]: 'withdrawal',
};

type IssuerName = (fingerprint: string) => string | undefined;

function signatureJson(s: VerifiedSignature, name: IssuerName, target: Record<string, string>) {
  return {
    ...target,
    type: s.type,
    typeName: SIG_TYPE_NAMES[s.type] ?? 'other',
    issuer: s.issuer,
    issuerName: s.self ? null : (name(s.issuer) ?? null),
    self: s.self,
    created: s.created.toISOString(),
    expires: iso(s.expires),
    notations: s.notations.map((n) => ({ name: n.name, value: n.value })),
  };
}

const keyJson = (k: PublicKeyInfo) => ({
  fingerprint: k.fingerprint,
  keyId: k.keyId,
  algorithm: k.algorithmName,
  bits: k.bits,
  created: k.created.toISOString(),
});

/** GET /ics/v1/records/{id}: the stored record, its subject, every signature, and its armor. */
export function recordJson(stored: StoredRecord, record: IdentityRecord, engine: PolicyEngine, armored: string) {
  const name: IssuerName = (fp) => engine.issuerName(fp);
  const base = {
    id: stored.id,
    kind: stored.kind,
    digest: stored.digest,
    domains: [...stored.domains],
    contentTime: stored.contentTime.toISOString(),
    updated: stored.updated.toISOString(),
    seq: stored.seq,
  };
  if (record.type === 'code') {
    return {
      ...base,
      statement: record.statement,
      signatures: record.signatures.map((s) => signatureJson(s, name, { target: 'statement' })),
      armored,
    };
  }
  return {
    ...base,
    primaryKey: keyJson(record.primaryKey),
    userIds: record.userIds.map((u) => u.userId),
    subkeys: record.subkeys.map((s) => keyJson(s.key)),
    signatures: [
      ...record.keySignatures.map((s) => signatureJson(s, name, { target: 'key' })),
      ...record.userIds.flatMap((u) => u.signatures.map((s) => signatureJson(s, name, { target: 'userId', userId: u.userId }))),
      ...record.subkeys.flatMap((k) => k.signatures.map((s) => signatureJson(s, name, { target: 'subkey', subkey: k.key.fingerprint }))),
    ],
    armored,
  };
}

/** One event of a record's history; `origin` (client address, peer id) only for authenticated callers. */
export function eventJson(e: ChangeEvent, showOrigin: boolean) {
  return {
    seq: e.seq,
    at: e.at.toISOString(),
    action: e.action,
    source: e.source,
    origin: showOrigin ? (e.origin ?? null) : null,
    digest: e.digest,
    previousDigest: e.previousDigest ?? null,
    signaturesAdded: e.signaturesAdded,
    summary: e.summary,
    domains: [...e.domains],
  };
}

/**
 * The certificate events of a record's history (DESIGN §7): each issuance, and each
 * revocation with its reason, as the certificate index holds them, oldest first. The
 * record's own events say what changed it; these say what the CA did about it.
 */
export function certificateEventsJson(entries: readonly CertificateEntry[]) {
  const events = entries.flatMap((c) => [
    { at: c.issuedAt, event: 'issued' as const, serial: c.serial, purpose: c.purpose, notAfter: c.notAfter.toISOString(), reason: null as string | null },
    ...(c.revoked ? [{ at: c.revoked.at, event: 'revoked' as const, serial: c.serial, purpose: c.purpose, notAfter: c.notAfter.toISOString(), reason: c.revoked.reason as string | null }] : []),
  ]);
  return events.sort((a, b) => a.at.getTime() - b.at.getTime() || a.serial.localeCompare(b.serial)).map((e) => ({ ...e, at: e.at.toISOString() }));
}

/**
 * GET /ics/v1/verify/{id}: the gateway's answer, with every reason. `checkedAt` is when it
 * was evaluated; it holds until `validUntil` (the next expiry in the record; null: none)
 * unless the record or the policy changes.
 */
export function verdictJson(v: PolicyVerdict, engine: PolicyEngine, digest: string, checkedAt: Date, validUntil: number) {
  const name = (fp: string | undefined) => (fp === undefined ? null : (engine.issuerName(fp) ?? null));
  return {
    id: v.id,
    kind: v.kind,
    digest,
    trusted: v.trusted,
    status: v.status,
    statusSetBy: v.statusSetBy
      ? { issuer: v.statusSetBy.issuer, issuerName: name(v.statusSetBy.issuer), role: v.statusSetBy.role, at: v.statusSetBy.at.toISOString() }
      : null,
    roles: v.roles.map((r) => ({ role: r.role, issuer: r.issuer, issuerName: name(r.issuer), since: r.since.toISOString(), expires: iso(r.expires) })),
    authorizations: { allow: [...v.authorizations.allow], deny: [...v.authorizations.deny] },
    endorsements: v.endorsements.map((e) => ({
      issuer: e.issuer,
      issuerName: name(e.issuer),
      at: e.at.toISOString(),
      expires: iso(e.expires),
      metadata: { ...e.metadata },
    })),
    metadata: { ...v.metadata },
    reasons: v.reasons.map((r) => ({ code: r.code, severity: r.severity, message: r.message, issuer: r.issuer ?? null, issuerName: name(r.issuer) })),
    domains: [...v.domains],
    checkedAt: checkedAt.toISOString(),
    validUntil: Number.isFinite(validUntil) ? new Date(validUntil).toISOString() : null,
  };
}
