// Device records for the sync tests, made fast: Ed25519 keys and signatures from node:crypto,
// packets laid out as the record model's canonical form (bench/store-packets.ts, whose output
// the store benchmark checks against parseRecord), so that a test can make thousands in a
// second. Every record made here verifies; the nodes ingest them like any other input.
import { type KeyRecord, parseRecord } from '../../../ics/record/index.ts';
import { certification, deviceRecord, type EdKey, type Issuer, keyFacts, newEdKey, newIssuer, selfSignedKey } from '../../../bench/store-packets.ts';

export interface Issuers {
  readonly manufacturer: KeyRecord;
  readonly integrator: KeyRecord;
}

export interface Device {
  readonly id: string;
  readonly userId: string;
  readonly key: EdKey;
  readonly bytes: Buffer;
}


let serial = 0;

export class RecordFactory {
  readonly issuers: Issuers;
  readonly #manufacturer: Issuer;
  readonly #integrator: Issuer;

  private constructor(manufacturer: Issuer, integrator: Issuer, issuers: Issuers) {
    this.#manufacturer = manufacturer;
    this.#integrator = integrator;
    this.issuers = issuers;
  }

  static async create(): Promise<RecordFactory> {
    const manufacturer = newIssuer('urn:cm4it:org:acme.example');
    const integrator = newIssuer('urn:cm4it:org:integrator.example');
    const parse = async (i: Issuer) => (await parseRecord(selfSignedKey(i.key, i.userId).bytes)).record as KeyRecord;
    return new RecordFactory(manufacturer, integrator, { manufacturer: await parse(manufacturer), integrator: await parse(integrator) });
  }

  /**
   * A device of `org` (its URN selects the domain: acme.example → devices, secret.example →
   * secret), self-certified at `created` (seconds), certified by the manufacturer a minute
   * later (in-use) and by the integrator two minutes later.
   */
  device(org = 'acme.example', created = 1_735_689_600 + Math.floor(serial / 4)): Device {
    serial += 1;
    const key = newEdKey(created);
    const userId = `urn:cm4it:device:${org}:cam:SN${String(serial).padStart(7, '0')}`;
    const bytes = deviceRecord(key, userId, this.#manufacturer, this.#integrator);
    return { id: keyFacts(key).fingerprint.toString('hex'), userId, key, bytes };
  }

  /** The device with one more statement by an issuer at `created` (seconds): key, user ID, self-certification, the statement. */
  statement(device: Device, by: 'manufacturer' | 'integrator', statement: { role: string; status?: string }, created: number): Buffer {
    const facts = keyFacts(device.key);
    const uid = Buffer.from(device.userId, 'utf8');
    const self = selfSignedKey(device.key, device.userId).bytes;
    const issuerOf = by === 'manufacturer' ? this.#manufacturer : this.#integrator;
    const cert = certification(facts, uid, { facts: issuerOf.facts, privateKey: issuerOf.key.privateKey }, created, statement);
    return Buffer.concat([self, cert]);
  }
}
