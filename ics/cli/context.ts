// What the commands' actions share: opening the node, resolving record ids, choosing the
// signing key, and printing results as text or JSON. Loaded with the actions, never by the
// command definitions.
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { IcsError } from '../errors.ts';
import type { IngestOutcome } from '../ingest/index.ts';
import { pkcs11Settings } from '../node/ca.ts';
import { isTokenReference, openTokenIdentity } from '../node/issuer-key.ts';
import { type IcsNode, openNode } from '../node/offline.ts';
import { type IdentityRecord, type Issuer, readPrivateKey, reviveRecord } from '../record/index.ts';
import { resolveReference } from '../store/index.ts';
import type { GlobalOptions } from './options.ts';

/** Runs `task` with the node of `--data` open, and closes it whatever happens. */
export async function withNode<T>(options: GlobalOptions, task: (node: IcsNode) => Promise<T>): Promise<T> {
  const node = await openNode(options.data, { logLevel: process.env.ICS_LOG_LEVEL ?? 'warn' });
  try {
    return await task(node);
  } finally {
    await node.close();
  }
}

/** Who runs the command, for the event log. */
export function localOrigin(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/**
 * Accepts a fingerprint, a long key id, a code id (`sha256:…`) or an exact user ID (URN):
 * the store's resolver, which the JSON API's /ics/v1/verify/{ref} uses too.
 */
export async function resolveRecord(node: IcsNode, reference: string): Promise<IdentityRecord> {
  const stored = await resolveReference(node.store, reference);
  return reviveRecord(stored.bytes);
}

export interface SignerOptions {
  key?: string;
  passphraseFile?: string;
  keyPublic?: string;
}

/**
 * `--key FILE` (passphrase: ICS_KEY_PASSPHRASE or `--passphrase-file`), or `--key pkcs11:…`
 * with its `--key-public FILE` (the token from the config's pkcs11 section), else the node's
 * issuer key.
 */
export async function signingKey(node: Pick<IcsNode, 'dataDir' | 'config' | 'issuerKey'>, options: SignerOptions): Promise<Issuer> {
  if (!options.key) return node.issuerKey();
  if (isTokenReference(options.key)) {
    const settings = pkcs11Settings(node.dataDir, node.config);
    if (!settings) throw new IcsError('BAD_REQUEST', "--key pkcs11:… needs the config's pkcs11 section (module, pinFile or pinEnv)");
    if (!options.keyPublic) throw new IcsError('BAD_REQUEST', '--key pkcs11:… needs --key-public FILE: the OpenPGP public key made with the token key');
    const publicKey = await readFile(options.keyPublic).catch((cause) => {
      throw new IcsError('KEY_UNUSABLE', `cannot read ${options.keyPublic}`, { cause });
    });
    return openTokenIdentity(settings, options.key, publicKey);
  }
  const armored = await readFile(options.key, 'utf8').catch((cause) => {
    throw new IcsError('KEY_UNUSABLE', `cannot read ${options.key}`, { cause });
  });
  const passphrase = options.passphraseFile
    ? (await readFile(options.passphraseFile, 'utf8')).trim()
    : process.env.ICS_KEY_PASSPHRASE;
  return readPrivateKey(armored, passphrase);
}

export function print(options: { json?: boolean }, value: unknown, text: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/** Text for an ingest outcome, with what was dropped and why. */
export function describeOutcome(outcome: IngestOutcome): string {
  const lines = [
    `${outcome.action} ${outcome.kind} ${outcome.id}`,
    `  domains: ${outcome.domains.join(', ') || '(none)'}; signatures added: ${outcome.signaturesAdded}`,
  ];
  for (const d of outcome.dropped) lines.push(`  dropped signature by ${d.issuer ?? 'unknown issuer'}: ${d.reason} (${d.detail})`);
  if (outcome.dropped.some((d) => d.reason === 'UNKNOWN_ISSUER' || d.reason === 'ISSUER_NOT_ALLOWED')) {
    lines.push('  hint: trust an issuer with `ics trust add --key ISSUER.asc --roles ROLE`');
  }
  return lines.join('\n');
}
