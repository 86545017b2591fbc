// Issuer keys named by a policy's `key:` files (paths relative to the policy file), read
// and verified like any record; each must be the key whose fingerprint the entry names.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { IcsError, isIcsError } from '../errors.ts';
import { type KeyRecord, parseKeyRecord } from '../record/index.ts';
import { pointer } from './schema.ts';
import type { Policy, PolicyFileError } from './types.ts';

/** Absolute path of an issuer's key file. */
export function issuerKeyPath(policy: Policy, key: string): string {
  return resolve(dirname(policy.source), key);
}

/** Reads every `key:` file; all problems at once as CONFIG_INVALID. Entries without `key` are skipped. */
export async function loadIssuerKeys(policy: Policy): Promise<KeyRecord[]> {
  const errors: Array<PolicyFileError & { index: number }> = [];
  const records: KeyRecord[] = [];
  await Promise.all(
    policy.trust.issuers.map(async (entry, i) => {
      if (entry.key === undefined) return;
      const fail = (message: string) =>
        errors.push({ index: i, file: policy.source, path: pointer(['trust', 'issuers', i, 'key']), message });
      const path = issuerKeyPath(policy, entry.key);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (cause) {
        return fail(`cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})`);
      }
      try {
        const { record } = await parseKeyRecord(bytes);
        if (record.id !== entry.fingerprint) return fail(`${path} holds key ${record.id}, not ${entry.fingerprint}`);
        records.push(record);
      } catch (cause) {
        if (!isIcsError(cause)) throw cause;
        fail(`${path} is not a usable public key (${cause.code}: ${cause.message})`);
      }
    }),
  );
  if (errors.length > 0) {
    const sorted = errors.sort((a, b) => a.index - b.index).map(({ index: _, ...e }): PolicyFileError => e);
    const lines = sorted.map((e) => `  ${e.file}: ${e.path}: ${e.message}`);
    throw new IcsError('CONFIG_INVALID', `invalid issuer keys:\n${lines.join('\n')}`, { details: { errors: sorted } });
  }
  return records;
}
