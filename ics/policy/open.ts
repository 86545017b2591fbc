// One call for a node's start: the policy file, its issuer key files, and the engine.
import type { KeyRecord } from '../record/index.ts';
import { PolicyEngine } from './engine.ts';
import { loadIssuerKeys } from './keys.ts';
import { loadPolicy } from './load.ts';

/**
 * Loads the policy at `path` and the keys its `key:` entries name; `moreIssuerRecords`
 * (e.g. from the store) supply the others. Throws CONFIG_INVALID listing every problem.
 */
export async function openPolicy(path: string, moreIssuerRecords: readonly KeyRecord[] = []): Promise<PolicyEngine> {
  const policy = await loadPolicy(path);
  const fromFiles = await loadIssuerKeys(policy);
  return PolicyEngine.create(policy, [...fromFiles, ...moreIssuerRecords]);
}
