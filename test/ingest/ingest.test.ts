import assert from 'node:assert/strict';
import { pino } from 'pino';
import { isIcsError } from '../../ics/errors.ts';
import { Ingest } from '../../ics/ingest/index.ts';
import type { PolicyEngine } from '../../ics/policy/index.ts';
import { armor, certify, filterSignatures, type KeyRecord, reviveRecord } from '../../ics/record/index.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import type { RecordStore } from '../../ics/store/types.ts';
import { acmeDeviceId, device, firmware, minutesAgo, type PolicyFixture, policyFixture, siteDeviceId, testEngine } from '../policy/helpers.ts';

const silent = pino({ level: 'silent' });
const cli = { source: 'cli' as const, origin: 'test' };

describe('ingest', () => {
  let f: PolicyFixture;
  let engine: PolicyEngine;
  let store: RecordStore;
  let ingest: Ingest;

  before(async () => {
    f = await policyFixture();
    engine = await testEngine(f);
  });

  beforeEach(async () => {
    store = await createMemoryStore();
    ingest = new Ingest({}, { store, policy: engine, logger: silent });
  });

  afterEach(() => store.close());

  it('stores an accepted record with its domains and one event', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const outcome = await ingest.submit(armor('publicKey', record.bytes), cli);
    assert.equal(outcome.action, 'inserted');
    assert.deepEqual(outcome.domains, ['devices']);
    assert.equal(outcome.signaturesAdded, 2);
    const stored = await store.get(record.id);
    assert.equal(stored?.digest, record.digest);
    const history = await store.history(record.id);
    assert.equal(history.length, 1);
    assert.equal(history[0]?.source, 'cli');
    assert.match(history[0]?.summary ?? '', /manufacturer status=in-use/);
  });

  it('merges a copy that carries only a new signature, and says unchanged for a repeat', async () => {
    const base = await device(siteDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    await ingest.submit(base.bytes, cli);
    const stolen = await certify(base, f.integrator.privateKey, { role: 'maintainer', status: 'stolen' }, { created: minutesAgo(5) });
    // The copy sent holds the self-signature and the new statement only.
    const partial = filterSignatures(stolen, (s) => s.self || s.created.getTime() > minutesAgo(10).getTime());
    const outcome = await ingest.submit(partial.bytes, { source: 'peer', origin: 'peer-x' });
    assert.equal(outcome.action, 'updated');
    assert.equal(outcome.signaturesAdded, 1);
    const stored = await reviveRecord((await store.get(base.id))?.bytes as Uint8Array);
    assert.equal(stored.digest, stolen.digest, 'nothing held before was lost');
    assert.equal(engine.verdict(stored).status, 'stolen');
    const again = await ingest.submit(partial.bytes, cli);
    assert.equal(again.action, 'unchanged');
    assert.equal((await store.history(base.id)).length, 2);
  });

  it('refuses a record no domain accepts with POLICY_REJECTED and stores nothing', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: f.integrator, role: 'integrator' }]);
    await assert.rejects(ingest.submit(record.bytes, cli), (e: unknown) => isIcsError(e, 'POLICY_REJECTED'));
    assert.equal(await store.get(record.id), undefined);
    assert.equal((await store.stats()).lastSeq, 0);
  });

  it('drops and reports signatures by unknown issuers and by issuers in roles they may not write', async () => {
    const record = await device(acmeDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.stranger, role: 'integrator' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    const outcome = await ingest.submit(record.bytes, cli);
    assert.deepEqual(outcome.dropped.map((d) => [d.reason, d.issuer]).sort(), [
      ['ROLE_NOT_ALLOWED', f.integrator.record.id],
      ['UNKNOWN_ISSUER', f.stranger.record.id],
    ].sort());
    const stored = (await reviveRecord((await store.get(record.id))?.bytes as Uint8Array)) as KeyRecord;
    assert.deepEqual(
      stored.userIds[0]?.signatures.map((s) => (s.self ? 'self' : s.issuer)).sort(),
      ['self', f.manufacturer.record.id].sort(),
    );
  });

  it('refuses bad input with a typed error and leaves the store untouched', async () => {
    const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const broken = Buffer.from(record.bytes);
    broken[broken.length - 5] = (broken[broken.length - 5] as number) ^ 0xff;
    for (const [input, code] of [
      [broken, 'SIGNATURE_INVALID'],
      [record.bytes.subarray(0, 40), 'RECORD_MALFORMED'],
      ['-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!\n-----END PGP PUBLIC KEY BLOCK-----\n', 'RECORD_MALFORMED'],
    ] as const) {
      await assert.rejects(ingest.submit(input, cli), (e: unknown) => isIcsError(e, code));
    }
    assert.equal((await store.stats()).records, 0);
  });

  it('concurrent submissions of copies of one record lose no signature', async () => {
    const base = await device(siteDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    await ingest.submit(base.bytes, cli);
    const copies: KeyRecord[] = [];
    for (let i = 0; i < 8; i++) {
      copies.push(await certify(base, f.integrator.privateKey, { role: 'maintainer', status: 'in-use', metadata: { visit: String(i) } }, { created: minutesAgo(30 - i) }));
    }
    await Promise.all(copies.map((c) => ingest.submit(c.bytes, cli)));
    const stored = (await reviveRecord((await store.get(base.id))?.bytes as Uint8Array)) as KeyRecord;
    assert.equal(stored.userIds[0]?.signatures.length, 3 + 8);
  });

  it('imports a batch, judging each record alone', async () => {
    const good = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const refused = await device(acmeDeviceId(), [{ issuer: f.integrator, role: 'integrator' }]);
    const code = await firmware(f, 'acme-cam-fw', { endorsed: true });
    const batch = [armor('publicKey', good.bytes), armor('publicKey', refused.bytes), armor('message', code.bytes)].join('\n');
    const result = await ingest.submitBatch(batch, { source: 'import' });
    assert.deepEqual(result.counts, { inserted: 2, updated: 0, unchanged: 0, rejected: 1 });
    assert.equal(result.results[1]?.error?.code, 'POLICY_REJECTED');
    assert.equal((await store.get(code.id))?.kind, 'code');
  });
});
