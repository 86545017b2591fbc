// Writes: add and modify of pgpKeyInfo entries with a pgpKey, merged through Ingest (never
// losing a signature the node holds), and the result code for every write that is refused —
// with nothing stored.
import assert from 'node:assert/strict';
import { armor, certify, filterSignatures, type KeyRecord, reviveRecord } from '../../ics/record/index.ts';
import { acmeDeviceId, device, minutesAgo, siteDeviceId } from '../policy/helpers.ts';
import { KEYS, type LdapTestNode, PASSWORDS, RECORDS, startLdap, userDn } from './helpers.ts';
import { addOp, deleteOp, modifyDnOp, modifyOp, WireClient } from './wire.ts';

const R = {
  success: 0,
  protocolError: 2,
  sizeLimitExceeded: 4,
  constraintViolation: 19,
  undefinedAttributeType: 17,
  noSuchObject: 32,
  insufficientAccessRights: 50,
  unwillingToPerform: 53,
  namingViolation: 64,
  objectClassViolation: 65,
  entryAlreadyExists: 68,
};
const keyDn = (id: string) => `pgpCertID=${id.slice(-16).toUpperCase()},${KEYS}`;
const keyEntry = (record: KeyRecord): Array<[string, string[]]> => [
  ['objectClass', ['pgpKeyInfo']],
  ['pgpCertID', [record.id.slice(-16).toUpperCase()]],
  ['pgpKey', [armor('publicKey', record.bytes)]],
];
const sigCount = (r: KeyRecord) => r.userIds.reduce((n, u) => n + u.signatures.length, 0);

