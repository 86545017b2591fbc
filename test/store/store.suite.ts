// The compliance suite every RecordStore implementation runs (STYLE: one store suite for all).
// Each test gets a fresh store from the factory; records are made once with the record API.
import assert from 'node:assert/strict';
import { isIcsError } from '../../ics/errors.ts';
import { type CodeRecord, certify, type KeyRecord } from '../../ics/record/index.ts';
import { arrayReader, BucketIndex, boundKey, bucketBound, rawItems, summarise } from '../../ics/store/fingerprint.ts';
import { compareIds } from '../../ics/store/ids.ts';
import { contentTime } from '../../ics/store/indexing.ts';
import type { ChangeEvent, RecordStore, StoreHooks } from '../../ics/store/types.ts';
import { derivedSuite } from './derived.suite.ts';
import { code, device, type Fixture, fixture, keyWithSubkey, renamed, request, secondsAgo } from './records.ts';

export interface SuiteOptions {
  /** Closes the store and opens it again on the same data, with `hooks` (persistent stores only). */
  reopen?: (store: RecordStore, hooks?: StoreHooks) => Promise<RecordStore>;
}

interface Corpus {
  f: Fixture;
  /** Eight devices, content times one minute apart, oldest first; two share a time. */
  devices: Array<Awaited<ReturnType<typeof device>>>;
  /** devices[0] with an integrator countersignature added one minute after the newest device. */
  countersigned: KeyRecord;
  /** devices[1] under a gateway URN, self-certified later. */
  gateway: KeyRecord;
  withSubkey: KeyRecord;
  firmware: CodeRecord;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isIcsError(error) && error.code === code);
}

type Bound = { time: number; id: string };
const sorted = (ids: readonly string[]) => [...ids].sort(compareIds);

