// The node's OpenPGP issuer key (statuses, countersignatures, issuance statements): a
// passphrase-protected key file, or an ECDSA P-256 key in a PKCS#11 token named by an RFC
// 7512 URI in `issuer.secretKey`. A token key signs through the record model's own signature
// writer with the token as the signing function; its OpenPGP public key (creation time,
// self-certification) is the `issuer.publicKey` file, made when the key was made, and must
// hold the token's very point — a swapped token object is refused, never used.
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { generateTokenKey, openTokenKey, type Pkcs11Reference, type Pkcs11Settings, parsePkcs11Uri } from '../enrol/pkcs11.ts';
import type { SigningKey } from '../enrol/keys.ts';
import { IcsError } from '../errors.ts';
import { type Issuer, type KeyRecord, type OpenPgpSigner, parseKeyRecord, publicKeyBody, readPrivateKey, signerIdentity, v4Fingerprint } from '../record/index.ts';
import { PubKeyAlgo } from '../record/keys.ts';
import { scanPackets } from '../record/packets.ts';

const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** True when a key setting names a token key rather than a file. */
export function isTokenReference(setting: string): boolean {
  return setting.startsWith('pkcs11:');
}

/** Where a key setting puts the private key, for people: "file", or the token and object (never more). */
export function keyLocation(setting: string): string {
  if (!isTokenReference(setting)) return 'file';
  const { token, object } = parsePkcs11Uri(setting);
  return `PKCS#11 token "${token}", object "${object}"`;
}

/** The uncompressed P-256 point of a DER SubjectPublicKeyInfo. */
function pointOf(spki: Uint8Array): Uint8Array {
  const jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new IcsError('ALGORITHM_UNSUPPORTED', 'the token key is not an ECDSA P-256 key');
  return Buffer.concat([Buffer.of(4), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}

/** The OpenPGP signing function of a token key whose v4 public key body is `keyBody`. */
function tokenSigner(key: SigningKey, keyBody: Uint8Array): OpenPgpSigner {
  return {
    keyBody,
    fingerprint: v4Fingerprint(keyBody),
    algorithm: PubKeyAlgo.ecdsa,
    location: key.location,
    sign: async (toHash) => new Uint8Array(await key.use(({ privateKey, crypto }) => crypto.subtle.sign(ECDSA_SHA256, privateKey, new Uint8Array(toHash)))),
  };
}

/**
 * Makes an OpenPGP identity on the token: a P-256 key pair labelled `reference.object`
 * (never extractable) and its key record (user ID `userId`, self-certified by the token).
 */
export async function createTokenIdentity(settings: Pkcs11Settings, reference: Pkcs11Reference, userId: string, created = new Date()): Promise<{ record: KeyRecord; signer: OpenPgpSigner }> {
  const key = await generateTokenKey(settings, reference, 'p256');
  const signer = tokenSigner(key, publicKeyBody('p256', pointOf(key.spki), created));
  return { record: await signerIdentity(signer, userId, created), signer };
}

/**
 * The signer of a token key whose OpenPGP public key is `publicKey` (armored or binary).
 * KEY_UNUSABLE when the token's key is not that key.
 */
export async function openTokenIdentity(settings: Pkcs11Settings, uri: string, publicKey: Uint8Array | string): Promise<OpenPgpSigner> {
  const reference = parsePkcs11Uri(uri);
  const { record } = await parseKeyRecord(publicKey);
  const key = await openTokenKey(settings, reference);
  const keyBody = (scanPackets(record.primaryKey.packet, { maxPackets: 1 })[0] as { body: Uint8Array }).body;
  const expected = publicKeyBody('p256', pointOf(key.spki), record.primaryKey.created);
  if (!Buffer.from(keyBody).equals(Buffer.from(expected))) {
    throw new IcsError('KEY_UNUSABLE', `the key in the ${key.location} is not the OpenPGP key ${record.id}`);
  }
  return tokenSigner(key, keyBody);
}

/** Opens the node's issuer key: the file decrypted with the passphrase, or the token key. */
export async function openIssuerKey(
  files: { secretKey: string; publicKey: string },
  secrets: { passphrase: () => Promise<string>; pkcs11: Pkcs11Settings | undefined },
): Promise<Issuer> {
  if (isTokenReference(files.secretKey)) {
    if (!secrets.pkcs11) throw new IcsError('CONFIG_INVALID', "the issuer key is in a PKCS#11 token (issuer.secretKey), but the config has no pkcs11 section (module, pinFile or pinEnv)");
    const publicKey = await readFile(files.publicKey).catch((cause: unknown) => {
      throw new IcsError('KEY_UNUSABLE', `the node issuer's public key ${files.publicKey} cannot be read`, { cause });
    });
    return openTokenIdentity(secrets.pkcs11, files.secretKey, publicKey);
  }
  const armored = await readFile(files.secretKey, 'utf8').catch((cause: unknown) => {
    throw new IcsError('KEY_UNUSABLE', 'the node issuer key file cannot be read', { cause });
  });
  return readPrivateKey(armored, await secrets.passphrase());
}
