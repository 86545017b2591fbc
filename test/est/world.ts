// The nodes the EST test enrols against, made in-process (the CLI that makes them has its own
// tests in test/enrol/cli.test.ts): an offline root CA; a manufacturer whose Ed25519 issuing
// CA is the birth CA, with its devices and their birth certificates; and the system's node,
// with an issuing CA, the manufacturer trusted, the devices imported, countersigned (and one
// stolen), and an enrol section. Statements are dated a minute apart, as an operator's are.
import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseDocument } from 'yaml';
import { CertificateAuthority, type KeyAlgorithm, issueBirthCertificate, type TokenKeyOptions, type UnlockedAuthority } from '../../ics/enrol/index.ts';
import { initDataDir, openNode } from '../../ics/node/index.ts';
import { armorPrivateKey, certify, generateIdentity, type KeyRecord, privateKeyPkcs8 } from '../../ics/record/index.ts';

export const DEVICE_PREFIX = 'urn:cm4it:device:acme.example:cam-3';
export const deviceUrn = (serial: string) => `${DEVICE_PREFIX}:${serial}`;

export interface World {
  /** Record ids by device serial. */
  readonly ids: Record<string, string>;
}

const silent = () => pino({ level: 'silent' });
const passphraseOf = async (dir: string) => (await readFile(join(dir, 'keys/issuer.passphrase'), 'utf8')).trim();

async function issuingCa(root: UnlockedAuthority, dir: string, subject: string, algorithm: KeyAlgorithm, chainFile: string, token?: TokenKeyOptions): Promise<UnlockedAuthority> {
  const ca = new CertificateAuthority(join(dir, 'ca'));
  const passphrase = await passphraseOf(dir);
  const { requestPem } = await ca.initIssuing({ passphrase, subject, algorithm, ...(token && { token }) });
  const signed = await root.signSubordinate(requestPem);
  await ca.install(signed.pem + root.chainPem());
  await writeFile(chainFile, signed.pem + root.chainPem());
  return ca.unlock(passphrase, token?.settings);
}

const writeSecret = async (path: string, text: string) => {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
};

/**
 * Devices SN1 (Ed25519; its OpenPGP key left in SN1.secret.asc for `ics key pkcs8`), SN2, SN3
 * (Ed25519) and SN4 (P-256) at both nodes; SN5 at the manufacturer only. SN1, SN2 and SN4 are
 * countersigned by the integrator, SN2 is stolen, SN3 countersigned by nobody.
 */
export async function buildWorld(dir: string, options: { systemToken?: TokenKeyOptions } = {}): Promise<World> {
  const at = (path: string) => join(dir, path);
  const minuteAgo = (n: number) => new Date(Date.now() - n * 60_000);

  await initDataDir(at('root'), { role: 'maintenance', name: 'acme-root' });
  const rootCa = new CertificateAuthority(at('root/ca'));
  await rootCa.initRoot({ passphrase: await passphraseOf(at('root')), subject: 'CN=Acme root CA,O=Acme' });
  const root = await rootCa.unlock(await passphraseOf(at('root')));

  const factoryInit = await initDataDir(at('factory'), { role: 'manufacturer', name: 'acme-factory' });
  const birthCa = await issuingCa(root, at('factory'), 'CN=acme-factory issuing CA', 'ed25519', at('factory-ca.pem'));
  const factory = await openNode(at('factory'), { logger: silent() });
  const devices: Record<string, KeyRecord> = {};
  try {
    const manufacturer = await factory.issuerKey();
    for (const [serial, algorithm] of [['SN1', 'ed25519'], ['SN2', 'ed25519'], ['SN3', 'ed25519'], ['SN4', 'p256'], ['SN5', 'ed25519']] as const) {
      const urn = deviceUrn(serial);
      const { record, privateKey } = await generateIdentity({ userId: urn, algorithm, created: minuteAgo(3) });
      const registered = await certify(record, manufacturer, { role: 'manufacturer', status: 'in-use' }, { userId: urn, created: minuteAgo(2) });
      await factory.ingest.submit(registered.bytes, { source: 'cli' });
      devices[serial] = registered;
      await writeFile(at(`${serial}.pem`), (await issueBirthCertificate(birthCa, registered, { userId: urn })).pem);
      if (serial === 'SN1') await writeSecret(at('SN1.secret.asc'), await armorPrivateKey(privateKey));
      else await writeSecret(at(`${serial}.key.pem`), privateKeyPkcs8(privateKey));
    }
  } finally {
    await factory.close();
  }

  await initDataDir(at('system'), { role: 'maintenance', name: 'acme-system' });
  // With `systemToken`, the system's CA key is made in that PKCS#11 token (its config says which module and PIN).
  await issuingCa(root, at('system'), 'CN=acme-system issuing CA', 'p256', at('system-ca.pem'), options.systemToken);
  await copyFile(at('factory/keys/issuer.asc'), at('system/keys/acme-factory.asc'));
  await copyFile(at('factory/ca/ca.cert.pem'), at('system/acme-birth-ca.pem'));
  const policy = parseDocument(await readFile(at('system/policy.yaml'), 'utf8'));
  policy.addIn(['trust', 'issuers'], policy.createNode({ name: 'acme-factory', fingerprint: factoryInit.issuerFingerprint, roles: ['manufacturer'], key: 'keys/acme-factory.asc' }));
  policy.set('enrol', policy.createNode({ birthCAs: ['acme-birth-ca.pem'], requireRoles: ['manufacturer', 'integrator'] }));
  await writeFile(at('system/policy.yaml'), policy.toString());

  const system = await openNode(at('system'), { logger: silent() });
  const ids: Record<string, string> = {};
  try {
    const integrator = await system.issuerKey();
    for (const serial of ['SN1', 'SN2', 'SN3', 'SN4']) {
      const device = devices[serial] as KeyRecord;
      await system.ingest.submit(device.bytes, { source: 'import' });
      ids[serial] = device.id;
      if (serial === 'SN3') continue;
      const countersigned = await certify(device, integrator, { role: 'integrator' }, { userId: deviceUrn(serial), created: minuteAgo(1) });
      await system.ingest.submit(countersigned.bytes, { source: 'cli' });
    }
    const stolen = await certify(devices.SN2 as KeyRecord, integrator, { role: 'maintainer', status: 'stolen' }, { userId: deviceUrn('SN2') });
    await system.ingest.submit(stolen.bytes, { source: 'cli' });
  } finally {
    await system.close();
  }
  ids.SN5 = (devices.SN5 as KeyRecord).id;
  return { ids };
}
