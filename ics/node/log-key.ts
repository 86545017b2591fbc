// The node's transparency-log key (Ed25519): signs the checkpoints of its domains' logs.
// Kept like the issuer key: keys/log.key, PKCS#8 encrypted with the node's passphrase
// (ICS_PASSPHRASE or the passphrase file), mode 0600; made the first time it is needed, so
// that a data directory made before the log gets one without an extra step.
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { IcsError } from '../errors.ts';
import type { NodeConfig } from './config.ts';
import type { DataDir } from './datadir.ts';

export const LOG_KEY_FILE = 'keys/log.key';

export async function loadOrCreateLogKey(dir: DataDir, config: NodeConfig): Promise<KeyObject> {
  const file = dir.resolve(LOG_KEY_FILE);
  const passphrase = await dir.passphrase(config);
  const pem = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new IcsError('KEY_UNUSABLE', `the log key ${file} cannot be read`, { cause: error });
  });
  if (pem === undefined) {
    const { privateKey } = generateKeyPairSync('ed25519');
    const encrypted = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
    // wx: two processes making it at once keep one key, not two.
    await writeFile(file, encrypted, { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    await chmod(file, 0o600);
    return loadOrCreateLogKey(dir, config);
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase });
  } catch (cause) {
    throw new IcsError('KEY_UNUSABLE', `the passphrase does not open the log key ${file}`, { cause });
  }
}