describe('ldap/write', () => {
  let node: LdapTestNode;
  let alice: WireClient;
  let anonymous: WireClient;
  let bob: WireClient;

  before(async () => {
    node = await startLdap({ init: { maxKeyBytes: 64 * 1024 } });
    alice = await WireClient.connect(node.port);
    assert.equal((await alice.bind(userDn('alice'), PASSWORDS.alice)).code, R.success);
    bob = await WireClient.connect(node.port);
    assert.equal((await bob.bind(userDn('bob'), PASSWORDS.bob)).code, R.success);
    anonymous = await WireClient.connect(node.port);
  });
  after(async () => {
    for (const c of [alice, bob, anonymous]) c.close();
    await node.stop();
  });

  async function stored(id: string): Promise<KeyRecord | undefined> {
    const s = await node.store.get(id);
    return s ? ((await reviveRecord(s.bytes)) as KeyRecord) : undefined;
  }

  /** Runs `body`, then checks that the store took no write. */
  async function nothingStored(body: () => Promise<void>): Promise<void> {
    const before = (await node.store.stats()).lastSeq;
    await body();
    assert.equal((await node.store.stats()).lastSeq, before, 'nothing stored');
  }

  it('adds a new device key for a user allowed to write', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const done = await alice.result(addOp(keyDn(record.id), keyEntry(record)));
    assert.equal(done.code, R.success, done.message);
    assert.equal((await stored(record.id))?.digest, record.digest);
    assert.equal((await node.store.history(record.id))[0]?.source, 'ldap');
    const { entries } = await anonymous.search({ base: keyDn(record.id), scope: 'base', attributes: ['gpgFingerprint'] });
    assert.equal(entries.length, 1);
  });

  it('refuses writes without rights: anonymous, or a user who may only read', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    await nothingStored(async () => {
      assert.equal((await anonymous.result(addOp(keyDn(record.id), keyEntry(record)))).code, R.insufficientAccessRights);
      assert.equal((await bob.result(addOp(keyDn(record.id), keyEntry(record)))).code, R.insufficientAccessRights);
      const existing = node.records.acme[0] as KeyRecord;
      assert.equal(
        (await bob.result(modifyOp(keyDn(existing.id), [['replace', 'pgpKey', [armor('publicKey', existing.bytes)]]]))).code,
        R.insufficientAccessRights,
      );
    });
  });

  it('modify merges what GnuPG sends and never loses a signature it already held', async () => {
    const site = node.records.site;
    const before = (await stored(site.id)) as KeyRecord;
    // What `gpg --send-keys` sends after a maintainer statement was added by someone whose
    // copy lacks the manufacturer's certification: the whole key, replacing every attribute.
    const theirs = await certify(
      filterSignatures(site, (s) => s.self),
      node.f.integrator.privateKey,
      { role: 'maintainer', status: 'in-use', metadata: { visit: '1' } },
      { created: minutesAgo(5) },
    );
    const changes: Array<['replace', string, string[]]> = [
      ['replace', 'pgpDisabled', []],
      ['replace', 'pgpUserID', []],
      ['replace', 'objectClass', ['pgpKeyInfo']],
      ['replace', 'pgpCertID', [site.id.slice(-16).toUpperCase()]],
      ['replace', 'pgpDisabled', ['0']],
      ['replace', 'pgpUserID', theirs.userIds.map((u) => u.userId)],
      ['replace', 'gpgFingerprint', [site.id.toUpperCase()]],
      ['replace', 'pgpKey', [armor('publicKey', theirs.bytes)]],
    ];
    const done = await alice.result(modifyOp(keyDn(site.id), changes));
    assert.equal(done.code, R.success, done.message);
    const after = (await stored(site.id)) as KeyRecord;
    assert.equal(sigCount(after), sigCount(before) + 1, 'the new statement added, none lost');
    const beforeIds = new Set(before.userIds.flatMap((u) => u.signatures.map((s) => s.sigId)));
    assert.ok([...beforeIds].every((id) => after.userIds.some((u) => u.signatures.some((s) => s.sigId === id))));
  });

  it('modify with the copy already held changes nothing', async () => {
    const record = node.records.acme[0] as KeyRecord;
    await nothingStored(async () => {
      const done = await alice.result(modifyOp(keyDn(record.id), [['replace', 'pgpKey', [armor('publicKey', record.bytes)]]]));
      assert.equal(done.code, R.success);
      assert.match(done.message ?? '', /unchanged/);
      const derivedOnly = await alice.result(modifyOp(keyDn(record.id), [['replace', 'pgpDisabled', ['0']]]));
      assert.equal(derivedOnly.code, R.success);
    });
  });

  it('answers each malformed write with its result code and stores nothing', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const other = node.records.acme[1] as KeyRecord;
    const dn = keyDn(record.id);
    const key = armor('publicKey', record.bytes);
    const cases: Array<[string, Buffer, number]> = [
      ['existing entry', addOp(keyDn(other.id), keyEntry(other)), R.entryAlreadyExists],
      ['unknown attribute', addOp(dn, [...keyEntry(record), ['favouriteColour', ['blue']]]), R.undefinedAttributeType],
      ['unknown object class', addOp(dn, [['objectClass', ['pgpKeyInfo', 'person']], ['pgpKey', [key]]]), R.objectClassViolation],
      ['attribute of another class', addOp(dn, [...keyEntry(record), ['icsStatus', ['in-use']]]), R.objectClassViolation],
      ['no pgpKeyInfo class', addOp(dn, [['objectClass', ['top']], ['pgpKey', [key]]]), R.objectClassViolation],
      ['no pgpKey', addOp(dn, [['objectClass', ['pgpKeyInfo']]]), R.objectClassViolation],
      ['two pgpKey values', addOp(dn, [['objectClass', ['pgpKeyInfo']], ['pgpKey', [key, key]]]), R.constraintViolation],
      ['DN names another key', addOp(keyDn('0123456789abcdef'), keyEntry(record)), R.namingViolation],
      ['not a key', addOp(dn, [['objectClass', ['pgpKeyInfo']], ['pgpKey', ['-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64!\n-----END PGP PUBLIC KEY BLOCK-----\n']]]), R.protocolError],
      ['oversized pgpKey', addOp(dn, [['objectClass', ['pgpKeyInfo']], ['pgpKey', [`${key}${'x'.repeat(70 * 1024)}`]]]), R.sizeLimitExceeded],
      ['wrong RDN under the key space', addOp(`cn=${record.id},${KEYS}`, keyEntry(record)), R.namingViolation],
      ['outside the directory', addOp(`pgpCertID=${record.id.slice(-16)},ou=elsewhere,dc=example`, keyEntry(record)), R.noSuchObject],
      ['an icsRecord entry', addOp(`icsId=${record.id},${RECORDS}`, keyEntry(record)), R.unwillingToPerform],
      ['modify of a missing entry', modifyOp(dn, [['replace', 'pgpKey', [key]]]), R.noSuchObject],
      ['removing pgpKey', modifyOp(keyDn(other.id), [['delete', 'pgpKey', []]]), R.unwillingToPerform],
      ['delete', deleteOp(keyDn(other.id)), R.unwillingToPerform],
      ['rename', modifyDnOp(keyDn(other.id), 'pgpCertID=0000000000000000'), R.unwillingToPerform],
    ];
    await nothingStored(async () => {
      for (const [what, op, code] of cases) {
        const done = await alice.result(op);
        assert.equal(done.code, code, `${what}: ${done.message}`);
      }
      assert.equal((await anonymous.result(deleteOp(keyDn(other.id)))).code, R.insufficientAccessRights);
    });
  });

  it('refuses a key the policy does not admit (insufficientAccessRights)', async () => {
    const unsigned = await device(siteDeviceId(), []);
    await nothingStored(async () => {
      const done = await alice.result(addOp(keyDn(unsigned.id), keyEntry(unsigned)));
      assert.equal(done.code, R.insufficientAccessRights, done.message);
    });
  });

  it('answers a request too large to read with sizeLimitExceeded, unread, and keeps serving', async () => {
    const huge = addOp(keyDn('0123456789abcdef'), [['objectClass', ['pgpKeyInfo']], ['pgpKey', ['x'.repeat(2 * 1024 * 1024)]]]);
    await nothingStored(async () => {
      assert.equal((await alice.result(huge)).code, R.sizeLimitExceeded);
    });
    const { entries } = await alice.search({ base: '', scope: 'base', attributes: ['namingContexts'] });
    assert.equal(entries.length, 1);
  });
});
