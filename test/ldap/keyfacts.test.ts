// The fast reader of stored key bytes (pgpKeyInfo entries) must find exactly what the record
// model finds: ids, times, algorithm and size, user IDs, subkeys, expiry, revocation.
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { keyFactsOf, ScanError, scanKeyFacts } from '../../ics/ldap/keyfacts.ts';
import { mailboxOf } from '../../ics/ldap/views.ts';
import { generateIdentity, type KeyRecord, parseKeyRecord } from '../../ics/record/index.ts';
import { acmeDeviceId, device, policyFixture } from '../policy/helpers.ts';
import { keyWithSubkey, secondsAgo } from '../store/records.ts';

const CONFIG = { ...openpgp.config, nonDeterministicSignaturesViaNotation: false };

async function generated(options: Partial<Parameters<typeof openpgp.generateKey>[0]>, revoke = false): Promise<KeyRecord> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: 'Alice Example <Alice@Example.org>' }, { name: 'urn:cm4it:service:acme.example:api' }],
    date: secondsAgo(3600),
    format: 'object',
    config: CONFIG,
    ...options,
  } as Parameters<typeof openpgp.generateKey>[0] & { format: 'object' });
  const key = revoke ? (await openpgp.revokeKey({ key: privateKey, format: 'object', config: CONFIG })).privateKey : privateKey;
  return (await parseKeyRecord(key.toPublic().write())).record;
}

describe('ldap/keyfacts', () => {
  const cases: Array<[string, () => Promise<KeyRecord>]> = [
    [
      'an Ed25519 device with third-party certifications',
      async () => {
        const f = await policyFixture();
        return device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }, { issuer: f.integrator, role: 'integrator' }]);
      },
    ],
    ['a P-256 key', async () => (await generateIdentity({ userId: 'urn:cm4it:gateway:acme.example:gw-1', algorithm: 'p256' })).record],
    ['a key with a subkey', () => keyWithSubkey('urn:cm4it:gateway:acme.example:gw-2', secondsAgo(600))],
    ['a key that expires, with two user IDs', () => generated({ keyExpirationTime: 86_400 })],
    ['a revoked key', () => generated({}, true)],
    ['an RSA key', () => generated({ type: 'rsa', rsaBits: 2048 })],
    ['a P-384 key', () => generated({ curve: 'nistP384' })],
  ];
  for (const [name, make] of cases) {
    it(`reads ${name} as the record model does`, async () => {
      const record = await make();
      const fast = scanKeyFacts(record.bytes);
      assert.deepEqual(fast, keyFactsOf(record));
    });
  }

  it('sees expiry and revocation', async () => {
    const expiring = scanKeyFacts((await generated({ keyExpirationTime: 86_400 })).bytes);
    assert.ok(expiring.expires && expiring.expires.getTime() - expiring.created.getTime() === 86_400_000);
    assert.equal(scanKeyFacts((await generated({}, true)).bytes).revoked, true);
  });

  it('refuses bytes that are not a canonical key record', () => {
    assert.throws(() => scanKeyFacts(Buffer.from('not openpgp')), ScanError);
    assert.throws(() => scanKeyFacts(Buffer.from([0xc6, 0x05, 4, 0, 0])), ScanError);
  });

  it('finds mailboxes as GnuPG does', () => {
    assert.equal(mailboxOf('Alice Example <Alice@Example.org>'), 'alice@example.org');
    assert.equal(mailboxOf('bob@example.org'), 'bob@example.org');
    assert.equal(mailboxOf('urn:cm4it:device:acme.example:cam-3:SN1'), undefined);
  });
});
