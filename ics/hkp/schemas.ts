// JSON Schemas of what the HKP endpoints take (query strings and bodies), validated by the
// host's ajv before a handler runs. Repeated query variables arrive as arrays and fail
// `type: string`.
import { MAX_SEARCH_LENGTH } from './limits.ts';

/**
 * /pks/lookup (HKP §3): `op` required; `search`, `options`, `exact`, `fingerprint` each at
 * most once. Other variables are allowed and ignored, as HKP asks of servers.
 */
export const lookupSchema = {
  querystring: {
    type: 'object',
    required: ['op'],
    properties: {
      op: { type: 'string', minLength: 1, maxLength: 32 },
      search: { type: 'string', minLength: 1, maxLength: MAX_SEARCH_LENGTH },
      options: { type: 'string', maxLength: 64 },
      exact: { type: 'string', enum: ['on', 'off'] },
      fingerprint: { type: 'string', enum: ['on', 'off'] },
    },
  },
} as const;

/** /pks/add (HKP §4): form-encoded `keytext` (what GnuPG sends), or the key material itself. */
export const addSchema = {
  querystring: { type: 'object', properties: { options: { type: 'string', maxLength: 64 } } },
  body: {
    content: {
      // Decoded and checked in the route (one non-blank keytext field): see ics/http/submission-body.ts.
      'application/x-www-form-urlencoded': { schema: {} },
      'application/pgp-keys': { schema: {} },
    },
  },
} as const;
