// EST (RFC 7030): a plugin of the HTTP host on the node's mutual-TLS listener, calling the
// certificate authority (enrol/). Public surface for the wiring.
export { base64Lines, requestBytes } from './body.ts';
export { MAX_EST_BODY_BYTES } from './limits.ts';
export { EST_PREFIX, estPlugin, NOT_GRANTED_HEADER } from './plugin.ts';
export type { EstAuthority } from './types.ts';
