// Keys whose secret keys are published in the ics source repository (test fixtures, test
// vectors). Anyone can sign with them, so a node whose policy trusts one accepts forged
// statements: `ics serve` refuses such a policy unless told the node is a test or a demo.
// The list is data (test-keys.deny.json) so that it ships with the product; a test keeps it
// complete by scanning the repository for private key blocks.
import { readFileSync } from 'node:fs';
import { IcsError } from '../errors.ts';
import { pointer } from './schema.ts';
import type { Policy } from './types.ts';

export interface PublishedTestKey {
  /** v4 fingerprint, 40 lower-case hex digits. */
  readonly fingerprint: string;
  /** What the key is, for people. */
  readonly name: string;
  /** Where in the source repository its secret key is. */
  readonly secretKey: string;
}

/** A `trust.issuers` entry that names a published test key. */
export interface TrustedTestKey extends PublishedTestKey {
  /** JSON pointer of the entry in the policy file. */
  readonly path: string;
  /** The entry's name. */
  readonly issuer: string;
}

const DENY_FILE = new URL('./test-keys.deny.json', import.meta.url);
const FINGERPRINT = /^[0-9a-f]{40}$/;
const ADVICE = 'its secret key is published; use --allow-test-keys only for tests and demos';

let cached: readonly PublishedTestKey[] | undefined;

/** The shipped deny list, read once. A damaged list is a broken installation: INTERNAL. */
export function publishedTestKeys(): readonly PublishedTestKey[] {
  if (cached) return cached;
  let keys: unknown;
  try {
    keys = (JSON.parse(readFileSync(DENY_FILE, 'utf8')) as { keys?: unknown }).keys;
  } catch (cause) {
    throw new IcsError('INTERNAL', `the published test key list ${DENY_FILE.pathname} cannot be read`, { cause });
  }
  if (!Array.isArray(keys)) throw new IcsError('INTERNAL', `the published test key list ${DENY_FILE.pathname} has no "keys" array`);
  cached = Object.freeze(
    keys.map((k: Partial<Record<keyof PublishedTestKey, unknown>>, i) => {
      const { fingerprint, name, secretKey } = k ?? {};
      // Lower case only: a case-insensitive match would hide a typo in the shipped list.
      if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint) || typeof name !== 'string' || typeof secretKey !== 'string') {
        throw new IcsError('INTERNAL', `the published test key list ${DENY_FILE.pathname}: entry ${i} is malformed`);
      }
      return Object.freeze({ fingerprint, name, secretKey });
    }),
  );
  return cached;
}

/** The policy's trusted issuers that are published test keys, in file order. */
export function trustedTestKeys(policy: Policy): TrustedTestKey[] {
  const byFingerprint = new Map(publishedTestKeys().map((k) => [k.fingerprint, k]));
  const found: TrustedTestKey[] = [];
  policy.trust.issuers.forEach((entry, i) => {
    // Fingerprints are lower-cased on load; lower-case again for policies built in memory.
    const key = byFingerprint.get(entry.fingerprint.toLowerCase());
    if (key) found.push({ ...key, path: pointer(['trust', 'issuers', i]), issuer: entry.name });
  });
  return found;
}

/** Throws CONFIG_INVALID naming every trusted issuer whose secret key is published. */
export function assertNoTestKeys(policy: Policy): void {
  const found = trustedTestKeys(policy);
  if (found.length === 0) return;
  const errors = found.map((k) => ({
    file: policy.source,
    path: k.path,
    message: `issuer "${k.issuer}" ${k.fingerprint} is a published test key (${k.name}, ${k.secretKey}): ${ADVICE}`,
  }));
  const lines = errors.map((e) => `  ${e.file}: ${e.path}: ${e.message}`);
  const count = found.length === 1 ? 'a key' : `${found.length} keys`;
  throw new IcsError('CONFIG_INVALID', `policy trusts ${count} anyone can sign with:\n${lines.join('\n')}`, {
    details: { errors, testKeys: found.map((k) => ({ issuer: k.issuer, fingerprint: k.fingerprint })) },
  });
}
