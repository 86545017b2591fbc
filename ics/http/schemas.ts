// JSON Schemas the host and its plugins share, validated by fastify's ajv before a handler
// runs. ajv coerces nothing and removes nothing (see app.ts): a request is taken as sent.

/** A query string with no variables at all. */
export const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

/** A route that takes no input. */
export const noInputSchema = { querystring: noQuery } as const;
