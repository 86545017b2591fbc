// The directory reads through the policy's read rule and verdict cache: what a reader may see
// and which domains it is told of, and ICS entries whose verdict comes from the shared cache
// and is rebuilt when that verdict expires, not a minute later.
import assert from 'node:assert/strict';
import { Ingest } from '../../ics/ingest/index.ts';
import { Directory } from '../../ics/ldap/directory.ts';
import { PolicyVerdictCache, readScope } from '../../ics/policy/index.ts';
import { armor, certify, generateIdentity } from '../../ics/record/index.ts';
import { createMemoryStore, type MemoryStore } from '../../ics/store/memory/index.ts';
import { acmeDeviceId } from '../policy/helpers.ts';
import { BASE, ldapFixture, silent } from './helpers.ts';

const anonymous = { kind: 'anonymous' } as const;
const bob = { kind: 'user', name: 'bob' } as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ldap: directory reads (read rule, verdict cache)', () => {
  let store: MemoryStore;
  let ingest: Ingest;
  let verdicts: PolicyVerdictCache;
  let dir: Directory;
  let fixture: Awaited<ReturnType<typeof ldapFixture>>;

  before(async () => {
    fixture = await ldapFixture();
    store = await createMemoryStore();
    ingest = new Ingest({}, { store, policy: fixture.engine, logger: silent });
    const { site, systemOnly } = fixture.records;
    for (const r of [site, systemOnly]) await ingest.submit(armor('publicKey', r.bytes), { source: 'cli' });
    verdicts = new PolicyVerdictCache(16);
    dir = new Directory(
      { baseDn: BASE, nodeInfo: { name: 'test-node', version: '0.1.0-test' }, startTls: false },
      { store, policy: () => fixture.engine, logger: silent, verdicts },
    );
  });

  after(() => store.close());

  it('a reader is the policy’s read scope: private records are absent, private domains unnamed', async () => {
    const { site, systemOnly } = fixture.records;
    assert.equal(dir.reader(anonymous), readScope(fixture.engine, anonymous));
    assert.equal(await dir.record(dir.reader(anonymous), systemOnly.id), undefined);
    assert.equal((await dir.record(dir.reader(bob), systemOnly.id))?.id, systemOnly.id);
    const stored = await dir.record(dir.reader(anonymous), site.id);
    assert.ok(stored);
    assert.deepEqual((await dir.recordEntry(dir.reader(anonymous), stored)).values('icsdomain'), ['devices']);
    assert.deepEqual((await dir.recordEntry(dir.reader(bob), stored)).values('icsdomain'), ['devices', 'system']);
  });

  it('an ICS entry shows the verdict of the shared verdict cache', async () => {
    const stored = await store.get(fixture.records.site.id);
    assert.ok(stored);
    const entry = await dir.recordEntry(dir.reader(bob), stored);
    const cached = verdicts.get(stored, fixture.engine, new Date());
    assert.ok(cached, 'the entry’s verdict was cached by record digest and engine generation');
    assert.deepEqual(entry.values('icstrusted'), [cached.verdict.trusted ? 'TRUE' : 'FALSE']);
  });

  it('an ICS entry is rebuilt when its verdict expires', async function () {
    this.timeout(20_000);
    // The manufacturer's certification expires a few seconds from now (signature times are
    // whole seconds, so between 4 and 5 seconds).
    const created = new Date(Date.now() - 55_000);
    const { record } = await generateIdentity({ userId: acmeDeviceId(), created: new Date(created.getTime() - 60_000) });
    const expiring = await certify(record, fixture.f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created, expiresInSeconds: 60 });
    await ingest.submit(armor('publicKey', expiring.bytes), { source: 'cli' });
    const stored = await store.get(expiring.id);
    assert.ok(stored);
    const before = await dir.recordEntry(dir.reader(anonymous), stored);
    assert.deepEqual(before.values('icstrusted'), ['TRUE']);
    assert.equal(await dir.recordEntry(dir.reader(anonymous), stored), before, 'cached while the verdict holds');
    const expiresAt = Math.floor(created.getTime() / 1000) * 1000 + 60_000;
    await sleep(Math.max(0, expiresAt - Date.now()) + 50);
    const after = await dir.recordEntry(dir.reader(anonymous), stored);
    assert.deepEqual(after.values('icstrusted'), ['FALSE']);
  });
  it('keeps a key entry from its second use, not its first (lookups spread over a store fill no cache)', async () => {
    const stored = await store.get(fixture.records.site.id);
    assert.ok(stored);
    const entries = () => dir.caches()['key-entries']?.entries;
    const before = entries();
    const first = await dir.keyEntry(stored);
    assert.equal(entries(), before, 'built once: not kept');
    const second = await dir.keyEntry(stored);
    assert.notEqual(second, first, 'built again');
    assert.equal(entries(), (before ?? 0) + 1, 'asked for again: kept');
    assert.equal(await dir.keyEntry(stored), second, 'then answered from the cache');
    assert.deepEqual(second.values('gpgfingerprint'), [stored.id.toUpperCase()]);
  });
});
