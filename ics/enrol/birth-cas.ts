// The birth CAs a policy's enrol section trusts (schemas/policy.schema.json `enrol.birthCAs`):
// each entry a PEM file relative to the policy file, or PEM text. The policy layer checks
// only their form; here they are read as certificates, and each must be a CA certificate.
// Every problem at once, as CONFIG_INVALID naming the file and JSON path, like the policy's own.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { IcsError, isIcsError } from '../errors.ts';
import type { Policy, PolicyFileError } from '../policy/index.ts';
import { isCaCertificate } from './chain.ts';
import { readCertificates } from './parse.ts';
import type { x509 } from './x509.ts';

const INLINE = '-----BEGIN ';

/** The certificates of every `enrol.birthCAs` entry, in order; [] without an enrol section. */
export async function loadBirthCAs(policy: Policy): Promise<x509.X509Certificate[]> {
  const entries = policy.enrol?.birthCAs ?? [];
  const errors: Array<PolicyFileError & { index: number }> = [];
  const found = await Promise.all(
    entries.map(async (entry, i) => {
      const fail = (message: string) => {
        errors.push({ index: i, file: policy.source, path: `/enrol/birthCAs/${i}`, message });
        return [];
      };
      let text: string = entry;
      let where = 'inline PEM';
      if (!entry.trimStart().startsWith(INLINE)) {
        where = resolve(dirname(policy.source), entry);
        try {
          text = await readFile(where, 'utf8');
        } catch (cause) {
          return fail(`cannot read ${where} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})`);
        }
      }
      try {
        const certificates = readCertificates(text, where);
        const notCa = certificates.find((c) => !isCaCertificate(c));
        return notCa ? fail(`${where}: ${notCa.subject} is not a CA certificate (basicConstraints cA, keyUsage keyCertSign)`) : certificates;
      } catch (cause) {
        if (!isIcsError(cause)) throw cause;
        return fail(cause.message);
      }
    }),
  );
  if (errors.length > 0) {
    const sorted = errors.sort((a, b) => a.index - b.index).map(({ index: _, ...e }): PolicyFileError => e);
    const lines = sorted.map((e) => `  ${e.file}: ${e.path}: ${e.message}`);
    throw new IcsError('CONFIG_INVALID', `invalid birth CAs:\n${lines.join('\n')}`, { details: { errors: sorted } });
  }
  return found.flat();
}
