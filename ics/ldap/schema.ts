// The directory schema this server serves: the standard attributes it uses, GnuPG's
// keyserver schema (../shared/reference/gnupg-ldap-schema.ldif, GnuPG doc/ldap/) and the ICS
// schema published in schemas/ics-ldap-schema.ldif (test/ldap/schema.test.ts keeps the two in
// step). Names are matched case-insensitively and by OID (RFC 4512 §2.5).

/**
 * The arc of the ICS attributes and object classes: 1.3.6.1.4.1.32473 is the private enterprise
 * number IANA reserves for documentation (RFC 5612). It is this project's EXAMPLE arc; a
 * deployment that publishes the schema to others should move it under its own enterprise number.
 */
export const ICS_ARC = '1.3.6.1.4.1.32473.1';

/** How values of an attribute compare (RFC 4517 §4.2); selects equality, ordering and substrings. */
export type Matching = 'caseIgnore' | 'caseIgnoreIA5' | 'integer' | 'generalizedTime' | 'boolean' | 'dn' | 'objectClass' | 'octets';

export interface AttributeType {
  /** Canonical name, as returned in entries. */
  readonly name: string;
  readonly oid: string;
  readonly matching: Matching;
  /** Ordering (`>=`, `<=`) is defined. */
  readonly ordered: boolean;
  /** Substring assertions are defined. */
  readonly substrings: boolean;
  readonly single: boolean;
  /** Operational attributes are returned only when named or with `+` (RFC 4511 §4.5.1.8). */
  readonly operational: boolean;
  readonly syntax: string;
  readonly description: string;
}

const SYNTAX = {
  directoryString: '1.3.6.1.4.1.1466.115.121.1.15',
  ia5String: '1.3.6.1.4.1.1466.115.121.1.26',
  integer: '1.3.6.1.4.1.1466.115.121.1.27',
  generalizedTime: '1.3.6.1.4.1.1466.115.121.1.24',
  boolean: '1.3.6.1.4.1.1466.115.121.1.7',
  dn: '1.3.6.1.4.1.1466.115.121.1.12',
  oid: '1.3.6.1.4.1.1466.115.121.1.38',
} as const;

type Options = Partial<Pick<AttributeType, 'ordered' | 'substrings' | 'single' | 'operational' | 'syntax'>>;

function attr(name: string, oid: string, matching: Matching, description: string, options: Options = {}): AttributeType {
  const syntax =
    options.syntax ??
    {
      caseIgnore: SYNTAX.directoryString,
      caseIgnoreIA5: SYNTAX.ia5String,
      integer: SYNTAX.integer,
      generalizedTime: SYNTAX.generalizedTime,
      boolean: SYNTAX.boolean,
      dn: SYNTAX.dn,
      objectClass: SYNTAX.oid,
      octets: SYNTAX.ia5String,
    }[matching];
  return {
    name,
    oid,
    matching,
    ordered: options.ordered ?? false,
    substrings: options.substrings ?? false,
    single: options.single ?? false,
    operational: options.operational ?? false,
    syntax,
    description,
  };
}

const ics = (n: number) => `${ICS_ARC}.1.${n}`;

/** Standard attributes (RFC 4512, 4519, 3045) this directory uses. */
const STANDARD: readonly AttributeType[] = [
  attr('objectClass', '2.5.4.0', 'objectClass', 'object classes of the entry'),
  attr('cn', '2.5.4.3', 'caseIgnore', 'common name', { substrings: true }),
  attr('ou', '2.5.4.11', 'caseIgnore', 'organizational unit name', { substrings: true }),
  attr('dc', '0.9.2342.19200300.100.1.25', 'caseIgnoreIA5', 'domain component', { substrings: true }),
  attr('o', '2.5.4.10', 'caseIgnore', 'organization name', { substrings: true }),
  attr('description', '2.5.4.13', 'caseIgnore', 'description', { substrings: true }),
  attr('createTimestamp', '2.5.18.1', 'generalizedTime', 'when the record was first stored here', { ordered: true, single: true, operational: true }),
  attr('modifyTimestamp', '2.5.18.2', 'generalizedTime', 'when this node last accepted a change to the record', {
    ordered: true,
    single: true,
    operational: true,
  }),
  attr('namingContexts', '1.3.6.1.4.1.1466.101.120.5', 'dn', 'naming contexts', { operational: true }),
  attr('supportedLDAPVersion', '1.3.6.1.4.1.1466.101.120.15', 'integer', 'LDAP versions', { operational: true }),
  attr('supportedControl', '1.3.6.1.4.1.1466.101.120.13', 'objectClass', 'controls', { operational: true }),
  attr('supportedExtension', '1.3.6.1.4.1.1466.101.120.7', 'objectClass', 'extended operations', { operational: true }),
  attr('supportedSASLMechanisms', '1.3.6.1.4.1.1466.101.120.14', 'caseIgnore', 'SASL mechanisms', { operational: true }),
  attr('vendorName', '1.3.6.1.1.4', 'caseIgnore', 'software', { single: true, operational: true }),
  attr('vendorVersion', '1.3.6.1.1.5', 'caseIgnore', 'software version', { single: true, operational: true }),
  attr('entryDN', '1.3.6.1.1.20', 'dn', 'the entry DN', { single: true, operational: true }),
];

