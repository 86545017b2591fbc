// The ICS JSON API (DESIGN §5): a plugin of the HTTP host (/ics/v1/…). Public surface.
export { apiPlugin, DEFAULT_API_INIT } from './plugin.ts';
export { VERDICT_SCHEMA } from './schemas.ts';
export type { ApiComponents, ApiInit } from './types.ts';
