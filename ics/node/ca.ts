// The node's certificate authority: ca/ in the data directory, its key protected with the
// same passphrase as the node's issuer key (ICS_PASSPHRASE or the passphrase file), so an
// operator keeps one secret per node.
import { readFile } from 'node:fs/promises';
import { ApprovalDirectory, CaGenerations, CertificateAuthority, type Pkcs11Settings, RevocationRequests, type UnlockedAuthority } from '../enrol/index.ts';
import { IcsError, isIcsError } from '../errors.ts';
import { readPrivateKey } from '../record/index.ts';
import type { NodeConfig } from './config.ts';
import type { DataDir } from './datadir.ts';

/** The CA's folder inside the data directory. */
export const CA_DIR = 'ca';

export function nodeAuthority(dir: DataDir): CertificateAuthority {
  return new CertificateAuthority(dir.resolve(CA_DIR));
}

/** The node's CA with its next (rollover in preparation) and previous (before the last rollover) generations. */
export function nodeCaGenerations(dir: DataDir): CaGenerations {
  return new CaGenerations(dir.resolve(CA_DIR));
}

/** Enrolments waiting for an operator (enrol.approval: manual), beside the CA: files, so that `ics cert approve` works while the node runs. */
/** Revocations by hand, left for the running node (`ics cert revoke`). */
export function nodeRevocationRequests(dir: DataDir): RevocationRequests {
  return new RevocationRequests(dir.resolve(`${CA_DIR}/revocations`));
}

export function nodeApprovals(dir: DataDir): ApprovalDirectory {
  return new ApprovalDirectory(dir.resolve(`${CA_DIR}/approvals`));
}

/**
 * The passphrase, checked against the issuer key before any CA key is made or opened with
 * it: a mistyped ICS_PASSPHRASE is refused with nothing written, instead of protecting a
 * new CA key with a secret nobody has.
 */
export async function caPassphrase(dir: DataDir, config: NodeConfig): Promise<string> {
  const passphrase = await dir.passphrase(config);
  // An issuer key in a token has no passphrase to check against: a CA key file that the
  // passphrase does not open is refused when it is opened.
  if (config.issuer.secretKey.startsWith('pkcs11:')) return passphrase;
  const armored = await readFile(dir.resolve(config.issuer.secretKey), 'utf8').catch((cause: unknown) => {
    throw new IcsError('KEY_UNUSABLE', 'the node issuer key file cannot be read', { cause });
  });
  try {
    await readPrivateKey(armored, passphrase);
  } catch (error) {
    if (isIcsError(error, 'KEY_UNUSABLE')) throw new IcsError('KEY_UNUSABLE', 'the passphrase does not open the node issuer key (check ICS_PASSPHRASE)', { cause: error });
    throw error;
  }
  return passphrase;
}

/** The config's PKCS#11 token settings, the PIN file resolved in the data directory; undefined without a pkcs11 section. */
export function pkcs11Settings(dir: DataDir, config: NodeConfig): Pkcs11Settings | undefined {
  const p = config.pkcs11;
  if (!p) return undefined;
  return { module: p.module, ...(p.pinFile && { pinFile: dir.resolve(p.pinFile) }), ...(p.pinEnv && { pinEnv: p.pinEnv }) };
}

/** The node's CA ready to sign. NOT_FOUND (with the command that makes one) when the node has none. */
export async function unlockNodeAuthority(dir: DataDir, config: NodeConfig): Promise<UnlockedAuthority> {
  const ca = nodeAuthority(dir);
  const role = await ca.role();
  if (role === undefined) throw new IcsError('NOT_FOUND', `node ${config.name} has no certificate authority: make one with \`ics ca init\``);
  if (role === 'pending') throw new IcsError('BAD_REQUEST', `the certificate authority of node ${config.name} waits for its certificate: \`ics ca install\``);
  return ca.unlock(await caPassphrase(dir, config), pkcs11Settings(dir, config));
}
