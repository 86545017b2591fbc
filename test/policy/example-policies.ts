// The shipped policies (policies/*.yaml) trust no issuer. To test what they do with
// issuers, these helpers build a copy of each in memory with the example test issuers
// (fixtures/keys, secret keys published) added to trust.issuers.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadIssuerKeys, PolicyEngine, policyFromObject } from '../../ics/policy/index.ts';
import { parseKeyRecord, type Role } from '../../ics/record/index.ts';

export const POLICIES = 'policies';
export const EXAMPLES = ['default', 'manufacturer', 'developer', 'maintenance', 'infield'] as const;
export type Example = (typeof EXAMPLES)[number];
export type ExampleIssuer = 'acme-manufacturer' | 'integrator' | 'firmware-developer' | 'notified-body';

/** Public key of an example issuer; its secret key is beside it as <name>.secret.asc. */
export const exampleKeyFile = (name: ExampleIssuer) => resolve('test/policy/fixtures/keys', `${name}.asc`);

/** The roles each example issuer is trusted in. */
export const EXAMPLE_ROLES: Record<ExampleIssuer, Role[]> = {
  'acme-manufacturer': ['manufacturer'],
  integrator: ['integrator', 'maintainer'],
  'firmware-developer': ['developer'],
  'notified-body': ['certifier'],
};

/**
 * Which issuers each example node trusts in the tests: the manufacturer's and the
 * developer's nodes do not trust the integrator, the others trust all four.
 */
export const EXAMPLE_TRUST: Record<Example, ExampleIssuer[]> = {
  default: ['acme-manufacturer', 'integrator', 'firmware-developer', 'notified-body'],
  manufacturer: ['acme-manufacturer', 'notified-body'],
  developer: ['firmware-developer', 'notified-body'],
  maintenance: ['acme-manufacturer', 'integrator', 'firmware-developer', 'notified-body'],
  infield: ['acme-manufacturer', 'integrator', 'firmware-developer', 'notified-body'],
};

const fingerprints = new Map<ExampleIssuer, string>();

/** An example issuer's fingerprint, read from its public key file. */
export async function exampleFingerprint(name: ExampleIssuer): Promise<string> {
  let fingerprint = fingerprints.get(name);
  if (fingerprint === undefined) {
    fingerprint = (await parseKeyRecord(await readFile(exampleKeyFile(name)))).record.id;
    fingerprints.set(name, fingerprint);
  }
  return fingerprint;
}

/** The shipped policy file's value, as parsed from YAML. */
export async function shippedPolicyValue(example: Example): Promise<Record<string, unknown>> {
  return parse(await readFile(join(POLICIES, `${example}.yaml`), 'utf8')) as Record<string, unknown>;
}

/**
 * The shipped policy with `issuers` (default: EXAMPLE_TRUST) added to trust.issuers, each
 * with its key file, checked as if it were the file itself.
 */
export async function examplePolicyEngine(example: Example, issuers: readonly ExampleIssuer[] = EXAMPLE_TRUST[example]): Promise<PolicyEngine> {
  const value = await shippedPolicyValue(example);
  const trust = (value.trust ?? {}) as { issuers?: unknown[] };
  const added = await Promise.all(
    issuers.map(async (name) => ({ name, fingerprint: await exampleFingerprint(name), roles: EXAMPLE_ROLES[name], key: exampleKeyFile(name) })),
  );
  value.trust = { ...trust, issuers: [...(trust.issuers ?? []), ...added] };
  // The source names the shipped file so that errors point at it; key paths are absolute.
  const policy = policyFromObject(value, join(POLICIES, `${example}.yaml`));
  return PolicyEngine.create(policy, await loadIssuerKeys(policy));
}
