// JSON Schemas of the admin API's inputs, validated by the host's ajv before a handler runs.
import { noQuery } from '../http/index.ts';
import { MAX_REFERENCE_LENGTH } from '../store/index.ts';

const NAME = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' } as const;
const TEXT = { type: 'string', maxLength: 1024 } as const;

const referenceParams = {
  type: 'object',
  required: ['ref'],
  additionalProperties: false,
  properties: { ref: { type: 'string', minLength: 1, maxLength: MAX_REFERENCE_LENGTH } },
} as const;

const serialParams = {
  type: 'object',
  required: ['serial'],
  additionalProperties: false,
  properties: { serial: { type: 'string', minLength: 1, maxLength: 64, pattern: '^(0x)?[0-9A-Fa-f:]+$' } },
} as const;

/** What a statement says (ics/admin/statements.ts), as JSON. */
const statementProperties = {
  role: NAME,
  status: { type: 'string', minLength: 1, maxLength: 64 },
  allow: { type: 'array', maxItems: 64, items: TEXT },
  deny: { type: 'array', maxItems: 64, items: TEXT },
  metadata: { type: 'object', maxProperties: 64, propertyNames: { pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }, additionalProperties: TEXT },
  expiresInSeconds: { type: 'integer', minimum: 1, maximum: 100 * 365 * 86_400 },
  userId: { type: 'string', minLength: 1, maxLength: 2048 },
} as const;

const noBody = { type: 'null' } as const;

export const adminSchemas = {
  whoami: { querystring: noQuery },
  backup: {
    querystring: { type: 'object', additionalProperties: false, properties: { passphrase: { type: 'string', enum: ['include', 'leave-out'] } } },
  },
  record: { params: referenceParams, querystring: noQuery },
  statement: { params: referenceParams, querystring: noQuery, body: { type: 'object', additionalProperties: false, properties: statementProperties } },
  withdrawal: {
    params: referenceParams,
    querystring: noQuery,
    body: { type: 'object', additionalProperties: false, properties: { reason: TEXT, userId: statementProperties.userId } },
  },
  device: {
    querystring: noQuery,
    body: {
      type: 'object',
      required: ['urn', 'publicKey'],
      additionalProperties: false,
      properties: { ...statementProperties, urn: { type: 'string', minLength: 1, maxLength: 2048 }, publicKey: { type: 'string', minLength: 1, maxLength: 1_048_576 } },
    },
  },
  code: {
    querystring: noQuery,
    body: {
      type: 'object',
      required: ['name', 'version'],
      anyOf: [{ required: ['sha256'] }, { required: ['sha512'] }],
      additionalProperties: false,
      properties: {
        ...statementProperties,
        name: { type: 'string', minLength: 1, maxLength: 256 },
        version: { type: 'string', minLength: 1, maxLength: 128 },
        sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
        sha512: { type: 'string', pattern: '^[0-9a-fA-F]{128}$' },
      },
    },
  },
  submit: {
    querystring: noQuery,
    body: { type: 'object', required: ['armored'], additionalProperties: false, properties: { armored: { type: 'string', minLength: 1, maxLength: 1_048_576 } } },
  },
  syncNow: {
    querystring: noQuery,
    body: { anyOf: [noBody, { type: 'object', additionalProperties: false, properties: { peer: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[1-9A-HJ-NP-Za-km-z]+$' } } }] },
  },
  reload: { querystring: noQuery, body: { anyOf: [noBody, { type: 'object', additionalProperties: false, maxProperties: 0 }] } },
  certificates: {
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        record: { type: 'string', minLength: 1, maxLength: MAX_REFERENCE_LENGTH },
        filter: { type: 'string', enum: ['all', 'valid', 'expiring', 'revoked'] },
        // Query values are strings (no coercion): digits here, bounds in the handler.
        withinSeconds: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' },
        limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
      },
    },
  },
  certificate: { params: serialParams, querystring: noQuery },
  revocation: {
    params: serialParams,
    querystring: noQuery,
    body: { anyOf: [noBody, { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 40 } } }] },
  },
  enrolments: { querystring: noQuery },
  trust: {
    querystring: noQuery,
    body: {
      type: 'object',
      required: ['publicKey', 'roles'],
      additionalProperties: false,
      properties: {
        publicKey: { type: 'string', minLength: 1, maxLength: 1_048_576 },
        roles: { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: NAME },
        name: NAME,
        domains: { type: 'array', maxItems: 256, uniqueItems: true, items: NAME },
      },
    },
  },
  untrust: {
    params: { type: 'object', required: ['fingerprint'], additionalProperties: false, properties: { fingerprint: { type: 'string', pattern: '^(0x)?[0-9A-Fa-f]{40}$' } } },
    querystring: noQuery,
    body: { anyOf: [noBody, { type: 'object', additionalProperties: false, maxProperties: 0 }] },
  },
  approval: { params: referenceParams, querystring: noQuery, body: { anyOf: [noBody, { type: 'object', additionalProperties: false, maxProperties: 0 }] } },
} as const;
