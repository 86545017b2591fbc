// The entries of the directory (see dit.ts): the fixed ones, one pgpKeyInfo entry per key
// record in GnuPG's naming (GnuPG dirmngr/ks-engine-ldap.c reads and writes these
// attributes), and one icsRecord entry per record with what this node judges of it.
import type { PolicyVerdict } from '../policy/index.ts';
import { armor, type IdentityRecord, type KeyFacts, ROLES } from '../record/index.ts';
import type { StoredRecord } from '../store/index.ts';
import type { Dit } from './dit.ts';
import { Entry, generalizedTime } from './entry.ts';
import { OID } from './protocol.ts';

export interface NodeInfo {
  /** The node's name (config `name`). */
  readonly name: string;
  /** Software version, for the root DSE's vendorVersion. */
  readonly version: string;
}

export const VENDOR_NAME = 'CM4IT ICS';

/** The root DSE (RFC 4512 §5.1): its attributes are operational, returned when asked for. */
export function rootDse(dit: Dit, info: NodeInfo, startTls: boolean): Entry {
  return new Entry('', [
    ['objectClass', ['top', 'extensibleObject']],
    ['namingContexts', [dit.base]],
    ['supportedLDAPVersion', ['3']],
    ['supportedControl', [OID.pagedResults]],
    ['supportedExtension', [...(startTls ? [OID.startTls] : []), OID.whoAmI]],
    ['vendorName', [VENDOR_NAME]],
    ['vendorVersion', [info.version]],
  ]);
}

export function baseEntry(dit: Dit, info: NodeInfo): Entry {
  const naming = dit.baseNaming().map((p) => [p.type, [p.value]] as const);
  return new Entry(dit.base, [
    ['objectClass', ['top', 'extensibleObject']],
    ...naming,
    ['description', [`CM4IT identity certificate server ${info.name}`]],
  ]);
}

/**
 * GnuPG's server info (gnupg-ldap-schema.ldif; ks-engine-ldap.c interrogate_ldap_dn):
 * pgpSoftware must read `GnuPG` (the schema's origin) for dirmngr to honour pgpVersion 2,
 * which enables gpgFingerprint searches and gpgMailbox.
 */
export function serverInfoEntry(dit: Dit): Entry {
  return new Entry(dit.serverInfoDn, [
    ['objectClass', ['top', 'pgpServerInfo']],
    ['cn', ['pgpServerInfo']],
    ['pgpBaseKeySpaceDN', [dit.keysDn]],
    ['pgpSoftware', ['GnuPG']],
    ['pgpVersion', ['2']],
  ]);
}

export function keysContainer(dit: Dit): Entry {
  return new Entry(dit.keysDn, [
    ['objectClass', ['top', 'organizationalUnit']],
    ['ou', ['PGP Keys']],
  ]);
}

export function recordsContainer(dit: Dit): Entry {
  return new Entry(dit.recordsDn, [
    ['objectClass', ['top', 'organizationalUnit']],
    ['ou', ['records']],
  ]);
}

/** pgpKeyCreateTime / pgpKeyExpireTime: `YYYYMMDDHHmmssZ`, what dirmngr parses (ldap2epochtime). */
const pgpTime = generalizedTime;

/** The mailbox of a user ID as GnuPG's mailbox_from_userid finds it: `<addr>` or a bare address, lower-case. */
export function mailboxOf(userId: string): string | undefined {
  const bracket = /<([^<>\s@]+@[^<>\s@]+)>/.exec(userId);
  if (bracket?.[1]) return bracket[1].toLowerCase();
  if (/^[^<>\s@]+@[^<>\s@]+$/.test(userId)) return userId.toLowerCase();
  return undefined;
}

/** The old PGP schema knows two names; others get the record model's algorithm name. */
function keyType(facts: KeyFacts): string {
  if (facts.algorithm >= 1 && facts.algorithm <= 3) return 'RSA';
  if (facts.algorithm === 17) return 'DSS/DH';
  return facts.algorithmName;
}

/**
 * A key record's pgpKeyInfo entry. pgpDisabled is always 0: this node does not hide keys;
 * what it thinks of a device is in its icsRecord entry (icsStatus, icsTrusted).
 */