/** GnuPG's keyserver schema (GnuPG doc/ldap/gnupg-ldap-schema.ldif), OIDs as GnuPG assigns them. */
export const GNUPG_ATTRIBUTES: readonly AttributeType[] = [
  attr('pgpBaseKeySpaceDN', '1.3.6.1.4.1.3401.8.2.8', 'dn', 'DN of the object that stores the PGP keys', { single: true }),
  attr('pgpSoftware', '1.3.6.1.4.1.3401.8.2.9', 'caseIgnore', 'origin of the schema', { single: true }),
  attr('pgpVersion', '1.3.6.1.4.1.3401.8.2.10', 'caseIgnore', 'version of the schema', { single: true }),
  attr('pgpKey', '1.3.6.1.4.1.3401.8.2.11', 'octets', 'OpenPGP public key block', { single: true }),
  attr('pgpCertID', '1.3.6.1.4.1.3401.8.2.12', 'caseIgnore', 'OpenPGP long key id', { single: true, substrings: true }),
  attr('pgpDisabled', '1.3.6.1.4.1.3401.8.2.13', 'caseIgnore', 'pgpDisabled attribute for PGP', { single: true }),
  attr('pgpKeyID', '1.3.6.1.4.1.3401.8.2.14', 'caseIgnore', 'OpenPGP short key id', { single: true, substrings: true }),
  attr('pgpKeyType', '1.3.6.1.4.1.3401.8.2.15', 'caseIgnore', 'pgpKeyType attribute for PGP', { single: true, substrings: true }),
  attr('pgpUserID', '1.3.6.1.4.1.3401.8.2.16', 'caseIgnore', 'User ID(s) associated with the key', { substrings: true }),
  attr('pgpKeyCreateTime', '1.3.6.1.4.1.3401.8.2.17', 'caseIgnore', 'Primary key creation time', {
    single: true,
    ordered: true,
    substrings: true,
  }),
  attr('pgpSignerID', '1.3.6.1.4.1.3401.8.2.18', 'caseIgnore', 'pgpSignerID attribute for PGP', { substrings: true }),
  attr('pgpRevoked', '1.3.6.1.4.1.3401.8.2.19', 'caseIgnore', 'pgpRevoked attribute for PGP', { single: true }),
  attr('pgpSubKeyID', '1.3.6.1.4.1.3401.8.2.20', 'caseIgnore', 'OpenPGP long Subkey ID(s) of the PGP key', { substrings: true }),
  attr('pgpKeySize', '1.3.6.1.4.1.3401.8.2.21', 'caseIgnore', 'pgpKeySize attribute for PGP', { ordered: true, substrings: true }),
  attr('pgpKeyExpireTime', '1.3.6.1.4.1.3401.8.2.22', 'caseIgnore', 'pgpKeyExpireTime attribute for PGP', {
    single: true,
    ordered: true,
    substrings: true,
  }),
  attr('gpgFingerprint', '1.3.6.1.4.1.11591.2.4.1.1', 'caseIgnore', 'Fingerprint of the primary key', { single: true, substrings: true }),
  attr('gpgSubFingerprint', '1.3.6.1.4.1.11591.2.4.1.2', 'caseIgnore', 'Fingerprints of the secondary keys', { substrings: true }),
  attr('gpgMailbox', '1.3.6.1.4.1.11591.2.4.1.3', 'caseIgnore', 'The utf8 encoded addr-spec of a mailbox', { substrings: true }),
];

