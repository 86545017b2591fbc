// A key record's primary key as node:crypto sees it: the key its signatures verify with
// (issuer keyrings), from which an X.509 SubjectPublicKeyInfo is exported (RFC 5480 for
// ECDSA, RFC 8410 for Ed25519) to bind a certificate to the record. Read one way for both,
// so a key the record model refuses never gets here.
import type { KeyObject } from 'node:crypto';
import * as openpgp from 'openpgp';
import { IcsError } from '../errors.ts';
import { type VerifyingKey, verifyingKey } from './keys.ts';
import { PacketTag, scanPackets } from './packets.ts';
import type { KeyRecord } from './types.ts';

export async function primaryVerifyingKey(record: KeyRecord): Promise<VerifyingKey> {
  const [raw] = scanPackets(record.primaryKey.packet, { maxPackets: 1 });
  if (!raw || raw.tag !== PacketTag.publicKey) throw new IcsError('INTERNAL', 'primary key packet expected');
  const packet = new openpgp.PublicKeyPacket();
  await packet.read(raw.body);
  return verifyingKey(packet);
}

export async function primaryKeyObject(record: KeyRecord): Promise<KeyObject> {
  return (await primaryVerifyingKey(record)).keyObject;
}
