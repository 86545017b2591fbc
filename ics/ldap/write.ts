// Writes (RFC 4511 §4.6 modify, §4.7 add) of pgpKeyInfo entries, the way GnuPG's
// `--send-keys` makes them (dirmngr ks-engine-ldap.c ks_ldap_put: a modify replacing every
// attribute, then an add if the entry does not exist). Every other attribute of pgpKeyInfo is
// derived from the key, so only `pgpKey` counts: it goes through the one write path (Ingest:
// verify, policy, merge with the stored copy), so a key sent without signatures this node
// holds never removes them. Records are never deleted or renamed here.
import { IcsError, isIcsError } from '../errors.ts';
import type { RecordSubmitter } from '../ingest/index.ts';
import { DEFAULT_LIMITS, parseRecord } from '../record/index.ts';
import type { Directory, Reader } from './directory.ts';
import type { Target } from './dit.ts';
import { DecodeError, type DecodedAttribute } from './ldapjs.ts';
import { MAX_VALUES_PER_ATTRIBUTE } from './limits.ts';
import { type Result, ResultCode } from './protocol.ts';
import { attributeType, objectClassName, PGP_KEY_INFO_ATTRIBUTES } from './schema.ts';

/** Who asks to write: an authenticated user allowed to (config `auth.users[].write`). */
export interface Writer {
  readonly reader: Reader;
  readonly name: string | undefined;
  readonly mayWrite: boolean;
  /** For the event log: `user@address`. */
  readonly origin: string;
}

const KEY_CLASSES = new Set(['top', 'pgpkeyinfo']);

/** The key entry a write names, or the result refusing it. */
function keyTarget(dir: Directory, dn: string): { keyId: string } | Result {
  let target: Target;
  try {
    target = dir.dit.resolve(dn);
  } catch (error) {
    if (error instanceof DecodeError) return { code: ResultCode.invalidDNSyntax, message: error.message };
    throw error;
  }
  switch (target.node) {
    case 'key':
      return { keyId: target.keyId };
    case 'none':
      return { code: ResultCode.noSuchObject, matchedDn: target.matched, message: 'no such entry' };
    case 'keys':
    case 'base':
    case 'serverInfo':
    case 'records':
    case 'root':
      return { code: ResultCode.unwillingToPerform, message: 'this entry is part of the directory layout and cannot be written' };
    case 'record':
      return { code: ResultCode.unwillingToPerform, message: 'icsRecord entries are derived from the records: send the key or signatures instead' };
    case 'user':
      return { code: ResultCode.unwillingToPerform, message: 'users are configured on the node, not over LDAP' };
  }
}

function refuseUnlessWriter(writer: Writer): Result | undefined {
  if (writer.mayWrite) return undefined;
  return {
    code: ResultCode.insufficientAccessRights,
    message: writer.name === undefined ? 'writes need a bind as a user allowed to write' : `user ${writer.name} may not write`,
  };
}

/** Checks one attribute of a pgpKeyInfo write: known, allowed in the class, sane object classes. */
function checkAttribute(attribute: DecodedAttribute): Result | undefined {
  const type = attributeType(attribute.type);
  if (!type) return { code: ResultCode.undefinedAttributeType, message: `unknown attribute ${attribute.type}` };
  const name = type.name.toLowerCase();
  if (!PGP_KEY_INFO_ATTRIBUTES.has(name)) return { code: ResultCode.objectClassViolation, message: `${type.name} is not an attribute of pgpKeyInfo` };
  if (attribute.values.length > MAX_VALUES_PER_ATTRIBUTE) return { code: ResultCode.adminLimitExceeded, message: `more than ${MAX_VALUES_PER_ATTRIBUTE} values of ${type.name}` };
  if (name === 'objectclass') {
    for (const v of attribute.values) {
      const c = objectClassName(v);
      if (!c || !KEY_CLASSES.has(c)) return { code: ResultCode.objectClassViolation, message: `object class ${v} is not allowed here (pgpKeyInfo entries only)` };
    }
  }
  return undefined;
}

function resultOf(error: unknown): Result {
  if (isIcsError(error)) return { code: error.ldapResultCode, message: error.publicMessage };
  throw error;
}

