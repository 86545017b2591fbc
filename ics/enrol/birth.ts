// IEEE 802.1AR-style birth certificates (IDevID) for a device's identity record: the
// certificate's key IS the record's OpenPGP primary key (the binding between the two), the
// subject carries the device's serial number (X.520 serialNumber) and the URN, the SAN the
// URN as a URI, and with no lifetime given it never expires (99991231235959Z, 802.1AR §8.5).
import { IcsError } from '../errors.ts';
import { type KeyRecord, keyFactsOf, primaryKeyObject } from '../record/index.ts';
import type { UnlockedAuthority } from './ca.ts';
import type { IssuedCertificate } from './certificate.ts';
import { algorithmOf, spkiOf } from './keys.ts';
import { MAX_COMMON_NAME, MAX_SERIAL_NUMBER, NO_WELL_DEFINED_EXPIRATION } from './limits.ts';
import type { NameAttributes } from './names.ts';

/** Record kinds that are devices, and so have birth certificates. */
const DEVICE_KINDS = new Set(['device', 'gateway']);

export interface BirthOptions {
  /** The URN user ID to certify; default the record's first `urn:cm4it:<kind>:` user ID. */
  readonly userId?: string;
  /** Default: none (notAfter 99991231235959Z). */
  readonly lifetimeSeconds?: number;
  /** Default: the URN, when it fits X.520's 64 characters; else no CN (the SAN carries the URN). */
  readonly commonName?: string;
  readonly now?: Date;
}

/** The device serial number of a device URN: its last `:` segment (`urn:cm4it:device:acme.example:cam-3:SN12345` → `SN12345`). */
export function deviceSerial(urn: string): string {
  const serial = urn.slice(urn.lastIndexOf(':') + 1);
  if (serial.length === 0 || serial.length > MAX_SERIAL_NUMBER) {
    throw new IcsError('BAD_REQUEST', `${urn}: its last segment is not a serial number of 1 to ${MAX_SERIAL_NUMBER} characters`);
  }
  return serial;
}

export async function issueBirthCertificate(authority: UnlockedAuthority, record: KeyRecord, options: BirthOptions = {}): Promise<IssuedCertificate> {
  if (!DEVICE_KINDS.has(record.kind)) throw new IcsError('BAD_REQUEST', `record ${record.id} is a ${record.kind}, not a device: birth certificates are for devices`);
  const prefix = `urn:cm4it:${record.kind}:`;
  const urn = options.userId ?? record.userIds.find((u) => u.userId.startsWith(prefix))?.userId;
  if (urn === undefined || !urn.startsWith(prefix) || !record.userIds.some((u) => u.userId === urn)) {
    throw new IcsError('BAD_REQUEST', `record ${record.id} has no user ID ${options.userId ?? `starting ${prefix}`}`);
  }
  if (keyFactsOf(record).revoked) throw new IcsError('POLICY_REJECTED', `the key of record ${record.id} is revoked`);
  const key = await primaryKeyObject(record);
  // P-256 and Ed25519: the device key types of the record model (DESIGN §2).
  if (!algorithmOf(key)) throw new IcsError('ALGORITHM_UNSUPPORTED', `record ${record.id}: a ${record.primaryKey.algorithmName} key gets no birth certificate (P-256 or Ed25519)`);
  const commonName = options.commonName ?? (urn.length <= MAX_COMMON_NAME ? urn : undefined);
  if (commonName !== undefined && (commonName.length === 0 || commonName.length > MAX_COMMON_NAME)) {
    throw new IcsError('BAD_REQUEST', `the common name must be 1 to ${MAX_COMMON_NAME} characters`);
  }
  const subject: NameAttributes = [['serialNumber', deviceSerial(urn)], ...(commonName === undefined ? [] : [['CN', commonName] as const])];
  return authority.issue({
    subject,
    publicKey: spkiOf(key),
    sanUris: [urn],
    keyUsage: ['digitalSignature'],
    ...(options.lifetimeSeconds === undefined ? { notAfter: NO_WELL_DEFINED_EXPIRATION } : { lifetimeSeconds: options.lifetimeSeconds }),
    ...(options.now && { now: options.now }),
  });
}
