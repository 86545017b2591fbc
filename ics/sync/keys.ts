// The node's libp2p identity: an Ed25519 key in the data directory (DESIGN §6), created on
// first use with mode 0600 and refused when others may read it (as ssh refuses such keys).
// The file holds libp2p's protobuf encoding of the private key; the peer id derives from it.
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { IcsError } from '../errors.ts';

/** A protobuf-encoded Ed25519 key is 68 bytes; anything much larger is not a key file. */
const MAX_KEY_FILE_BYTES = 4096;

export interface PeerKey {
  readonly privateKey: PrivateKey;
  /** base58btc peer id (`12D3KooW…`). */
  readonly peerId: string;
  /** True when this call created the file. */
  readonly created: boolean;
}

async function readKey(path: string): Promise<PrivateKey> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new IcsError('KEY_UNUSABLE', `libp2p key file ${path} may be read by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
  }
  if (info.size > MAX_KEY_FILE_BYTES) throw new IcsError('KEY_UNUSABLE', `${path} is not a libp2p key file`);
  try {
    return privateKeyFromProtobuf(await readFile(path));
  } catch (cause) {
    throw new IcsError('KEY_UNUSABLE', `${path} is not a libp2p key file`, { cause });
  }
}

/** Reads the node's libp2p key, or creates one (Ed25519, file mode 0600, directory 0700 when made). */
export async function loadOrCreatePeerKey(path: string): Promise<PeerKey> {
  try {
    const privateKey = await readKey(path);
    return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const privateKey = await generateKeyPair('Ed25519');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, privateKeyToProtobuf(privateKey), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process created it first: use that one.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreatePeerKey(path);
    throw new IcsError('KEY_UNUSABLE', `cannot write the libp2p key file ${path}`, { cause: error });
  }
  await chmod(path, 0o600);
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), created: true };
}

/** The peer id of a key file, without creating one (for scripts that wire policies together). */
export async function peerIdOfKeyFile(path: string): Promise<string> {
  return peerIdFromPrivateKey(await readKey(path)).toString();
}
