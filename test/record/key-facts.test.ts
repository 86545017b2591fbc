// The one reader of key facts over packet bytes. Its key description must be what openpgp.js
// reads of the same packet (the record model described keys through openpgp.js before), and
// its scan of a stored record (LDAP's pgpKeyInfo entries) must find exactly what the parsed
// record says: ids, times, algorithm and size, user IDs, subkeys, expiry, revocation.
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { describeKey, readKeyPacket } from '../../ics/record/key-facts.ts';
import { generateIdentity, type KeyRecord, keyFactsOf, parseKeyRecord, ScanError, scanKeyFacts } from '../../ics/record/index.ts';
import { framePacket, PacketTag } from '../../ics/record/packets.ts';
import { acmeDeviceId, device, policyFixture } from '../policy/helpers.ts';
import { seededRandom } from '../helpers/random.ts';
import { keyWithSubkey, secondsAgo } from '../store/records.ts';

const CONFIG = { ...openpgp.config, nonDeterministicSignaturesViaNotation: false };
type GenerateOptions = Parameters<typeof openpgp.generateKey>[0];

async function generatedKey(options: Partial<GenerateOptions>, config: Partial<openpgp.Config> = {}): Promise<openpgp.PrivateKey> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: 'Alice Example <Alice@Example.org>' }, { name: 'urn:cm4it:service:acme.example:api' }],
    date: secondsAgo(3600),
    format: 'object',
    config: { ...CONFIG, ...config },
    ...options,
  } as GenerateOptions & { format: 'object' });
  return privateKey;
}

async function generated(options: Partial<GenerateOptions>, revoke = false): Promise<KeyRecord> {
  const privateKey = await generatedKey(options);
  const key = revoke ? (await openpgp.revokeKey({ key: privateKey, format: 'object', config: CONFIG })).privateKey : privateKey;
  return (await parseKeyRecord(key.toPublic().write())).record;
}

/** What openpgp.js reads of a key packet, named and sized as the record model names and sizes keys. */
function openpgpDescription(key: openpgp.PublicKeyPacket | openpgp.PublicSubkeyPacket) {
  const params = key.publicParams as { n?: Uint8Array; oid?: { getName(): string } };
  let algorithmName: string;
  let bits: number;
  if (key.algorithm >= 1 && key.algorithm <= 3) {
    const n = params.n as Uint8Array;
    let i = 0;
    while (i < n.length - 1 && n[i] === 0) i++;
    bits = (n.length - i) * 8 - Math.clz32(n[i] as number) + 24;
    algorithmName = `rsa${bits}`;
  } else if (key.algorithm === 18 || key.algorithm === 19 || key.algorithm === 22) {
    const curve = (params.oid as { getName(): string }).getName();
    algorithmName = curve === 'ed25519Legacy' ? 'ed25519' : curve === 'curve25519Legacy' ? 'cv25519' : curve;
    bits = curve === 'nistP384' ? 384 : curve === 'nistP521' ? 521 : 256;
  } else if (key.algorithm === 27 || key.algorithm === 25) {
    algorithmName = key.algorithm === 27 ? 'ed25519' : 'cv25519';
    bits = 256;
  } else {
    algorithmName = `algo${key.algorithm}`;
    bits = 0;
  }
  const fingerprint = key.getFingerprint();
  return { fingerprint, keyId: fingerprint.slice(-16), algorithm: key.algorithm, algorithmName, bits, created: key.created };
}

describe('record/key-facts', () => {
  describe('readKeyPacket and describeKey', () => {
    const kinds: Array<[string, Partial<GenerateOptions>, Partial<openpgp.Config>?]> = [
      ['EdDSA Ed25519 with a Curve25519 ECDH subkey', {}],
      ['ECDSA P-256', { curve: 'nistP256' }],
      ['ECDSA P-384', { curve: 'nistP384' }],
      ['ECDSA P-521', { curve: 'nistP521' }],
      ['RSA 2048', { type: 'rsa', rsaBits: 2048 }],
      ['v4 Ed25519 (algorithm 27) with an X25519 subkey', { type: 'curve25519' }],
      ['v6 Ed25519 with an X25519 subkey', { type: 'curve25519' }, { v6Keys: true }],
      ['v6 Ed448 with an X448 subkey', { type: 'curve448' }, { v6Keys: true }],
    ];
    for (const [name, options, config] of kinds) {
      it(`reads a ${name} key and its subkey as openpgp.js does`, async () => {
        const key = (await generatedKey(options, config)).toPublic();
        type KeyPacketOf = [typeof PacketTag.publicKey | typeof PacketTag.publicSubkey, openpgp.PublicKeyPacket | openpgp.PublicSubkeyPacket];
        const packets: KeyPacketOf[] = [
          [PacketTag.publicKey, key.keyPacket as openpgp.PublicKeyPacket],
          ...key.subkeys.map((s): KeyPacketOf => [PacketTag.publicSubkey, s.keyPacket as openpgp.PublicSubkeyPacket]),
        ];
        assert.equal(packets.length, 2);
        for (const [tag, packet] of packets) {
          const body = packet.write();
          assert.deepEqual(readKeyPacket(body), openpgpDescription(packet));
          assert.deepEqual(describeKey(tag, body), { ...openpgpDescription(packet), packet: framePacket(tag, body) });
        }
      });
    }

    // openpgp.js cannot make keys on these curves here (it signs with them through a module
    // node lacks), but it reads them: a packet is made from its bytes (RFC 6637 §9).
    for (const [curve, oid, size] of [
      ['secp256k1', '2b8104000a', 32],
      ['brainpoolP256r1', '2b2403030208010107', 32],
      ['brainpoolP384r1', '2b240303020801010b', 48],
      ['brainpoolP512r1', '2b240303020801010d', 64],
    ] as const) {
      it(`reads an ECDSA ${curve} key as openpgp.js does`, async () => {
        const point = Buffer.concat([Buffer.from([0x04]), seededRandom(size).bytes(2 * size)]);
        const oidBytes = Buffer.from(oid, 'hex');
        const bitCount = point.length * 8 - 5; // 0x04 leads with five zero bits
        const body = Buffer.concat([
          Buffer.from([4, 0x65, 0x00, 0x00, 0x00, 19, oidBytes.length]),
          oidBytes,
          Buffer.from([bitCount >> 8, bitCount & 0xff]),
          point,
        ]);
        const packet = new openpgp.PublicKeyPacket();
        await packet.read(body);
        assert.deepEqual(readKeyPacket(body), openpgpDescription(packet));
      });
    }

    it('refuses what is not a key packet it can read', () => {
      for (const body of [[], [3, 0, 0, 0, 0, 1], [5, 0, 0, 0, 0, 22], [4, 0, 0]]) {
        assert.throws(() => readKeyPacket(new Uint8Array(body)), ScanError, JSON.stringify(body));
      }
    });
  });

  describe('scanKeyFacts', () => {
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
        assert.deepEqual(scanKeyFacts(record.bytes), keyFactsOf(record));
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
  });
});