/** The ICS schema (schemas/ics-ldap-schema.ldif): what a gateway filters on. */
export const ICS_ATTRIBUTES: readonly AttributeType[] = [
  attr('icsId', ics(1), 'caseIgnoreIA5', 'record id: v4 fingerprint (keys) or sha256:<hex> of the code statement', { single: true }),
  attr('icsKind', ics(2), 'caseIgnoreIA5', 'device, gateway, service, org, key or code', { single: true }),
  attr('icsDomain', ics(3), 'caseIgnoreIA5', 'policy domain the record belongs to'),
  attr('icsStatus', ics(4), 'caseIgnoreIA5', 'current status (status@cm4it.org) under this node policy', { single: true, substrings: true }),
  attr('icsStatusSetBy', ics(5), 'caseIgnoreIA5', 'fingerprint of the issuer whose statement set the status', { single: true }),
  attr('icsStatusTime', ics(6), 'generalizedTime', 'creation time of the statement that set the status', { single: true, ordered: true }),
  attr('icsRole', ics(7), 'caseIgnoreIA5', 'role held by a valid statement of a trusted issuer'),
  attr('icsIssuer', ics(8), 'caseIgnoreIA5', 'fingerprint of a trusted issuer holding a role on the record'),
  attr('icsIssuerName', ics(9), 'caseIgnore', 'policy name of a trusted issuer holding a role on the record', { substrings: true }),
  attr('icsAllow', ics(10), 'caseIgnore', 'authorization granted (allow@cm4it.org), after denials', { substrings: true }),
  attr('icsDeny', ics(11), 'caseIgnore', 'authorization denied (deny@cm4it.org)', { substrings: true }),
  attr('icsEndorsedBy', ics(12), 'caseIgnoreIA5', 'fingerprint of a certifier whose endorsement is valid'),
  attr('icsTrusted', ics(13), 'boolean', 'the verdict: TRUE when a gateway may trust the entity', { single: true }),
  attr('icsReason', ics(14), 'caseIgnoreIA5', 'code of a reason the verdict fails (e.g. STATUS_TERMINAL, ROLE_MISSING)'),
  attr('icsHistorySize', ics(15), 'integer', 'number of accepted changes in the record history', { single: true, ordered: true }),
  attr('icsUserID', ics(16), 'caseIgnore', 'user ID of a key, or name@version of code', { substrings: true }),
  attr('icsFingerprint', ics(17), 'caseIgnoreIA5', 'fingerprint of the primary key or of a subkey'),
  attr('icsKeyId', ics(18), 'caseIgnoreIA5', 'long key id of the primary key or of a subkey'),
  attr('icsCodeName', ics(19), 'caseIgnore', 'code statement subject name', { single: true, substrings: true }),
  attr('icsCodeVersion', ics(20), 'caseIgnore', 'code statement subject version', { single: true, substrings: true }),
  attr('icsCodeDigest', ics(21), 'caseIgnoreIA5', 'code digest as <algorithm>:<hex>'),
  attr('icsContentTime', ics(22), 'generalizedTime', 'creation time of the newest signature in the record', { single: true, ordered: true }),
  attr('icsUpdated', ics(23), 'generalizedTime', 'when this node last accepted a change to the record', { single: true, ordered: true }),
  attr('icsDigest', ics(24), 'caseIgnoreIA5', 'sha256 of the canonical record bytes', { single: true }),
  attr('icsMetadata', ics(25), 'caseIgnore', 'metadata (key=value) from valid statements', { substrings: true }),
];

export interface ObjectClass {
  readonly name: string;
  readonly oid: string;
  readonly kind: 'STRUCTURAL' | 'AUXILIARY' | 'ABSTRACT';
  readonly must: readonly string[];
  readonly may: readonly string[];
  readonly description: string;
}

export const ICS_RECORD_CLASS: ObjectClass = {
  name: 'icsRecord',
  oid: `${ICS_ARC}.2.1`,
  kind: 'STRUCTURAL',
  must: ['icsId', 'icsKind'],
  may: ICS_ATTRIBUTES.map((a) => a.name).filter((n) => n !== 'icsId' && n !== 'icsKind'),
  description: 'A CM4IT ICS identity record (device, gateway, service, organisation, key or code) as this node judges it',
};

export const PGP_KEY_INFO_CLASS: ObjectClass = {
  name: 'pgpKeyInfo',
  oid: '1.3.6.1.4.1.3401.8.2.24',
  kind: 'STRUCTURAL',
  must: ['pgpCertID', 'pgpKey'],
  may: [
    'pgpDisabled',
    'pgpKeyID',
    'pgpKeyType',
    'pgpUserID',
    'pgpKeyCreateTime',
    'pgpSignerID',
    'pgpRevoked',
    'pgpSubKeyID',
    'pgpKeySize',
    'pgpKeyExpireTime',
    'gpgFingerprint',
    'gpgSubFingerprint',
    'gpgMailbox',
  ],
  description: 'An OpenPGP public keyblock',
};

