// The policy's trusted issuers changed by command (`ics trust add | remove`, the admin API's
// /ics/v1/admin/trust): the issuer's public key goes to keys/<fingerprint>.asc and an entry to
// the policy file's trust.issuers, with the file's comments and layout kept (yaml's document
// model). A change that leaves the policy unloadable — or that the running node refuses on
// reload — is undone: the file as it was, the key file removed.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { IcsError, isIcsError } from '../errors.ts';
import { openPolicy } from '../policy/index.ts';
import { armor, type KeyRecord, parseKeyRecord } from '../record/index.ts';
import type { NodeConfig } from './config.ts';
import type { DataDir } from './datadir.ts';
import type { IcsNode } from './node.ts';

export interface TrustRequest {
  readonly roles: readonly string[];
  /** Label for logs and reasons; default from the key's first user ID. */
  readonly name?: string;
  /** Domains where the roles count; default all. */
  readonly domains?: readonly string[];
}

export interface TrustEntry {
  readonly name: string;
  readonly fingerprint: string;
  readonly roles: string[];
  readonly domains?: string[];
  readonly key: string;
}

/** A change applied to the files, and how to take it back. */
export interface TrustChange<T> {
  readonly result: T;
  undo(): Promise<void>;
}

interface IssuerEntry {
  fingerprint: string;
  key?: string;
  name?: string;
}

/** Adds `record` (the issuer's public key) to the policy's trusted issuers; BAD_REQUEST when it is trusted already. */
export async function addTrustedIssuer(dir: DataDir, config: NodeConfig, record: KeyRecord, request: TrustRequest): Promise<TrustChange<TrustEntry>> {
  const fromUserId = (record.userIds[0]?.userId.split(':').pop() ?? '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  const name = request.name ?? (fromUserId.slice(0, 63) || record.id.slice(-16));
  const policyFile = dir.resolve(config.policy);
  const original = await readFile(policyFile, 'utf8');
  const doc = parseDocument(original);
  const known = (doc.getIn(['trust', 'issuers']) as { toJSON(): IssuerEntry[] } | undefined)?.toJSON() ?? [];
  if (known.some((i) => i.fingerprint.toLowerCase() === record.id)) throw new IcsError('BAD_REQUEST', `${record.id} is already trusted`);
  const keyPath = `keys/${record.id}.asc`;
  const entry: TrustEntry = {
    name,
    fingerprint: record.id,
    roles: [...request.roles],
    ...(request.domains && request.domains.length > 0 && { domains: [...request.domains] }),
    key: keyPath,
  };
  await writeFile(dir.resolve(keyPath), armor('publicKey', record.bytes));
  doc.addIn(['trust', 'issuers'], doc.createNode(entry));
  const undo = async () => {
    await writeFile(policyFile, original);
    await rm(dir.resolve(keyPath), { force: true });
  };
  return applied(policyFile, doc.toString(), entry, undo);
}

/** Removes the issuer with this fingerprint from the policy's trust (and its key file); NOT_FOUND when it is not trusted. */
export async function removeTrustedIssuer(dir: DataDir, config: NodeConfig, fingerprint: string): Promise<TrustChange<IssuerEntry>> {
  const wanted = fingerprint.toLowerCase().replace(/^0x/, '');
  const self = (await parseKeyRecord(await readFile(dir.resolve(config.issuer.publicKey)))).record.id;
  if (wanted === self) throw new IcsError('BAD_REQUEST', `${wanted} is this node's own issuer key, which signs its statements: it stays trusted`);
  const policyFile = dir.resolve(config.policy);
  const original = await readFile(policyFile, 'utf8');
  const doc = parseDocument(original);
  const known = (doc.getIn(['trust', 'issuers']) as { toJSON(): IssuerEntry[] } | undefined)?.toJSON() ?? [];
  const index = known.findIndex((i) => i.fingerprint.toLowerCase() === wanted);
  const removed = known[index];
  if (!removed) throw new IcsError('NOT_FOUND', `${wanted} is not a trusted issuer of this node`);
  doc.deleteIn(['trust', 'issuers', index]);
  // The key file goes too when `ics trust add` put it there; another file is the operator's.
  const keyFile = removed.key === `keys/${wanted}.asc` ? dir.resolve(removed.key) : undefined;
  const keyText = keyFile ? await readFile(keyFile).catch(() => undefined) : undefined;
  const change = await applied(policyFile, doc.toString(), removed, async () => {
    await writeFile(policyFile, original);
    if (keyFile && keyText) await writeFile(keyFile, keyText);
  });
  if (keyFile) await rm(keyFile, { force: true });
  return change;
}

/** Writes the policy and checks it loads; undone at once when it does not. */
async function applied<T>(policyFile: string, text: string, result: T, undo: () => Promise<void>): Promise<TrustChange<T>> {
  await writeFile(policyFile, text);
  try {
    await openPolicy(policyFile);
  } catch (error) {
    await undo();
    throw error;
  }
  return { result, undo };
}

/**
 * Trust changes on the running node (the admin API): one at a time, each applied by a policy
 * reload — and undone, files and all, when the reload refuses it (a test key, a gap).
 */
export function trustEditor(node: IcsNode) {
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(task: () => Promise<TrustChange<T>>): Promise<T> => {
    const run = queue.then(async () => {
      const change = await task();
      try {
        await node.reloadPolicy();
      } catch (error) {
        await change.undo();
        await node.reloadPolicy().catch((again: unknown) => node.logger.error({ err: again }, 'policy reload after undoing a trust change failed'));
        throw error;
      }
      return change.result;
    });
    queue = run.catch(() => undefined);
    // The policy the change would make is the caller's mistake, not the node's: a bad request, with the reasons.
    return run.catch((error: unknown) => {
      if (isIcsError(error, 'CONFIG_INVALID')) throw new IcsError('BAD_REQUEST', `the policy with this change is refused: ${error.message}`, { cause: error, ...(error.details && { details: error.details }) });
      throw error;
    });
  };
  return {
    add: (publicKey: Uint8Array, request: TrustRequest) =>
      serial(async () => addTrustedIssuer(node.dataDir, node.config, (await parseKeyRecord(publicKey)).record, request)),
    remove: (fingerprint: string) => serial(() => removeTrustedIssuer(node.dataDir, node.config, fingerprint)),
  };
}
