// HKP keyserver and ICS JSON API (DESIGN §5): public surface.
export { createHkpServer } from './server.ts';
export type { HkpAddress, HkpAuthenticator, HkpComponents, HkpInit, HkpServer } from './types.ts';
export * as HKP_LIMITS from './limits.ts';