/** `factory` opens a new, empty store with `hooks` (none when absent). */
export function storeSuite(name: string, factory: (hooks?: StoreHooks) => Promise<RecordStore>, options: SuiteOptions = {}): void {
  describe(`store suite: ${name}`, function () {
    this.timeout(60_000);
    let c: Corpus;
    let store: RecordStore;

    before(async () => {
      const f = await fixture();
      const base = Date.now();
      const devices = [];
      for (let i = 0; i < 8; i++) devices.push(await device(f, secondsAgo(600 - 60 * Math.min(i, 6), base)));
      const d0 = devices[0] as Corpus['devices'][number];
      const d1 = devices[1] as Corpus['devices'][number];
      const countersigned = await certify(d0.record, f.integrator.privateKey, { role: 'integrator' }, { created: secondsAgo(30, base) });
      const gateway = await renamed(d1.identity, 'urn:cm4it:gateway:acme.example:GW-7', secondsAgo(20, base));
      const withSubkey = await keyWithSubkey('Gateway Seven <gw7@Acme.Example>', secondsAgo(700, base));
      const firmware = await code(f, 'acme-cam-fw', '3.2.1', secondsAgo(650, base));
      c = { f, devices, countersigned, gateway, withSubkey, firmware };
    });

    beforeEach(async () => {
      store = await factory();
    });

    afterEach(async () => {
      await store.close();
    });

    const dev = (i: number) => (c.devices[i] as Corpus['devices'][number]).record;

    it('stores a record and gets it back, with what the store derived', async () => {
      const r = dev(2);
      const before = Date.now();
      const event = await store.write(request(r, { domains: ['zeta', 'alpha', 'zeta'] }));
      const got = await store.get(r.id);
      assert.ok(got);
      assert.equal(got.id, r.id);
      assert.equal(got.kind, 'device');
      assert.deepEqual(Buffer.from(got.bytes), Buffer.from(r.bytes));
      assert.equal(got.digest, r.digest);
      assert.deepEqual(got.domains, ['alpha', 'zeta']);
      assert.equal(got.contentTime.getTime(), contentTime(r));
      assert.ok(got.updated.getTime() >= before - 1000 && got.updated.getTime() <= Date.now() + 1000);
      assert.equal(got.seq, event.seq);
      assert.equal(await store.get(dev(3).id), undefined);
      assert.equal(await store.get('not-an-id'), undefined);
      assert.equal(await store.get(r.id.toUpperCase()), undefined, 'ids are exact, lower-case');
    });

    it('keeps its own copy of the bytes', async () => {
      const r = dev(2);
      const copy = { ...r, bytes: Buffer.from(r.bytes) };
      await store.write(request(copy));
      copy.bytes.fill(0);
      const got = await store.get(r.id);
      assert.deepEqual(Buffer.from(got?.bytes ?? []), Buffer.from(r.bytes));
    });

    it('getMany answers in order, undefined for what is missing', async () => {
      await store.write(request(dev(2)));
      await store.write(request(c.firmware, { domains: ['code'] }));
      const got = await store.getMany([c.firmware.id, dev(3).id, dev(2).id, 'junk']);
      assert.deepEqual(
        got.map((g) => g?.id),
        [c.firmware.id, undefined, dev(2).id, undefined],
      );
      assert.equal(got[0]?.kind, 'code');
      assert.deepEqual(await store.getMany([]), []);
    });

    it('write returns the event it logged', async () => {
      const first = await store.write(request(dev(0), { source: 'hkp', origin: '192.0.2.7', summary: 'registered: manufacturer', signaturesAdded: 2 }));
      assert.equal(first.seq, 1);
      assert.equal(first.action, 'insert');
      assert.equal(first.id, dev(0).id);
      assert.equal(first.kind, 'device');
      assert.equal(first.source, 'hkp');
      assert.equal(first.origin, '192.0.2.7');
      assert.equal(first.digest, dev(0).digest);
      assert.equal(first.previousDigest, undefined);
      assert.equal(first.signaturesAdded, 2);
      assert.equal(first.summary, 'registered: manufacturer');
      assert.deepEqual(first.domains, ['devices']);
      assert.ok(first.at instanceof Date);
      const second = await store.write(request(c.countersigned, { expectedDigest: dev(0).digest, source: 'peer', summary: 'updated' }));
      assert.equal(second.seq, 2);
      assert.equal(second.action, 'update');
      assert.equal(second.previousDigest, dev(0).digest);
      assert.equal(second.origin, undefined);
    });

    describe('finders', () => {
      beforeEach(async () => {
        for (let i = 0; i < 5; i++) await store.write(request(dev(i)));
        await store.write(request(c.withSubkey, { domains: ['gateways'] }));
        await store.write(request(c.firmware, { domains: ['code'] }));
      });

      it('finds by key id: primary and subkey, any case', async () => {
        const r = dev(3);
        assert.deepEqual(await store.findByKeyId(r.primaryKey.keyId, { limit: 10 }), [r.id]);
        assert.deepEqual(await store.findByKeyId(r.primaryKey.keyId.toUpperCase(), { limit: 10 }), [r.id]);
        const sub = c.withSubkey.subkeys[0];
        assert.ok(sub, 'the test key has a subkey');
        assert.deepEqual(await store.findByKeyId(sub.key.keyId, { limit: 10 }), [c.withSubkey.id]);
        assert.deepEqual(await store.findByKeyId('0123456789abcdef', { limit: 10 }), []);
        assert.deepEqual(await store.findByKeyId('not hex', { limit: 10 }), []);
        assert.deepEqual(await store.findByKeyId(r.primaryKey.keyId, { limit: 0 }), []);
      });

      it('finds by fingerprint: primary and subkey', async () => {
        const r = dev(1);
        assert.deepEqual(await store.findByFingerprint(r.id, { limit: 10 }), [r.id]);
        assert.deepEqual(await store.findByFingerprint(r.id.toUpperCase(), { limit: 10 }), [r.id]);
        const sub = c.withSubkey.subkeys[0];
        assert.ok(sub);
        assert.deepEqual(await store.findByFingerprint(sub.key.fingerprint, { limit: 10 }), [c.withSubkey.id]);
        assert.deepEqual(await store.findByFingerprint(dev(6).id, { limit: 10 }), []);
        assert.deepEqual(await store.findByFingerprint(r.id, { limit: 0 }), []);
      });

      it('finds by user-ID token, exact and by prefix, within the limit', async () => {
        const serial = (c.devices[3]?.userId ?? '').split(':').at(-1) as string;
        assert.deepEqual(await store.findByToken(serial.toLowerCase(), { limit: 10 }), [dev(3).id]);
        assert.deepEqual(await store.findByToken(serial, { limit: 10 }), [dev(3).id], 'the query is lower-cased');
        assert.deepEqual(await store.findByToken('cam-3', { limit: 10 }).then(sorted), sorted([0, 1, 2, 3, 4].map((i) => dev(i).id)));
        assert.equal((await store.findByToken('device', { limit: 3 })).length, 3);
        assert.deepEqual(await store.findByToken('sn', { limit: 10 }), [], 'exact match only without prefix');
        const prefixed = await store.findByToken('sn', { limit: 10, prefix: true });
        assert.deepEqual(sorted(prefixed), sorted([0, 1, 2, 3, 4].map((i) => dev(i).id)));
        assert.equal((await store.findByToken('sn', { limit: 2, prefix: true })).length, 2);
        // Several tokens of one record share the prefix "ac" (acme, acme.example): counted once.
        const ac = await store.findByToken('ac', { limit: 100, prefix: true });
        assert.deepEqual(sorted(ac), sorted([...[0, 1, 2, 3, 4].map((i) => dev(i).id), c.withSubkey.id, c.firmware.id]));
        assert.deepEqual(await store.findByToken('gw7@acme.example', { limit: 10 }), [c.withSubkey.id], 'the e-mail address');
        assert.deepEqual(await store.findByToken('', { limit: 10, prefix: true }), []);
        assert.deepEqual(await store.findByToken('nothing-like-this', { limit: 10 }), []);
      });

      it('finds code by name, version and digest', async () => {
        const digest = c.firmware.statement.subject.digest.sha256 as string;
        for (const token of ['acme-cam-fw', 'fw', '3.2.1', `sha256:${digest}`, digest]) {
          assert.deepEqual(await store.findByToken(token, { limit: 10 }), [c.firmware.id], token);
        }
      });

      it('lists a domain and a kind in id order, page by page', async () => {
        const all = sorted([0, 1, 2, 3, 4].map((i) => dev(i).id));
        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listDomain('devices', { limit: 2, after });
          if (page.length === 0) break;
          pages.push(page);
          after = page.at(-1);
        }
        assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
        assert.deepEqual(pages.flat(), all);
        assert.deepEqual(await store.listKind('device', { limit: 100 }), all);
        assert.deepEqual(await store.listKind('device', { limit: 100, after: all[2] }), all.slice(3));
        assert.deepEqual(await store.listKind('code', { limit: 100 }), [c.firmware.id]);
        assert.deepEqual(await store.listDomain('gateways', { limit: 100 }), [c.withSubkey.id]);
        assert.deepEqual(await store.listDomain('nowhere', { limit: 100 }), []);
        assert.deepEqual(await store.listDomain('devices', { limit: 0 }), []);
        // A hex prefix as `after` pages from that point of the id space.
        const prefix = (all[2] as string).slice(0, 5);
        assert.deepEqual(await store.listKind('device', { limit: 100, after: prefix }), all.filter((id) => id > prefix));
      });
    });

    describe('sync set', () => {
      const item = (r: KeyRecord | CodeRecord) => ({ time: contentTime(r), id: r.id, digest: r.digest });
      let expected: Array<{ time: number; id: string; digest: string }>;

      beforeEach(async () => {
        for (let i = 0; i < 8; i++) await store.write(request(dev(i), { domains: ['d'] }));
        await store.write(request(c.firmware, { domains: ['code'] }));
        expected = c.devices.map((d) => item(d.record)).sort((a, b) => a.time - b.time || compareIds(a.id, b.id));
      });

      it('holds every record of the domain in (time, id) order', async () => {
        assert.deepEqual(await store.syncRange('d', { time: 0, id: '' }, undefined, 100), expected);
        // Devices 6 and 7 share a content time: the id orders them.
        assert.equal(expected[6]?.time, expected[7]?.time);
        assert.deepEqual(await store.syncRange('code', { time: 0, id: '' }, undefined, 100), [item(c.firmware)]);
        assert.deepEqual(await store.syncRange('none', { time: 0, id: '' }, undefined, 100), []);
      });

      it('answers [from, to) with a limit', async () => {
        const [e1, e3, e6, e7] = [1, 3, 6, 7].map((i) => expected[i] as { time: number; id: string }) as [Bound, Bound, Bound, Bound];
        assert.deepEqual(await store.syncRange('d', e1, e3, 100), expected.slice(1, 3));
        assert.deepEqual(await store.syncRange('d', e1, e3, 1), expected.slice(1, 2));
        assert.deepEqual(await store.syncRange('d', e1, e1, 100), []);
        assert.deepEqual(await store.syncRange('d', e3, e1, 100), []);
        // Time-only bounds: id '' is before every id of that time.
        assert.deepEqual(await store.syncRange('d', { time: e6.time, id: '' }, undefined, 100), expected.slice(6));
        assert.deepEqual(await store.syncRange('d', { time: 0, id: '' }, { time: e6.time, id: '' }, 100), expected.slice(0, 6));
        assert.deepEqual(await store.syncRange('d', e7, undefined, 100), expected.slice(7));
        // A hex prefix of an id as a bound, as range-based reconciliation sends.
        let k = 0;
        while (e6.id[k] === e7.id[k]) k++;
        const split = { time: e6.time, id: e7.id.slice(0, k + 1) };
        assert.ok(e6.id < split.id && split.id < e7.id, 'e6 sorts before e7 and the prefix between them');
        assert.deepEqual(await store.syncRange('d', { time: e6.time, id: '' }, split, 100), expected.slice(6, 7));
        assert.deepEqual(await store.syncRange('d', split, undefined, 100), expected.slice(7));
        assert.deepEqual(await store.syncRange('d', { time: 0, id: '' }, undefined, 0), []);
      });

      it('summarises ranges and cuts them as the bucket index over its items does, and keeps up with updates', async () => {
        const check = async (domain: string) => {
          const items = await store.syncRange(domain, { time: 0, id: '' }, undefined, 100);
          const reference = BucketIndex.fromItems(rawItems(items));
          const read = arrayReader(rawItems(items));
          const bounds: Bound[] = [{ time: 0, id: '' }, ...items.flatMap((i) => [{ time: i.time, id: i.id }, bucketBound(i.time, i.id)])].sort((x, y) =>
            Buffer.compare(boundKey(x), boundKey(y)),
          );
          const want = await reference.summaries(bounds.map(boundKey), undefined, read);
          assert.deepEqual(await store.syncSummaries(domain, bounds, undefined), want);
          assert.deepEqual(await store.syncSummaries(domain, [{ time: 0, id: '' }], undefined), [summarise(items)]);
          for (const [from, to] of [[bounds[0], undefined], [bounds[2], bounds[9]], [bounds[5], bounds[5]]] as Array<[Bound, Bound | undefined]>) {
            const pieces = await store.syncSplit(domain, from, to, 4);
            assert.deepEqual(pieces, await reference.split(boundKey(from), from, to && boundKey(to), 4, read));
            assert.equal(pieces.reduce((n, p) => n + p.count, 0), items.filter((i) => Buffer.compare(boundKey(i), boundKey(from)) >= 0 && (!to || Buffer.compare(boundKey(i), boundKey(to)) < 0)).length);
          }
        };
        await check('d');
        await store.write(request(c.countersigned, { domains: ['d'], expectedDigest: dev(0).digest }));
        await check('d');
        assert.deepEqual(await store.syncSummaries('none', [{ time: 0, id: '' }], undefined), [{ count: 0, sum: new Uint8Array(32) }]);
      });
    });

    it('logs changes: changesSince pages the log, history gives one record’s events', async () => {
      await store.write(request(dev(0)));
      await store.write(request(dev(1)));
      await store.write(request(c.countersigned, { expectedDigest: dev(0).digest, summary: 'integrator' }));
      const all = await store.changesSince(0, 100);
      assert.deepEqual(all.map((e) => e.seq), [1, 2, 3]);
      assert.deepEqual(all.map((e) => e.id), [dev(0).id, dev(1).id, dev(0).id]);
      assert.equal(all[2]?.summary, 'integrator');
      assert.deepEqual((await store.changesSince(1, 1)).map((e) => e.seq), [2]);
      assert.deepEqual(await store.changesSince(3, 10), []);
      assert.deepEqual(await store.changesSince(0, 0), []);
      assert.deepEqual((await store.changesSince(-5, 10)).length, 3);
      const history = await store.history(dev(0).id);
      assert.deepEqual(history.map((e) => [e.seq, e.action, e.digest]), [
        [1, 'insert', dev(0).digest],
        [3, 'update', c.countersigned.digest],
      ]);
      assert.deepEqual(history, [all[0], all[2]]);
      assert.deepEqual(await store.history(dev(5).id), []);
    });

    describe('compare-and-set', () => {
      it('refuses an insert over an existing record and an update from a stale digest', async () => {
        await store.write(request(dev(0)));
        await expectCode(store.write(request(dev(0))), 'CONFLICT');
        await expectCode(store.write(request(c.countersigned)), 'CONFLICT');
        await expectCode(store.write(request(c.countersigned, { expectedDigest: 'ab'.repeat(32) })), 'CONFLICT');
        await expectCode(store.write(request(dev(1), { expectedDigest: dev(0).digest })), 'CONFLICT');
        assert.equal((await store.stats()).lastSeq, 1, 'a refused write logs nothing');
        await store.write(request(c.countersigned, { expectedDigest: dev(0).digest }));
        assert.equal((await store.get(dev(0).id))?.digest, c.countersigned.digest);
      });

      it('lets exactly one of two racing writers from the same version through', async () => {
        await store.write(request(dev(0)));
        const a = store.write(request(c.countersigned, { expectedDigest: dev(0).digest }));
        const b = store.write(request(c.countersigned, { expectedDigest: dev(0).digest, domains: ['other'] }));
        const results = await Promise.allSettled([a, b]);
        assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
        const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.ok(isIcsError(failed.reason, 'CONFLICT'));
        assert.equal((await store.stats()).lastSeq, 2);
      });

      it('orders many concurrent writes to one id: each sees the one before', async () => {
        // Each writer expects the digest the previous one wrote; all are issued at once.
        await store.write(request(dev(0)));
        const versions = [c.countersigned, dev(0), c.countersigned, dev(0)];
        let expected = dev(0).digest;
        const writes = versions.map((r) => {
          const w = store.write(request(r, { expectedDigest: expected }));
          expected = r.digest;
          return w;
        });
        const events = await Promise.all(writes);
        assert.deepEqual(events.map((e) => e.seq), [2, 3, 4, 5]);
        assert.equal((await store.history(dev(0).id)).length, 5);
      });

      it('refuses what the record model never makes', async () => {
        const bogus = { ...dev(0), id: 'not-a-fingerprint' } as KeyRecord;
        await expectCode(store.write(request(bogus)), 'INTERNAL');
        await expectCode(store.write(request(dev(0), { domains: ['bad\0name'] })), 'INTERNAL');
        assert.equal((await store.stats()).records, 0);
      });
    });

    it('removes the previous version’s index and sync-set entries on update', async () => {
      const d1 = dev(1);
      const serial = ((c.devices[1]?.userId ?? '').split(':').at(-1) as string).toLowerCase();
      await store.write(request(d1, { domains: ['a', 'b'] }));
      assert.deepEqual(await store.findByToken(serial, { limit: 10 }), [d1.id]);
      await store.write(request(c.gateway, { domains: ['b', 'c'], expectedDigest: d1.digest }));
      // Tokens: the device URN's are gone, the gateway URN's are there.
      assert.deepEqual(await store.findByToken(serial, { limit: 10 }), []);
      assert.deepEqual(await store.findByToken('cam-3', { limit: 10 }), []);
      assert.deepEqual(await store.findByToken('gw-7', { limit: 10 }), [d1.id]);
      assert.deepEqual(await store.findByToken('sn', { limit: 10, prefix: true }), []);
      assert.deepEqual(await store.findByKeyId(d1.primaryKey.keyId, { limit: 10 }), [d1.id], 'unchanged terms stay');
      // Domains and kind.
      assert.deepEqual(await store.listDomain('a', { limit: 10 }), []);
      assert.deepEqual(await store.listDomain('b', { limit: 10 }), [d1.id]);
      assert.deepEqual(await store.listDomain('c', { limit: 10 }), [d1.id]);
      assert.deepEqual(await store.listKind('device', { limit: 10 }), []);
      assert.deepEqual(await store.listKind('gateway', { limit: 10 }), [d1.id]);
      assert.deepEqual((await store.stats()).byKind, { gateway: 1 });
      // Sync set: one entry per current domain, at the new content time with the new digest.
      const now = { time: contentTime(c.gateway), id: d1.id, digest: c.gateway.digest };
      assert.notEqual(now.time, contentTime(d1));
      assert.deepEqual(await store.syncRange('a', { time: 0, id: '' }, undefined, 10), []);
      assert.deepEqual(await store.syncRange('b', { time: 0, id: '' }, undefined, 10), [now]);
      assert.deepEqual(await store.syncRange('c', { time: 0, id: '' }, undefined, 10), [now]);
    });

    it('moves a sync-set entry when a newer signature changes the content time', async () => {
      await store.write(request(dev(0), { domains: ['d'] }));
      await store.write(request(c.countersigned, { domains: ['d'], expectedDigest: dev(0).digest }));
      assert.deepEqual(await store.syncRange('d', { time: 0, id: '' }, undefined, 10), [
        { time: contentTime(c.countersigned), id: dev(0).id, digest: c.countersigned.digest },
      ]);
    });

    describe('subscribe', () => {
      it('calls listeners after the commit, in seq order', async () => {
        const seqs: number[] = [];
        const reads: Array<Promise<string | undefined>> = [];
        store.subscribe((event) => {
          seqs.push(event.seq);
          // The change is visible to a read the listener starts.
          reads.push(store.get(event.id).then((g) => g?.digest));
        });
        await Promise.all([0, 1, 2, 3].map((i) => store.write(request(dev(i)))));
        assert.deepEqual(seqs, [1, 2, 3, 4]);
        assert.deepEqual(await Promise.all(reads), [0, 1, 2, 3].map((i) => dev(i).digest));
      });

      it('isolates listeners: one throwing breaks neither the store nor the others', async () => {
        const got: number[] = [];
        store.subscribe(() => {
          throw new Error('listener failure');
        });
        const unsubscribe = store.subscribe((e) => got.push(e.seq));
        await store.write(request(dev(0)));
        await store.write(request(dev(1)));
        unsubscribe();
        await store.write(request(dev(2)));
        assert.deepEqual(got, [1, 2]);
        assert.equal((await store.stats()).records, 3);
      });

      it('does not call listeners for refused writes', async () => {
        const got: ChangeEvent[] = [];
        store.subscribe((e) => got.push(e));
        await store.write(request(dev(0)));
        await expectCode(store.write(request(dev(0))), 'CONFLICT');
        assert.equal(got.length, 1);
      });
    });

    it('counts records by kind', async () => {
      assert.deepEqual(await store.stats(), { records: 0, byKind: {}, lastSeq: 0 });
      await store.write(request(dev(0)));
      await store.write(request(dev(1)));
      await store.write(request(c.firmware, { domains: ['code'] }));
      await store.write(request(c.countersigned, { expectedDigest: dev(0).digest }));
      assert.deepEqual(await store.stats(), { records: 3, byKind: { device: 2, code: 1 }, lastSeq: 4 });
    });

    it('fails with UNAVAILABLE once closed', async () => {
      await store.write(request(dev(0)));
      await store.close();
      await expectCode(store.get(dev(0).id), 'UNAVAILABLE');
      await expectCode(store.write(request(dev(1))), 'UNAVAILABLE');
    });

    if (options.reopen) {
      const reopen = options.reopen;
      it('keeps records, indexes, the log and the sequence across close and open', async () => {
        await store.write(request(dev(0), { domains: ['d'] }));
        await store.write(request(c.firmware, { domains: ['code'] }));
        await store.write(request(c.countersigned, { domains: ['d'], expectedDigest: dev(0).digest }));
        store = await reopen(store);
        assert.equal((await store.get(dev(0).id))?.digest, c.countersigned.digest);
        assert.deepEqual(await store.stats(), { records: 2, byKind: { device: 1, code: 1 }, lastSeq: 3 });
        assert.deepEqual(await store.findByKeyId(dev(0).primaryKey.keyId, { limit: 5 }), [dev(0).id]);
        assert.deepEqual((await store.history(dev(0).id)).map((e) => e.seq), [1, 3]);
        const next = await store.write(request(dev(1)));
        assert.equal(next.seq, 4);
        assert.deepEqual((await store.syncRange('d', { time: 0, id: '' }, undefined, 10)).map((i) => i.digest), [c.countersigned.digest]);
      });
    }
  });
  derivedSuite(name, factory, { reopen: options.reopen });
}
