// Records for the store tests, made with the record API (and openpgp.js for the two shapes
// the API does not make: a key with a subkey, and the same key under another user ID).
import * as openpgp from 'openpgp';
import {
  certify,
  codeStatement,
  type CodeRecord,
  generateIdentity,
  type KeyRecord,
  type NewIdentity,
  parseKeyRecord,
  signCode,
} from '../../ics/record/index.ts';
import type { ChangeSource, WriteRequest } from '../../ics/store/types.ts';
import { type Fixture, fixture } from '../helpers/identities.ts';

export { fixture, type Fixture };

/** openpgp.js would otherwise add a random salt notation to every signature. */
const CONFIG = { ...openpgp.config, nonDeterministicSignaturesViaNotation: false };

/** A whole second: OpenPGP times have no milliseconds. */
export function secondsAgo(seconds: number, base = Date.now()): Date {
  return new Date(Math.floor(base / 1000) * 1000 - seconds * 1000);
}

let serial = 0;

/** A device record certified by the manufacturer at `at`: its content time is `at`. */
export async function device(f: Fixture, at: Date, name?: string): Promise<{ identity: NewIdentity; record: KeyRecord; userId: string }> {
  serial += 1;
  const userId = `urn:cm4it:device:acme.example:cam-3:${name ?? `SN${String(serial).padStart(6, '0')}`}`;
  const identity = await generateIdentity({ userId, created: new Date(at.getTime() - 10_000) });
  const record = await certify(identity.record, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: at });
  return { identity, record, userId };
}

/** A gateway key with an encryption subkey (the record API makes none). */
export async function keyWithSubkey(userId: string, at: Date): Promise<KeyRecord> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: userId }],
    subkeys: [{ sign: false }],
    date: at,
    format: 'object',
    config: CONFIG,
  });
  const { record } = await parseKeyRecord(privateKey.toPublic().write());
  return record;
}

/** The same key (same id) with `userId` as its only user ID, self-certified at `at`. */
export async function renamed(identity: NewIdentity, userId: string, at: Date): Promise<KeyRecord> {
  const { publicKey } = await openpgp.reformatKey({ privateKey: identity.privateKey, userIDs: [{ name: userId }], date: at, format: 'object', config: CONFIG });
  const { record } = await parseKeyRecord(publicKey.write());
  return record;
}

export async function code(f: Fixture, name: string, version: string, at: Date): Promise<CodeRecord> {
  const digest = Buffer.from(`${name}@${version}`.padEnd(32, '.')).toString('hex').slice(0, 64);
  return signCode(codeStatement(name, version, { sha256: digest }), f.manufacturer.privateKey, { role: 'developer', status: 'released' }, { created: at });
}

export function request(
  record: KeyRecord | CodeRecord,
  options: { domains?: string[]; expectedDigest?: string; source?: ChangeSource; origin?: string; summary?: string; signaturesAdded?: number } = {},
): WriteRequest {
  return {
    record,
    domains: options.domains ?? ['devices'],
    expectedDigest: options.expectedDigest,
    source: options.source ?? 'cli',
    origin: options.origin,
    signaturesAdded: options.signaturesAdded ?? 1,
    summary: options.summary ?? 'registered',
  };
}