export const PGP_SERVER_INFO_CLASS: ObjectClass = {
  name: 'pgpServerInfo',
  oid: '1.3.6.1.4.1.3401.8.2.23',
  kind: 'STRUCTURAL',
  must: ['cn', 'pgpBaseKeySpaceDN'],
  may: ['pgpSoftware', 'pgpVersion'],
  description: 'An OpenPGP public keyblock store',
};

const CLASSES: ReadonlyArray<{ name: string; oid: string }> = [
  { name: 'top', oid: '2.5.6.0' },
  { name: 'organizationalUnit', oid: '2.5.6.5' },
  { name: 'organization', oid: '2.5.6.4' },
  { name: 'dcObject', oid: '1.3.6.1.4.1.1466.344' },
  { name: 'extensibleObject', oid: '1.3.6.1.4.1.1466.101.120.111' },
  PGP_SERVER_INFO_CLASS,
  PGP_KEY_INFO_CLASS,
  ICS_RECORD_CLASS,
];

export const ALL_ATTRIBUTES: readonly AttributeType[] = [...STANDARD, ...GNUPG_ATTRIBUTES, ...ICS_ATTRIBUTES];

const byKey = new Map<string, AttributeType>();
for (const a of ALL_ATTRIBUTES) {
  byKey.set(a.name.toLowerCase(), a);
  byKey.set(a.oid, a);
}
const classByKey = new Map<string, string>();
for (const c of CLASSES) {
  classByKey.set(c.name.toLowerCase(), c.name.toLowerCase());
  classByKey.set(c.oid, c.name.toLowerCase());
}

/**
 * The attribute an attribute description names (RFC 4512 §2.5): by name or OID, any case,
 * options (`;binary`, `;lang-…`) ignored. Undefined when this directory has no such type.
 */
export function attributeType(description: string): AttributeType | undefined {
  const semicolon = description.indexOf(';');
  const base = (semicolon === -1 ? description : description.slice(0, semicolon)).toLowerCase();
  return byKey.get(base);
}

/** The lower-case name of an object class given by name or OID, or undefined if unknown. */
export function objectClassName(value: string): string | undefined {
  return classByKey.get(value.trim().toLowerCase());
}

/** pgpKeyInfo attributes a client may send with a key; all are derived from the key itself. */
export const PGP_KEY_INFO_ATTRIBUTES: ReadonlySet<string> = new Set(['objectclass', ...[...PGP_KEY_INFO_CLASS.must, ...PGP_KEY_INFO_CLASS.may].map((n) => n.toLowerCase())]);

const RULES: Record<Matching, { equality?: string; ordering?: string; substr?: string }> = {
  caseIgnore: { equality: 'caseIgnoreMatch', ordering: 'caseIgnoreOrderingMatch', substr: 'caseIgnoreSubstringsMatch' },
  caseIgnoreIA5: { equality: 'caseIgnoreIA5Match', substr: 'caseIgnoreIA5SubstringsMatch' },
  integer: { equality: 'integerMatch', ordering: 'integerOrderingMatch' },
  generalizedTime: { equality: 'generalizedTimeMatch', ordering: 'generalizedTimeOrderingMatch' },
  boolean: { equality: 'booleanMatch' },
  dn: { equality: 'distinguishedNameMatch' },
  objectClass: { equality: 'objectIdentifierMatch' },
  octets: {},
};

/** The RFC 4512 §4.1.2 description of an attribute type, as OpenLDAP's olcAttributeTypes take it. */
export function attributeTypeDescription(a: AttributeType): string {
  const rules = RULES[a.matching];
  const parts = [`${a.oid}`, `NAME '${a.name}'`, `DESC '${a.description}'`];
  if (rules.equality) parts.push(`EQUALITY ${rules.equality}`);
  if (a.ordered && rules.ordering) parts.push(`ORDERING ${rules.ordering}`);
  if (a.substrings && rules.substr) parts.push(`SUBSTR ${rules.substr}`);
  parts.push(`SYNTAX ${a.syntax}`);
  if (a.single) parts.push('SINGLE-VALUE');
  return `( ${parts.join(' ')} )`;
}

/** The RFC 4512 §4.1.1 description of an object class. */
export function objectClassDescription(c: ObjectClass): string {
  return `( ${c.oid} NAME '${c.name}' DESC '${c.description}' SUP top ${c.kind} MUST ( ${c.must.join(' $ ')} ) MAY ( ${c.may.join(' $ ')} ) )`;
}
