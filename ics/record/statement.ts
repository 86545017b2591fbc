// Code statements (DESIGN §2): the JSON a code record's signatures sign, validated
// against schemas/code-statement.schema.json and canonicalised by RFC 8785 (JCS).
import { createRequire } from 'node:module';
import AjvModule from 'ajv';
import canonicalize from 'canonicalize';
import { IcsError } from '../errors.ts';
import type { CodeStatement } from './types.ts';

const require = createRequire(import.meta.url);
const schema = require('../../schemas/code-statement.schema.json') as object;
// ajv ships CommonJS; its default export is the class under NodeNext resolution.
const Ajv = AjvModule as unknown as typeof AjvModule.default;
const validate = new Ajv({ allErrors: true, strict: true }).compile<CodeStatement>(schema);

/** Checks a parsed JSON value against the statement schema; returns it typed, or throws. */
export function checkStatement(value: unknown): CodeStatement {
  if (!validate(value)) {
    const reasons = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
    throw new IcsError('RECORD_MALFORMED', `invalid code statement: ${reasons.join('; ')}`, {
      details: { reasons },
    });
  }
  return value;
}

/** RFC 8785 bytes of a statement. */
export function canonicalStatement(statement: CodeStatement): Uint8Array {
  const text = canonicalize(checkStatement(statement));
  if (text === undefined) throw new IcsError('RECORD_MALFORMED', 'statement cannot be canonicalised');
  return Buffer.from(text, 'utf8');
}

/**
 * Reads statement bytes as received: they MUST already be the RFC 8785 form, since the
 * signatures are over these exact bytes and a second encoding would be a second identity.
 */
export function readCanonicalStatement(bytes: Uint8Array): CodeStatement {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new IcsError('RECORD_MALFORMED', 'code statement is not UTF-8 JSON', { cause });
  }
  const statement = checkStatement(value);
  if (!Buffer.from(canonicalStatement(statement)).equals(bytes)) {
    throw new IcsError('RECORD_MALFORMED', 'code statement is not in RFC 8785 canonical form');
  }
  return statement;
}

/** A statement for an artifact: at least one of sha256 / sha512 (lower-case hex). */
export function codeStatement(name: string, version: string, digest: { sha256?: string; sha512?: string }): CodeStatement {
  return checkStatement({ type: 'cm4it.code/v1', subject: { name, version, digest: { ...digest } } });
}
