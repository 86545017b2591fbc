// JSON Schemas of every input the JSON API takes (query strings, path parameters, bodies),
// validated by the host's ajv before a handler runs, and the schema of the verdict answer.
// Repeated query variables arrive as arrays and fail `type: string`.
import { createRequire } from 'node:module';
import { noQuery } from '../http/index.ts';
import { MAX_REFERENCE_LENGTH } from '../store/index.ts';
import { MAX_SIGNATURE_TEXT, MAX_SIGNATURES_PER_SUBMISSION } from './limits.ts';

const require = createRequire(import.meta.url);
const { $schema: _meta, $id: _id, ...codeStatement } = require('../../schemas/code-statement.schema.json') as Record<string, unknown>;

/** A code record id; either case accepted, answered lower-case. */
export const CODE_ID_PATTERN = '^sha256:[0-9a-fA-F]{64}$';

const idParams = (pattern: string) =>
  ({ type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern } } }) as const;

/**
 * A record reference as `ics verify` takes it: fingerprint (optionally 0x), long key id, code
 * id or exact user ID, URL-encoded. Its form is checked by the store's resolver, which tells
 * a malformed id (400) from a user ID nobody holds (404).
 */
const referenceParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: MAX_REFERENCE_LENGTH } },
} as const;

export const recordSchema = { params: referenceParams, querystring: noQuery } as const;
export const codeRecordSchema = { params: idParams(CODE_ID_PATTERN), querystring: noQuery } as const;

export const codeByDigestSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    properties: {
      sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
      sha512: { type: 'string', pattern: '^[0-9a-fA-F]{128}$' },
    },
  },
} as const;

const signatureList = {
  type: 'array',
  minItems: 1,
  maxItems: MAX_SIGNATURES_PER_SUBMISSION,
  items: { type: 'string', minLength: 1, maxLength: MAX_SIGNATURE_TEXT },
} as const;

/** Raw record bodies: binary packets, or armored text. */
const rawBodies = {
  'application/pgp-keys': { schema: {} },
  'application/octet-stream': { schema: {} },
  'text/plain': { schema: { type: 'string', minLength: 1 } },
} as const;

/** POST /ics/v1/code: a statement with detached signatures (armored or base64), or a code record. */
export const publishCodeSchema = {
  querystring: noQuery,
  body: {
    content: {
      'application/json': {
        schema: {
          type: 'object',
          additionalProperties: false,
          required: ['statement', 'signatures'],
          properties: { statement: codeStatement, signatures: signatureList },
        },
      },
      ...rawBodies,
    },
  },
} as const;

/** POST /ics/v1/code/{id}/signatures: detached signatures over a statement the node holds. */
export const addCodeSignaturesSchema = {
  params: idParams(CODE_ID_PATTERN),
  querystring: noQuery,
  body: {
    content: {
      'application/json': {
        schema: { type: 'object', additionalProperties: false, required: ['signatures'], properties: { signatures: signatureList } },
      },
    },
  },
} as const;

/** POST /ics/v1/records: one or more records (a keyring), binary or armored. */
export const submitRecordsSchema = { querystring: noQuery, body: { content: rawBodies } } as const;

const nullableString = { type: ['string', 'null'] } as const;
const issuerRef = { issuer: { type: 'string' }, issuerName: nullableString } as const;

/** GET /ics/v1/verify/{ref}: the path parameter; the answer's shape is VERDICT_SCHEMA. */
export const verifySchema = {
  params: referenceParams,
  // proof=1: the verdict with the record and its inclusion in the transparency log (api/log.ts).
  querystring: { type: 'object', additionalProperties: false, properties: { proof: { type: 'string', enum: ['0', '1'] } } },
} as const;

/**
 * The verdict answer (GET /ics/v1/verify/{id}, and `verdict` in GET /ics/v1/code/{id}): the
 * contract gateways program against. The answer is built once per record version (see
 * verdicts.ts) rather than serialised per request; test/api/api.test.ts checks it against this.
 */
export const VERDICT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'kind', 'digest', 'trusted', 'status', 'statusSetBy', 'roles', 'authorizations', 'endorsements', 'metadata', 'reasons', 'domains', 'checkedAt', 'validUntil'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    digest: { type: 'string' },
    trusted: { type: 'boolean' },
    status: nullableString,
    statusSetBy: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: { ...issuerRef, role: { type: 'string' }, at: { type: 'string' } },
    },
    roles: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: { role: { type: 'string' }, ...issuerRef, since: { type: 'string' }, expires: nullableString },
      },
    },
    authorizations: {
      type: 'object',
      additionalProperties: false,
      properties: { allow: { type: 'array', items: { type: 'string' } }, deny: { type: 'array', items: { type: 'string' } } },
    },
    endorsements: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...issuerRef,
          at: { type: 'string' },
          expires: nullableString,
          metadata: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
    reasons: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: { code: { type: 'string' }, severity: { type: 'string' }, message: { type: 'string' }, issuer: nullableString, issuerName: nullableString },
      },
    },
    domains: { type: 'array', items: { type: 'string' } },
    checkedAt: { type: 'string' },
    validUntil: nullableString,
  },
} as const;
