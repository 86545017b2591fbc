// A record's private key as PKCS#8 (RFC 5958) PEM, for software that speaks X.509 rather than
// OpenPGP: a device whose TLS key is its record key (its birth certificate's key) hands it to
// curl or openssl. The key pair is the same; only the encoding changes. Ed25519 (as EdDSA,
// algorithm 22, or RFC 9580's 27) and ECDSA P-256, the device key types.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type * as openpgp from 'openpgp';
import { IcsError } from '../errors.ts';
import { PubKeyAlgo } from './keys.ts';

interface Params {
  oid?: { getName(): string };
  Q?: Uint8Array;
  A?: Uint8Array;
  seed?: Uint8Array;
  d?: Uint8Array;
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

function jwkOf(packet: openpgp.SecretKeyPacket): Record<string, string> | undefined {
  const pub = packet.publicParams as Params;
  const priv = (packet as unknown as { privateParams: Params | null }).privateParams ?? {};
  const curve = (() => {
    try {
      return pub.oid?.getName();
    } catch {
      return undefined;
    }
  })();
  if (packet.algorithm === PubKeyAlgo.eddsaLegacy && curve === 'ed25519Legacy' && pub.Q?.length === 33 && priv.seed?.length === 32) {
    return { kty: 'OKP', crv: 'Ed25519', x: b64url(pub.Q.subarray(1)), d: b64url(priv.seed) };
  }
  if (packet.algorithm === PubKeyAlgo.ed25519 && pub.A?.length === 32 && priv.seed?.length === 32) {
    return { kty: 'OKP', crv: 'Ed25519', x: b64url(pub.A), d: b64url(priv.seed) };
  }
  if (packet.algorithm === PubKeyAlgo.ecdsa && curve === 'nistP256' && pub.Q?.length === 65 && pub.Q[0] === 0x04 && priv.d?.length === 32) {
    return { kty: 'EC', crv: 'P-256', x: b64url(pub.Q.subarray(1, 33)), y: b64url(pub.Q.subarray(33)), d: b64url(priv.d) };
  }
  return undefined;
}

/** Unencrypted PKCS#8 PEM of the primary key. KEY_UNUSABLE when it is locked, ALGORITHM_UNSUPPORTED for other key types. */
export function privateKeyPkcs8(key: openpgp.PrivateKey): string {
  if (!key.isDecrypted()) throw new IcsError('KEY_UNUSABLE', 'the private key is locked: give its passphrase');
  const packet = key.keyPacket as openpgp.SecretKeyPacket;
  const jwk = jwkOf(packet);
  if (!jwk) throw new IcsError('ALGORITHM_UNSUPPORTED', 'only Ed25519 and ECDSA P-256 keys are exported as PKCS#8');
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  // The private half must be the key the record publishes, not just any key that parses.
  const derived = createPublicKey(privateKey).export({ format: 'jwk' });
  if (derived.x !== jwk.x || derived.y !== jwk.y) throw new IcsError('KEY_UNUSABLE', 'the private key does not match its public key');
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}
