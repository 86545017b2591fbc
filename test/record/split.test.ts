import assert from 'node:assert/strict';
import { isIcsError } from '../../ics/errors.ts';
import { armor, codeRecordBytes, codeStatement, DEFAULT_LIMITS, parseRecord, splitRecords } from '../../ics/record/index.ts';
import { certifiedDevice, fixture } from '../helpers/identities.ts';

describe('record/split', () => {
  it('splits concatenated binary records and several armored blocks into single records', async () => {
    const f = await fixture();
    const { record: a } = await certifiedDevice(f);
    const { record: b } = await certifiedDevice(f);
    const code = codeRecordBytes(codeStatement('fw', '1', { sha256: '12'.repeat(32) }));
    const binary = await splitRecords(Buffer.concat([a.bytes, code, b.bytes]));
    assert.equal(binary.length, 3);
    const ids = await Promise.all(binary.map(async (piece) => (await parseRecord(piece, { issuers: f.ring })).record.id));
    assert.equal(ids[0], a.id);
    assert.match(ids[1] as string, /^sha256:/);
    assert.equal(ids[2], b.id);
    const armoredPieces = await splitRecords(`${armor('publicKey', a.bytes)}\n${armor('publicKey', b.bytes)}`);
    assert.deepEqual(armoredPieces.map((p) => Buffer.from(p).equals(Buffer.from(a.bytes)) || Buffer.from(p).equals(Buffer.from(b.bytes))), [true, true]);
    // An undecodable block is handed on as text, to fail on its own.
    const mixed = await splitRecords(`${armor('publicKey', a.bytes)}\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n`);
    assert.equal(mixed.length, 2);
    assert.equal(typeof mixed[1], 'string');
  });

  it('enforces the batch limits', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const many = Buffer.concat([record.bytes, record.bytes, record.bytes]);
    await assert.rejects(splitRecords(many, DEFAULT_LIMITS, { maxBatchBytes: 100, maxBatchRecords: 10 }), (e: unknown) => isIcsError(e, 'LIMIT_EXCEEDED'));
    await assert.rejects(splitRecords(many, DEFAULT_LIMITS, { maxBatchBytes: 1 << 20, maxBatchRecords: 2 }), (e: unknown) => isIcsError(e, 'LIMIT_EXCEEDED'));
    await assert.rejects(splitRecords('-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc'), (e: unknown) => isIcsError(e, 'RECORD_MALFORMED'));
  });
});
