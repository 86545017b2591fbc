// HKP keyserver (DESIGN §5): a plugin of the HTTP host (/pks/lookup, /pks/add). Public surface.
export { DEFAULT_HKP_INIT, hkpPlugin } from './plugin.ts';
export type { HkpInit } from './types.ts';
