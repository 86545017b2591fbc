// The policy engine (DESIGN §3): public surface. Imports nothing of ours but record/ and errors.

export { PolicyEngine } from './engine.ts';
export { matchGlob } from './glob.ts';
export { issuerKeyPath, loadIssuerKeys } from './keys.ts';
export { loadPolicy, MAX_POLICY_BYTES, parsePolicy, policyFromObject } from './load.ts';
export { openPolicy } from './open.ts';
export { POLICY_SCHEMA } from './schema.ts';
export * from './types.ts';
