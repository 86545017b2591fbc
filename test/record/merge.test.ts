import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isIcsError } from '../../ics/errors.ts';
import {
  certify,
  codeStatement,
  filterSignatures,
  type KeyRecord,
  mergeAll,
  mergeRecords,
  parseKeyRecord,
  parseRecord,
  reviveRecord,
  revokeCertification,
  signCode,
} from '../../ics/record/index.ts';
import { framePacket, PacketTag, scanPackets } from '../../ics/record/packets.ts';
import { certifiedDevice, fixture, minutesAgo } from '../helpers/identities.ts';

/** The same v4 signature with one more (unsigned) subpacket in its unhashed area. */
function withExtraUnhashedIssuer(framed: Uint8Array): Uint8Array {
  const [raw] = scanPackets(framed, { maxPackets: 1 });
  assert.ok(raw);
  const body = Buffer.from(raw.body);
  const hashedEnd = 6 + body.readUInt16BE(4);
  const unhashedLength = body.readUInt16BE(hashedEnd);
  const extra = Buffer.from([9, 16, 1, 2, 3, 4, 5, 6, 7, 8]);
  const out = Buffer.concat([
    body.subarray(0, hashedEnd),
    Buffer.from([(unhashedLength + extra.length) >> 8, (unhashedLength + extra.length) & 0xff]),
    body.subarray(hashedEnd + 2, hashedEnd + 2 + unhashedLength),
    extra,
    body.subarray(hashedEnd + 2 + unhashedLength),
  ]);
  return framePacket(PacketTag.signature, out);
}

const sigIds = (r: KeyRecord) => r.userIds.flatMap((u) => u.signatures.map((s) => s.sigId)).sort();

