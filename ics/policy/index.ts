// The policy engine (DESIGN §3): public surface. Imports nothing of ours but record/ and errors.

export { type TrustGap, trustGaps } from './consistency.ts';
export { type IssuerState, PolicyEngine } from './engine.ts';
export { matchGlob } from './glob.ts';
export { issuerKeyPath, loadIssuerKeys } from './keys.ts';
export { loadPolicy, MAX_POLICY_BYTES, parsePolicy, policyFromObject } from './load.ts';
export { openPolicy } from './open.ts';
export { type Filed, inReadableDomain, mayRead, readableDomainsOf, ReadScope, readScope } from './read-rule.ts';
export { POLICY_SCHEMA } from './schema.ts';
export { assertNoTestKeys, type PublishedTestKey, publishedTestKeys, type TrustedTestKey, trustedTestKeys } from './test-keys.ts';
export * from './types.ts';
export { type CachedVerdict, nextExpiry, PolicyVerdictCache, type RecordVersion, verdictValidUntil } from './verdict-cache.ts';
