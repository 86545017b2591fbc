// Shared fixtures: issuer identities and certified device records, made once per run.
import type * as openpgp from 'openpgp';
import { certify, generateIdentity, IssuerKeyring, type KeyRecord, type NewIdentity, type TrustedIssuer } from '../../ics/record/index.ts';

export interface Fixture {
  manufacturer: NewIdentity;
  integrator: NewIdentity;
  certifier: NewIdentity;
  stranger: NewIdentity;
  /** Manufacturer, integrator and certifier (not the stranger). */
  ring: IssuerKeyring;
  trusted: TrustedIssuer[];
}

let cached: Promise<Fixture> | undefined;

export function fixture(): Promise<Fixture> {
  cached ??= (async () => {
    const manufacturer = await generateIdentity({ userId: 'urn:cm4it:org:acme.example' });
    const integrator = await generateIdentity({ userId: 'urn:cm4it:org:integrator.example', algorithm: 'p256' });
    const certifier = await generateIdentity({ userId: 'urn:cm4it:org:notified-body.example' });
    const stranger = await generateIdentity({ userId: 'urn:cm4it:org:stranger.example' });
    const ring = await IssuerKeyring.fromRecords([manufacturer.record, integrator.record, certifier.record]);
    const trusted: TrustedIssuer[] = [
      { fingerprint: manufacturer.record.id, roles: ['manufacturer'] },
      { fingerprint: integrator.record.id, roles: ['integrator', 'maintainer'] },
      { fingerprint: certifier.record.id, roles: ['certifier'] },
    ];
    return { manufacturer, integrator, certifier, stranger, ring, trusted };
  })();
  return cached;
}

let serial = 0;

/** A new device key, certified by the manufacturer (in-use) and countersigned by the integrator. */
export async function certifiedDevice(
  f: Fixture,
  options: { at?: Date; algorithm?: 'ed25519' | 'p256' } = {},
): Promise<{ device: NewIdentity; record: KeyRecord }> {
  const at = options.at ?? new Date(Date.now() - 3600_000);
  serial += 1;
  const device = await generateIdentity({
    userId: `urn:cm4it:device:acme.example:cam-3:SN${String(serial).padStart(6, '0')}`,
    algorithm: options.algorithm,
    created: new Date(at.getTime() - 1000),
  });
  let record = await certify(device.record, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: at });
  record = await certify(record, f.integrator.privateKey, { role: 'integrator' }, { created: at });
  return { device, record };
}

export function minutesAgo(minutes: number): Date {
  return new Date(Date.now() - minutes * 60_000);
}

export type PrivateKey = openpgp.PrivateKey;