/** Verifies, admits and merges the key through Ingest; the DN must name the key sent. */
async function store(ingest: RecordSubmitter, writer: Writer, keyId: string, armored: string, maxBytes: number): Promise<Result> {
  if (Buffer.byteLength(armored) > maxBytes) {
    return resultOf(new IcsError('LIMIT_EXCEEDED', `pgpKey of ${Buffer.byteLength(armored)} bytes exceeds ${maxBytes}`));
  }
  let id: string;
  try {
    // Which key it is, before anything is stored: third-party signatures are not verified
    // here (no issuer keys), Ingest verifies everything again with the policy's issuers.
    const { record } = await parseRecord(armored);
    if (record.type !== 'key') return { code: ResultCode.objectClassViolation, message: 'pgpKey must hold an OpenPGP public key' };
    id = record.id;
  } catch (error) {
    return resultOf(error);
  }
  if (!id.endsWith(keyId)) {
    return { code: ResultCode.namingViolation, message: `the key sent is ${id.slice(-16).toUpperCase()}, not the one the DN names (${keyId.toUpperCase()})` };
  }
  try {
    const outcome = await ingest.submit(armored, {
      source: 'ldap',
      origin: writer.origin,
      // Writes land only where the writer may read; other records are as if absent (ingest.ts).
      readable: (domain) => writer.reader.readableSet.has(domain),
    });
    const dropped = outcome.dropped.length > 0 ? `; ${outcome.dropped.length} signature(s) not kept` : '';
    return { code: ResultCode.success, message: `${outcome.action}, ${outcome.signaturesAdded} signature(s) added${dropped}` };
  } catch (error) {
    return resultOf(error);
  }
}

/** Add (RFC 4511 §4.7): a pgpKeyInfo entry under the key space, named by its long key id. */
export async function add(
  dir: Directory,
  ingest: RecordSubmitter,
  writer: Writer,
  request: { entry: string; attributes: readonly DecodedAttribute[] },
  maxKeyBytes: number = DEFAULT_LIMITS.maxArmoredBytes,
): Promise<Result> {
  const target = keyTarget(dir, request.entry);
  if ('code' in target) {
    if (target.code === ResultCode.noSuchObject && target.matchedDn === dir.dit.keysDn) {
      return { code: ResultCode.namingViolation, message: `entries under ${dir.dit.keysDn} are named pgpCertID=<long key id>` };
    }
    return target;
  }
  const refused = refuseUnlessWriter(writer);
  if (refused) return refused;
  let key: readonly string[] | undefined;
  let classes: readonly string[] = [];
  for (const attribute of request.attributes) {
    const bad = checkAttribute(attribute);
    if (bad) return bad;
    const name = attributeType(attribute.type)?.name.toLowerCase();
    if (name === 'pgpkey') key = attribute.values;
    if (name === 'objectclass') classes = attribute.values.map((v) => objectClassName(v) ?? v);
  }
  if (!classes.includes('pgpkeyinfo')) return { code: ResultCode.objectClassViolation, message: 'the entry must be of object class pgpKeyInfo' };
  if (!key || key.length === 0) return { code: ResultCode.objectClassViolation, message: 'pgpKeyInfo requires pgpKey' };
  if (key.length > 1) return { code: ResultCode.constraintViolation, message: 'pgpKey is single-valued' };
  if ((await dir.keyRecords(writer.reader, target.keyId)).length > 0) {
    return { code: ResultCode.entryAlreadyExists, message: 'the key is stored: modify the entry to merge new signatures' };
  }
  return store(ingest, writer, target.keyId, key[0] as string, maxKeyBytes);
}

/**
 * Modify (RFC 4511 §4.6) of an existing pgpKeyInfo entry. GnuPG replaces every attribute;
 * all but pgpKey are derived and ignored, pgpKey is merged. Removing pgpKey is refused.
 */
export async function modify(
  dir: Directory,
  ingest: RecordSubmitter,
  writer: Writer,
  request: { object: string; changes: ReadonlyArray<{ operation: string; attribute: DecodedAttribute }> },
  maxKeyBytes: number = DEFAULT_LIMITS.maxArmoredBytes,
): Promise<Result> {
  const target = keyTarget(dir, request.object);
  if ('code' in target) return target;
  const refused = refuseUnlessWriter(writer);
  if (refused) return refused;
  let key: string | undefined;
  for (const { operation, attribute } of request.changes) {
    const bad = checkAttribute(attribute);
    if (bad) return bad;
    const name = attributeType(attribute.type)?.name.toLowerCase();
    if (name !== 'pgpkey') continue;
    if (operation === 'delete' || attribute.values.length === 0) {
      return { code: ResultCode.unwillingToPerform, message: 'keys are merged, never removed: revoke or withdraw signatures instead' };
    }
    if (attribute.values.length > 1 || key !== undefined) return { code: ResultCode.constraintViolation, message: 'pgpKey is single-valued' };
    key = attribute.values[0];
  }
  if ((await dir.keyRecords(writer.reader, target.keyId)).length === 0) {
    return { code: ResultCode.noSuchObject, matchedDn: dir.dit.keysDn, message: 'no such entry' };
  }
  if (key === undefined) return { code: ResultCode.success, message: 'nothing to change: pgpKeyInfo attributes are derived from pgpKey' };
  return store(ingest, writer, target.keyId, key, maxKeyBytes);
}
