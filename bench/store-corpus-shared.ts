// What the store benchmark's corpus generator and its workers agree on: the devices' user IDs
// and times, and how an issuer key is rebuilt from its cached seed.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { type Issuer, keyFacts } from './store-packets.ts';

/** First device key's creation time (2025-01-01T00:00:00Z), seconds. */
const BASE_SECONDS = 1_735_689_600;
/** Devices made per second of key-creation time: spreads content times like a factory line. */
const DEVICES_PER_SECOND = 4;

export function keyCreated(index: number): number {
  return BASE_SECONDS + Math.floor(index / DEVICES_PER_SECOND);
}

/** The device's serial: also its unique user-ID token (`sn0000001`). */
export function serialOf(index: number): string {
  return `SN${String(index + 1).padStart(7, '0')}`;
}

export function deviceUserId(index: number): string {
  return `urn:cm4it:device:acme.example:cam-3:${serialOf(index)}`;
}

export interface IssuerSeed {
  /** 32-byte Ed25519 private key seed, hex. */
  readonly seed: string;
  readonly userId: string;
  readonly created: number;
}

/** PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function issuerFromSeed(s: IssuerSeed): Issuer {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(s.seed, 'hex')]), format: 'der', type: 'pkcs8' });
  const publicRaw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
  const key = { publicRaw, privateKey, created: s.created };
  return { key, facts: keyFacts(key), userId: s.userId };
}
