// Compare (RFC 4511 §4.10): whether an entry the reader may see holds an attribute value.
// An entry it may not see is answered as one that does not exist (noSuchObject).
import { compareValues } from '../filter.ts';
import { DecodeError, type RequestOf } from '../ldapjs.ts';
import { Op, type Result, ResultCode } from '../protocol.ts';
import { attributeType } from '../schema.ts';
import type { SessionScope } from '../session-context.ts';

export async function compareOperation(scope: SessionScope, request: RequestOf<'compare'>): Promise<void> {
  scope.connection.respond(request.messageId, Op.compareRequest, await compare(scope, request));
}

async function compare(scope: SessionScope, request: RequestOf<'compare'>): Promise<Result> {
  const dir = scope.ctx.directory;
  let target;
  try {
    target = dir.dit.resolve(request.entry);
  } catch (error) {
    if (error instanceof DecodeError) return { code: ResultCode.invalidDNSyntax, message: error.message };
    throw error;
  }
  const reader = dir.reader(scope.identity.principal);
  let entry;
  switch (target.node) {
    case 'root':
      entry = dir.rootDse;
      break;
    case 'base':
      entry = dir.base;
      break;
    case 'serverInfo':
      entry = dir.serverInfo;
      break;
    case 'keys':
      entry = dir.keys;
      break;
    case 'records':
      entry = dir.records;
      break;
    case 'key': {
      const [stored] = await dir.keyRecords(reader, target.keyId);
      if (stored) entry = await dir.keyEntry(stored);
      break;
    }
    case 'record': {
      const stored = await dir.record(reader, target.id);
      if (stored) entry = await dir.recordEntry(reader, stored);
      break;
    }
    default:
      break;
  }
  if (!entry) return { code: ResultCode.noSuchObject, message: 'no such entry' };
  const type = attributeType(request.attribute);
  if (!type) return { code: ResultCode.undefinedAttributeType, message: `unknown attribute ${request.attribute}` };
  if (!entry.has(type.name.toLowerCase())) return { code: ResultCode.noSuchAttribute, message: `the entry has no ${type.name}` };
  const result = compareValues(type, entry, request.value);
  if (result === undefined) return { code: ResultCode.invalidAttributeSyntax, message: `not a valid ${type.name} value` };
  return { code: result ? ResultCode.compareTrue : ResultCode.compareFalse };
}