export function keyEntry(dit: Dit, stored: StoredRecord, facts: KeyFacts, maxSelections: number): Entry {
  const certId = facts.keyId.toUpperCase();
  const mailboxes = [...new Set(facts.userIds.map(mailboxOf).filter((m): m is string => m !== undefined))];
  return new Entry(
    dit.keyDn(facts.keyId),
    [
      ['objectClass', ['top', 'pgpKeyInfo']],
      ['pgpCertID', [certId]],
      ['pgpKeyID', [certId.slice(-8)]],
      ['pgpKey', [armor('publicKey', stored.bytes)]],
      ['pgpUserID', facts.userIds],
      ['pgpKeyCreateTime', [pgpTime(facts.created)]],
      ['pgpKeyExpireTime', facts.expires ? [pgpTime(facts.expires)] : []],
      ['pgpKeyType', [keyType(facts)]],
      ['pgpKeySize', [String(facts.bits).padStart(5, '0')]],
      ['pgpRevoked', [facts.revoked ? '1' : '0']],
      ['pgpDisabled', ['0']],
      ['pgpSubKeyID', facts.subkeys.map((s) => s.keyId.toUpperCase())],
      ['gpgFingerprint', [facts.fingerprint.toUpperCase()]],
      ['gpgSubFingerprint', facts.subkeys.map((s) => s.fingerprint.toUpperCase())],
      ['gpgMailbox', mailboxes],
      ['modifyTimestamp', [generalizedTime(stored.updated)]],
    ],
    maxSelections,
  );
}

export interface RecordView {
  readonly stored: StoredRecord;
  readonly record: IdentityRecord;
  readonly verdict: PolicyVerdict;
  readonly historySize: number;
  /** When the first event of the record's history happened here. */
  readonly created: Date | undefined;
  /** The record's domains the reader may see (others are not named to it). */
  readonly domains: readonly string[];
  readonly issuerName: (fingerprint: string) => string | undefined;
}

const uniq = (values: Iterable<string>) => [...new Set(values)];

/** A record's icsRecord entry. */
export function recordEntry(dit: Dit, view: RecordView, maxSelections: number): Entry {
  const { record, verdict, stored } = view;
  const roleOrder = (a: string, b: string) => ROLES.indexOf(a as (typeof ROLES)[number]) - ROLES.indexOf(b as (typeof ROLES)[number]);
  const issuers = uniq(verdict.roles.map((r) => r.issuer));
  const userIds =
    record.type === 'key' ? record.userIds.map((u) => u.userId) : [`${record.statement.subject.name}@${record.statement.subject.version}`];
  const keys = record.type === 'key' ? [record.primaryKey, ...record.subkeys.map((s) => s.key)] : [];
  const digests =
    record.type === 'code'
      ? Object.entries(record.statement.subject.digest)
          .filter((e): e is [string, string] => typeof e[1] === 'string')
          .map(([algorithm, hex]) => `${algorithm}:${hex.toLowerCase()}`)
      : [];
  return new Entry(
    dit.recordDn(record.id),
    [
      ['objectClass', ['top', 'icsRecord']],
      ['icsId', [record.id]],
      ['icsKind', [record.kind]],
      ['icsDomain', view.domains],
      ['icsStatus', verdict.status === null ? [] : [verdict.status]],
      ['icsStatusSetBy', verdict.statusSetBy ? [verdict.statusSetBy.issuer] : []],
      ['icsStatusTime', verdict.statusSetBy ? [generalizedTime(verdict.statusSetBy.at)] : []],
      ['icsRole', uniq(verdict.roles.map((r) => r.role)).sort(roleOrder)],
      ['icsIssuer', issuers],
      ['icsIssuerName', uniq(issuers.map(view.issuerName).filter((n): n is string => n !== undefined))],
      ['icsAllow', [...verdict.authorizations.allow]],
      ['icsDeny', [...verdict.authorizations.deny]],
      ['icsEndorsedBy', uniq(verdict.endorsements.map((e) => e.issuer))],
      ['icsTrusted', [verdict.trusted ? 'TRUE' : 'FALSE']],
      ['icsReason', uniq(verdict.reasons.filter((r) => r.severity === 'fail').map((r) => r.code))],
      ['icsHistorySize', [String(view.historySize)]],
      ['icsUserID', userIds],
      ['icsFingerprint', keys.map((k) => k.fingerprint)],
      ['icsKeyId', keys.map((k) => k.keyId)],
      ['icsCodeName', record.type === 'code' ? [record.statement.subject.name] : []],
      ['icsCodeVersion', record.type === 'code' ? [record.statement.subject.version] : []],
      ['icsCodeDigest', digests],
      ['icsContentTime', [generalizedTime(stored.contentTime)]],
      ['icsUpdated', [generalizedTime(stored.updated)]],
      ['icsDigest', [stored.digest]],
      ['icsMetadata', Object.entries(verdict.metadata).map(([k, v]) => `${k}=${v}`)],
      ['createTimestamp', view.created ? [generalizedTime(view.created)] : []],
      ['modifyTimestamp', [generalizedTime(stored.updated)]],
    ],
    maxSelections,
  );
}
