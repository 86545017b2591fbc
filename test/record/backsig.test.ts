// Back-signatures of signing subkeys (RFC 4880 §11.1) on GnuPG-made vectors: a signing
// subkey is usable only with a verified 0x19 by the subkey, hashed or (as GnuPG writes it)
// unhashed; the unhashed one survives canonical form, revival and merging.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyLifecycle, type KeyRecord, mergeRecords, parseKeyRecord, reviveRecord } from '../../ics/record/index.ts';

const vector = (name: string) => readFileSync(join(import.meta.dirname, '..', 'vectors', name), 'utf8');
const parse = async (name: string) => parseKeyRecord(vector(name));

describe('record/backsig (signing subkeys need a back-signature)', () => {
  it('gpg signing subkey with its unhashed back-signature: usable, kept through canonical form and revival', async () => {
    const { record } = await parse('subkey-signer.asc');
    assert.equal(record.subkeys.length, 1);
    const [subkey] = record.subkeys;
    assert.equal(subkey?.signingUsable, true);
    assert.equal(subkey?.signatures[0]?.backsig, true);
    const revived = (await reviveRecord(record.bytes)) as KeyRecord;
    assert.deepEqual(Buffer.from(revived.bytes), Buffer.from(record.bytes), 'revival re-encodes the same bytes');
    assert.equal(revived.subkeys[0]?.signingUsable, true);
    const again = await parseKeyRecord(record.bytes);
    assert.equal(again.record.digest, record.digest, 'canonical bytes parse back to themselves');
    assert.equal(again.record.subkeys[0]?.signingUsable, true);
  });

  it('back-signature missing: the subkey is kept but never usable for signatures', async () => {
    const { record, dropped } = await parse('subkey-no-backsig.asc');
    assert.equal(record.subkeys.length, 1);
    assert.equal(record.subkeys[0]?.signingUsable, false);
    assert.equal(record.subkeys[0]?.signatures[0]?.backsig, undefined);
    assert.deepEqual(dropped, []);
  });

  it('invalid back-signature in the unhashed area: ignored (anyone can add one), the subkey is unusable', async () => {
    const bad = await parse('subkey-bad-backsig.asc');
    const missing = await parse('subkey-no-backsig.asc');
    assert.equal(bad.record.subkeys[0]?.signingUsable, false);
    assert.equal(bad.record.digest, missing.record.digest, 'the bad back-signature is not stored');
  });

  it('valid back-signature in the hashed area: usable', async () => {
    const { record } = await parse('subkey-hashed-backsig.asc');
    assert.equal(record.subkeys[0]?.signingUsable, true);
    const revived = (await reviveRecord(record.bytes)) as KeyRecord;
    assert.equal(revived.subkeys[0]?.signingUsable, true);
  });

  it('invalid back-signature in the hashed area: the binding is refused and the subkey left out', async () => {
    const { record, dropped } = await parse('subkey-hashed-bad-backsig.asc');
    assert.equal(record.subkeys.length, 0);
    assert.ok(dropped.some((d) => d.reason === 'NOT_ALLOWED' && /back-signature/.test(d.detail)), JSON.stringify(dropped));
  });

  it('merging a copy without the back-signature with one carrying it keeps it, in either order', async () => {
    const withBacksig = (await parse('subkey-signer.asc')).record;
    const without = (await parse('subkey-no-backsig.asc')).record;
    const ab = mergeRecords(without, withBacksig);
    const ba = mergeRecords(withBacksig, without);
    assert.equal(ab.digest, ba.digest);
    assert.equal(ab.digest, withBacksig.digest);
    assert.equal(ab.subkeys[0]?.signingUsable, true);
  });

  it('a gpg key revocation (compromised, with text) gives the key its revocation time and reason', async () => {
    const { record } = await parse('issuer-revoked.asc');
    const state = keyLifecycle(record);
    assert.equal(state.revokedAt?.toISOString(), '2024-06-01T00:00:00.000Z');
    assert.equal(state.revocationReason, 'compromised');
    assert.equal(state.revocationText, 'key leaked');
    assert.equal(state.expiresAt, undefined);
    const plain = keyLifecycle((await parse('subkey-signer.asc')).record);
    assert.equal(plain.revokedAt, undefined);
  });
});
