// CA key pairs: ECDSA P-256 (RFC 5480) or Ed25519 (RFC 8410). At rest a private key is
// encrypted PKCS#8 PEM (PBES2: PBKDF2-HMAC-SHA256, 2048 iterations, AES-256-CBC; what
// `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes and reads), mode 0600, never overwritten.
// The low iteration count is OpenSSL's and node:crypto cannot raise it: the node's generated
// passphrase (256 random bits) makes it moot; a short human one would not be. In use the key
// is a non-extractable WebCrypto key; nothing here returns or logs it unencrypted.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, webcrypto } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { IcsError } from '../errors.ts';

export type KeyAlgorithm = 'p256' | 'ed25519';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['p256', 'ed25519'];

/** WebCrypto parameters: how the key is imported, and how it signs certificates (SHA-256 with P-256, RFC 5758). */
const WEB: Record<KeyAlgorithm, { key: EcKeyImportParams | Algorithm; sign: EcdsaParams | Algorithm }> = {
  p256: { key: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  ed25519: { key: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

/** The private key (never extractable), its public half, and the WebCrypto they belong to: Node's, or a PKCS#11 token's. */
export interface KeyInUse {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly crypto: Crypto;
}

/** A private key ready to sign: a decrypted key file, or a key in a PKCS#11 token (pkcs11.ts). */
export interface SigningKey {
  readonly algorithm: KeyAlgorithm;
  /** DER SubjectPublicKeyInfo of the public key. */
  readonly spki: Uint8Array;
  /** What @peculiar/x509 signs with. */
  readonly signingAlgorithm: EcdsaParams | Algorithm;
  /** Where the private key is, for `ics ca show` and logs: "file", or the token and object. Never more. */
  readonly location: string;
  /** Runs `sign` with the key (a token's key per use, so that a token that comes back signs again). */
  use<T>(sign: (key: KeyInUse) => Promise<T>): Promise<T>;
}

/**
 * The X.509 signature value of `data` (what a certificate's, a list's or a response's BIT
 * STRING holds): DER Ecdsa-Sig-Value for P-256 with SHA-256 (WebCrypto gives r‖s), the 64
 * bytes for Ed25519.
 */
export async function signatureValue(key: SigningKey, data: Uint8Array): Promise<Uint8Array> {
  const raw = new Uint8Array(await key.use(({ privateKey, crypto }) => crypto.subtle.sign(key.signingAlgorithm, privateKey, new Uint8Array(data))));
  return key.algorithm === 'p256' ? ecdsaDer(raw) : raw;
}

/** r‖s (32 bytes each) as SEQUENCE { INTEGER r, INTEGER s } (RFC 3279 §2.2.3). */
function ecdsaDer(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const body = (bytes[start] as number) & 0x80 ? Buffer.concat([Buffer.of(0), bytes.subarray(start)]) : Buffer.from(bytes.subarray(start));
    return Buffer.concat([Buffer.of(0x02, body.length), body]);
  };
  const half = raw.length / 2;
  const content = Buffer.concat([integer(raw.subarray(0, half)), integer(raw.subarray(half))]);
  return new Uint8Array(Buffer.concat([Buffer.of(0x30, content.length), content]));
}

export function checkAlgorithm(name: string): KeyAlgorithm {
  if (!(KEY_ALGORITHMS as readonly string[]).includes(name)) {
    throw new IcsError('BAD_REQUEST', `unknown key algorithm "${name}" (one of ${KEY_ALGORITHMS.join(', ')})`);
  }
  return name as KeyAlgorithm;
}

/** The algorithm of a public (or private) key, or undefined for any key that is neither P-256 nor Ed25519. */
export function algorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'p256';
  return undefined;
}

/** The public key of a DER SubjectPublicKeyInfo; ALGORITHM_UNSUPPORTED for any other than P-256 or Ed25519. */
export function publicKeyFromSpki(spki: Uint8Array): { key: KeyObject; algorithm: KeyAlgorithm } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new IcsError('ALGORITHM_UNSUPPORTED', 'the public key cannot be read', { cause });
  }
  const algorithm = algorithmOf(key);
  if (!algorithm) throw new IcsError('ALGORITHM_UNSUPPORTED', `public key type ${key.asymmetricKeyType ?? 'unknown'} is not accepted (${KEY_ALGORITHMS.join(', ')})`);
  return { key, algorithm };
}

/** DER SubjectPublicKeyInfo of a public key, or of a private key's public half. */
export function spkiOf(key: KeyObject): Uint8Array {
  const publicKey = key.type === 'public' ? key : createPublicKey(key);
  return new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
}

export function generatePrivateKey(algorithm: KeyAlgorithm): KeyObject {
  return algorithm === 'p256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : generateKeyPairSync('ed25519').privateKey;
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length === 0) throw new IcsError('KEY_UNUSABLE', 'a passphrase is needed to protect the CA key');
}

/** Encrypted PKCS#8 PEM of `key`. */
export function encryptPrivateKey(key: KeyObject, passphrase: string): string {
  checkPassphrase(passphrase);
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
}

/** Writes an encrypted key (`encryptPrivateKey`): mode 0600, refusing an existing file ('wx'). */
export async function writePrivateKey(path: string, encryptedPem: string): Promise<void> {
  if (!encryptedPem.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----')) throw new IcsError('INTERNAL', 'only an encrypted private key is written');
  await writeFile(path, encryptedPem, { mode: 0o600, flag: 'wx' });
  // The mode given to writeFile is masked by the umask; this is not.
  await chmod(path, 0o600);
}

/**
 * The key as a WebCrypto signing key. WebCrypto in Node 20 imports only PKCS#8 DER, so the
 * key passes through an unencrypted DER buffer for the import, which is zeroed at once.
 */
export async function signingKeyOf(key: KeyObject): Promise<SigningKey> {
  const algorithm = algorithmOf(key);
  if (!algorithm || key.type !== 'private') throw new IcsError('KEY_UNUSABLE', 'a P-256 or Ed25519 private key is needed');
  const der = key.export({ type: 'pkcs8', format: 'der' });
  let privateKey: CryptoKey;
  try {
    privateKey = (await webcrypto.subtle.importKey('pkcs8', der, WEB[algorithm].key, false, ['sign'])) as CryptoKey;
  } finally {
    der.fill(0);
  }
  const spki = spkiOf(key);
  const publicKey = (await webcrypto.subtle.importKey('spki', spki, WEB[algorithm].key, true, ['verify'])) as CryptoKey;
  const inUse: KeyInUse = { privateKey, publicKey, crypto: webcrypto as unknown as Crypto };
  return { algorithm, spki, signingAlgorithm: WEB[algorithm].sign, location: 'file', use: (sign) => sign(inUse) };
}

/** Reads and decrypts a key written by `writePrivateKey`. KEY_UNUSABLE when it cannot be. */
export async function loadSigningKey(path: string, passphrase: string): Promise<SigningKey> {
  checkPassphrase(passphrase);
  const pem = await readFile(path, 'utf8').catch((cause: unknown) => {
    throw new IcsError('KEY_UNUSABLE', `the CA key ${path} cannot be read`, { cause });
  });
  // An unencrypted key would load with any passphrase: refuse it rather than use it.
  if (!pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) throw new IcsError('KEY_UNUSABLE', `the CA key ${path} is not an encrypted PKCS#8 key`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem', passphrase });
  } catch (cause) {
    throw new IcsError('KEY_UNUSABLE', `the CA key ${path} cannot be decrypted (wrong passphrase?)`, { cause });
  }
  return signingKeyOf(key);
}