describe('record/merge', () => {
  /** Copies of one device record, each carrying the self-certification plus one other signature. */
  let singles: KeyRecord[] = [];

  before(async () => {
    const f = await fixture();
    const { device } = await certifiedDevice(f);
    const base = device.record;
    const acts = [
      () => certify(base, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: minutesAgo(50) }),
      () => certify(base, f.manufacturer.privateKey, { role: 'manufacturer', status: 'stolen' }, { created: minutesAgo(40) }),
      () => certify(base, f.integrator.privateKey, { role: 'integrator' }, { created: minutesAgo(45) }),
      () => revokeCertification(base, f.integrator.privateKey, { created: minutesAgo(30) }),
      () =>
        certify(base, f.certifier.privateKey, { role: 'certifier', metadata: { endorsement: 'IEC-62304' } }, { created: minutesAgo(20) }),
      () => certify(base, f.integrator.privateKey, { role: 'maintainer', status: 'in-use' }, { created: minutesAgo(10) }),
    ];
    singles = [base];
    for (const act of acts) singles.push(await act());
  });

  const subset = () => fc.subarray([0, 1, 2, 3, 4, 5, 6], { minLength: 1 }).map((ix) => mergeAll(ix.map((i) => singles[i] as KeyRecord)));

  it('is commutative: merge(a, b) and merge(b, a) have equal bytes', () => {
    fc.assert(
      fc.property(subset(), subset(), (a, b) => {
        assert.deepEqual(Buffer.from(mergeRecords(a, b).bytes), Buffer.from(mergeRecords(b, a).bytes));
      }),
      { numRuns: 200 },
    );
  });

  it('is associative: merge(merge(a, b), c) equals merge(a, merge(b, c))', () => {
    fc.assert(
      fc.property(subset(), subset(), subset(), (a, b, c) => {
        assert.equal(mergeRecords(mergeRecords(a, b), c).digest, mergeRecords(a, mergeRecords(b, c)).digest);
      }),
      { numRuns: 200 },
    );
  });

  it('is idempotent and keeps exactly the union of signatures', () => {
    fc.assert(
      fc.property(subset(), subset(), (a, b) => {
        assert.equal(mergeRecords(a, a).digest, a.digest);
        const merged = mergeRecords(a, b);
        assert.deepEqual(sigIds(merged), [...new Set([...sigIds(a), ...sigIds(b)])].sort());
        assert.equal(mergeRecords(merged, b).digest, merged.digest);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same bytes whatever order the copies arrive in, and round-trips through parse', async () => {
    const f = await fixture();
    const all = mergeAll(singles);
    const reversed = mergeAll([...singles].reverse());
    assert.equal(all.digest, reversed.digest);
    const { record } = await parseKeyRecord(all.bytes, { issuers: f.ring });
    assert.equal(record.digest, all.digest);
    assert.equal(sigIds(record).length, 7);
  });

  it('drops duplicate signatures, including copies with a different unhashed area', async () => {
    const f = await fixture();
    const all = mergeAll(singles);
    const copies = (all.userIds[0]?.signatures ?? []).map((s) => withExtraUnhashedIssuer(s.packet));
    const doubled = Buffer.concat([all.bytes, ...copies]);
    const { record } = await parseRecord(doubled, { issuers: f.ring });
    assert.equal(record.digest, all.digest);
  });

  it('never deletes: merging an older copy into a newer one changes nothing', () => {
    const newest = mergeAll(singles);
    for (const old of singles) assert.equal(mergeRecords(newest, old).digest, newest.digest);
  });

  it('refuses to merge different records with RECORD_MISMATCH', async () => {
    const f = await fixture();
    const { record: other } = await certifiedDevice(f);
    assert.throws(
      () => mergeRecords(singles[0] as KeyRecord, other),
      (e: unknown) => isIcsError(e, 'RECORD_MISMATCH'),
    );
  });

  it('merges code records: union of signatures over one statement', async () => {
    const f = await fixture();
    const statement = codeStatement('acme-cam-fw', '3.2.1', { sha256: 'ab'.repeat(32) });
    const released = await signCode(
      statement,
      f.manufacturer.privateKey,
      { role: 'developer', status: 'released' },
      { created: minutesAgo(30) },
    );
    const endorsed = await signCode(statement, f.certifier.privateKey, { role: 'certifier' }, { created: minutesAgo(20) });
    const ab = mergeRecords(released, endorsed);
    const ba = mergeRecords(endorsed, released);
    assert.equal(ab.digest, ba.digest);
    assert.equal(ab.signatures.length, 2);
    assert.equal(ab.id, released.id);
    assert.equal(mergeRecords(ab, released).digest, ab.digest);
  });

  it('caps each signer at the limit, keeping its newest statements', async () => {
    const f = await fixture();
    const merged = mergeRecords(singles[1] as KeyRecord, singles[2] as KeyRecord, { maxSignaturesPerSigner: 1 });
    const byManufacturer = merged.userIds[0]?.signatures.filter((s) => s.issuer === f.manufacturer.record.id) ?? [];
    assert.equal(byManufacturer.length, 1);
    assert.ok(byManufacturer[0]?.notations.some((n) => n.name === 'status@cm4it.org' && n.value === 'stolen'));
    // The device's own self-certification is a different signer and stays.
    assert.ok(merged.userIds[0]?.signatures.some((s) => s.self));
  });

  it('filterSignatures keeps what the predicate accepts and re-derives bytes and digest', async () => {
    const f = await fixture();
    const all = mergeAll(singles);
    const onlyManufacturer = filterSignatures(all, (s) => s.self || s.issuer === f.manufacturer.record.id);
    assert.deepEqual(
      [...new Set(onlyManufacturer.userIds[0]?.signatures.map((s) => (s.self ? 'self' : s.issuer)))].sort(),
      ['self', f.manufacturer.record.id].sort(),
    );
    const { record: reparsed } = await parseKeyRecord(onlyManufacturer.bytes, { issuers: f.ring });
    assert.equal(reparsed.digest, onlyManufacturer.digest);
    assert.equal(
      filterSignatures(all, () => true),
      all,
    );
  });
});

describe('record/canonical: record bytes own their memory', () => {
  it('a record parsed, revived or merged keeps its bytes in a buffer of their own, not a slice of a shared pool slab', async () => {
    // Records are kept for long (store and answer caches): a record of 1.5 KB in node's 8 KiB
    // allocation pool would pin the whole slab, 5× its size, for as long as it is cached.
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const parsed = (await parseRecord(record.bytes, { issuers: f.ring })).record;
    const revived = await reviveRecord(record.bytes);
    const merged = mergeRecords(parsed, revived);
    for (const [name, record] of [['parsed', parsed], ['revived', revived], ['merged', merged]] as const) {
      assert.ok(record.bytes.length < 4096, `${name}: a small record (${record.bytes.length} bytes), the size node pools`);
      assert.equal(record.bytes.byteOffset, 0, `${name}: starts its buffer`);
      assert.equal(record.bytes.buffer.byteLength, record.bytes.byteLength, `${name}: ${record.bytes.byteLength} bytes in a ${record.bytes.buffer.byteLength}-byte buffer`);
    }
  });
});
