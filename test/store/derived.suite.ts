// Derived structures (ics/store/derived.ts), part of the compliance suite: a structure registered
// with a store sees each accepted change inside the write, and its entries are committed with
// the record or not at all — a refused compare-and-set or a structure that throws leaves
// nothing of the write behind — and, in a persistent store, are there again after reopening.
import assert from 'node:assert/strict';
import { isIcsError } from '../../ics/errors.ts';
import { certify, type KeyRecord } from '../../ics/record/index.ts';
import type { ChangeEvent, DerivedReader, DerivedStructure, RecordChange, RecordStore, StoreHooks } from '../../ics/store/types.ts';
import { device, fixture, request, secondsAgo } from './records.ts';

export interface DerivedSuiteOptions {
  /** Closes the store and opens it again on the same data with these hooks (persistent stores only). */
  reopen?: (store: RecordStore, hooks: StoreHooks) => Promise<RecordStore>;
}

const text = (value: Uint8Array | undefined) => (value === undefined ? undefined : Buffer.from(value).toString('utf8'));
const seqKey = (seq: number) => Buffer.from(`seq/${String(seq).padStart(8, '0')}`);
const countKey = (id: string) => Buffer.from(`count/${id}`);

/**
 * Per write: `seq/<seq>` → `<id> <digest>`, and `count/<id>` → writes so far, read back
 * through the batch (so asynchronous, and seeing the writes committed in the same batch).
 * Throws for the ids in `refuse`.
 */
class Tally implements DerivedStructure {
  readonly name = 'tally';
  readonly seen: RecordChange[] = [];
  readonly refuse = new Set<string>();
  reader: DerivedReader | undefined;

  async apply(change: RecordChange, batch: Parameters<DerivedStructure['apply']>[1]): Promise<void> {
    this.seen.push(change);
    batch.put(seqKey(change.event.seq), Buffer.from(`${change.after.id} ${change.after.digest}`));
    const count = Number(text(await batch.get(countKey(change.after.id))) ?? 0);
    if (this.refuse.has(change.after.id)) throw new Error('tally refuses this record');
    batch.put(countKey(change.after.id), Buffer.from(String(count + 1)));
  }

  attach(reader: DerivedReader): void {
    this.reader = reader;
  }

  async count(id: string): Promise<number | undefined> {
    const value = text(await this.reader?.get(countKey(id)));
    return value === undefined ? undefined : Number(value);
  }

  async seqs(): Promise<number[]> {
    const entries = (await this.reader?.range({ gte: Buffer.from('seq/'), lt: Buffer.from('seq0') })) ?? [];
    return entries.map(([key]) => Number(Buffer.from(key).toString('utf8').slice(4)));
  }
}

/** Synchronous, registered before Tally, under the same keys: its entries must stay its own. */
class Mirror implements DerivedStructure {
  readonly name = 'mirror';
  reader: DerivedReader | undefined;

  apply(change: RecordChange, batch: Parameters<DerivedStructure['apply']>[1]): void {
    batch.put(countKey(change.after.id), Buffer.from('mirror'));
  }

  attach(reader: DerivedReader): void {
    this.reader = reader;
  }
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isIcsError(error) && error.code === code);
}

export function derivedSuite(name: string, factory: (hooks: StoreHooks) => Promise<RecordStore>, options: DerivedSuiteOptions = {}): void {
  describe(`store suite: ${name}: derived structures`, function () {
    this.timeout(60_000);
    let records: KeyRecord[];
    /** records[0] countersigned: an update of it. */
    let updated: KeyRecord;
    let store: RecordStore;
    let tally: Tally;
    let mirror: Mirror;

    before(async () => {
      const f = await fixture();
      const base = Date.now();
      records = [];
      for (let i = 0; i < 3; i++) records.push((await device(f, secondsAgo(300 - i, base))).record);
      updated = await certify(records[0] as KeyRecord, f.integrator.privateKey, { role: 'integrator' }, { created: secondsAgo(100, base) });
    });

    beforeEach(async () => {
      tally = new Tally();
      mirror = new Mirror();
      store = await factory({ derived: [mirror, tally] });
    });

    afterEach(async () => {
      await store.close();
    });

    const rec = (i: number) => records[i] as KeyRecord;

    it('hands each accepted change to the structure: record, before, after, event', async () => {
      const first = await store.write(request(rec(0), { domains: ['b', 'a'] }));
      const second = await store.write(request(updated, { domains: ['a'], expectedDigest: rec(0).digest }));
      assert.equal(tally.seen.length, 2);
      const [insert, update] = tally.seen as [RecordChange, RecordChange];
      assert.equal(insert.record.id, rec(0).id);
      assert.equal(insert.before, undefined);
      assert.equal(insert.after.digest, rec(0).digest);
      assert.deepEqual(insert.after.domains, ['a', 'b']);
      assert.equal(insert.after.seq, first.seq);
      assert.deepEqual(insert.event, first);
      assert.equal(update.before?.digest, rec(0).digest);
      assert.equal(update.after.digest, updated.digest);
      assert.deepEqual(update.event, second);
    });

    it('commits its entries with the record: there once the write resolves, and when listeners run', async () => {
      const atListener: Array<Promise<string | undefined>> = [];
      store.subscribe((event) => atListener.push((tally.reader as DerivedReader).get(seqKey(event.seq)).then(text)));
      await store.write(request(rec(0)));
      await store.write(request(updated, { expectedDigest: rec(0).digest }));
      assert.deepEqual(await Promise.all(atListener), [`${rec(0).id} ${rec(0).digest}`, `${rec(0).id} ${updated.digest}`]);
      assert.deepEqual(await tally.seqs(), [1, 2]);
      assert.equal(await tally.count(rec(0).id), 2, 'the second write read the first one’s entry');
    });

    it('lets each of many concurrent writes read the entries of the one before (one batch or not)', async () => {
      await store.write(request(rec(0)));
      const versions = [updated, rec(0), updated, rec(0)];
      let expected = rec(0).digest;
      const writes = versions.map((r) => {
        const w = store.write(request(r, { expectedDigest: expected }));
        expected = r.digest;
        return w;
      });
      assert.deepEqual((await Promise.all(writes)).map((e) => e.seq), [2, 3, 4, 5]);
      assert.equal(await tally.count(rec(0).id), 5);
      assert.deepEqual(await tally.seqs(), [1, 2, 3, 4, 5]);
    });

    it('is not called for a write refused by compare-and-set, and nothing of it is committed', async () => {
      await store.write(request(rec(0)));
      await expectCode(store.write(request(rec(0))), 'CONFLICT');
      await expectCode(store.write(request(updated, { expectedDigest: 'ab'.repeat(32) })), 'CONFLICT');
      assert.equal(tally.seen.length, 1);
      assert.deepEqual(await tally.seqs(), [1]);
      assert.equal(await tally.count(rec(0).id), 1);
      assert.equal((await store.get(rec(0).id))?.digest, rec(0).digest);
      assert.equal((await store.stats()).lastSeq, 1);
    });

    it('refuses a write when a structure throws: neither the record nor any structure’s entries are committed', async () => {
      tally.refuse.add(rec(1).id);
      const events: ChangeEvent[] = [];
      store.subscribe((e) => events.push(e));
      // Issued together: the LevelDB store commits them in one batch, without the refused one.
      const results = await Promise.allSettled([0, 1, 2].map((i) => store.write(request(rec(i), { domains: ['d'] }))));
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      const refused = results[1] as PromiseRejectedResult;
      assert.ok(isIcsError(refused.reason, 'INTERNAL'), 'an error that is not an IcsError becomes INTERNAL');
      assert.equal(await store.get(rec(1).id), undefined);
      assert.deepEqual((await store.changesSince(0, 10)).map((e) => e.id), [rec(0).id, rec(2).id]);
      assert.deepEqual(events.map((e) => e.seq), [1, 2], 'no sequence number is spent on the refused write');
      const synced = await store.syncRange('d', { time: 0, id: '' }, undefined, 10);
      assert.deepEqual(synced.map((i) => i.id).sort(), [rec(0).id, rec(2).id].sort(), 'the sync set has no entry for it');
      assert.equal(await (mirror.reader as DerivedReader).get(countKey(rec(1).id)), undefined, 'the structure before it has none either');
      assert.equal(await tally.count(rec(1).id), undefined);
      assert.deepEqual(await tally.seqs(), [1, 2]);
      // The same record goes through once the structure accepts it.
      tally.refuse.clear();
      assert.equal((await store.write(request(rec(1), { domains: ['d'] }))).seq, 3);
      assert.equal(await tally.count(rec(1).id), 1);
    });

    it('keeps each structure’s entries apart', async () => {
      await store.write(request(rec(0)));
      assert.equal(text(await (mirror.reader as DerivedReader).get(countKey(rec(0).id))), 'mirror');
      assert.equal(await tally.count(rec(0).id), 1);
      const all = await (mirror.reader as DerivedReader).range({});
      assert.deepEqual(all.map(([key]) => Buffer.from(key).toString('utf8')), [`count/${rec(0).id}`]);
      const reversed = await (tally.reader as DerivedReader).range({ reverse: true, limit: 1 });
      assert.deepEqual(reversed.map(([key]) => Buffer.from(key).toString('utf8')), ['seq/00000001'], 'descending, within the limit');
    });

    it('refuses a structure named twice, as the built-in sync set, or malformed, at open', async () => {
      const named = (name: string): DerivedStructure => ({ name, apply: () => {} });
      await expectCode(factory({ derived: [named('twice'), named('twice')] }), 'INTERNAL');
      await expectCode(factory({ derived: [named('sync-set')] }), 'INTERNAL');
      await expectCode(factory({ derived: [named('Not A Name')] }), 'INTERNAL');
    });

    it('fails reads with UNAVAILABLE once the store is closed', async () => {
      await store.write(request(rec(0)));
      await store.close();
      await expectCode((tally.reader as DerivedReader).get(countKey(rec(0).id)), 'UNAVAILABLE');
      await expectCode((tally.reader as DerivedReader).range({}), 'UNAVAILABLE');
    });

    if (options.reopen) {
      const reopen = options.reopen;
      it('has its entries again after close and open, and carries on from them', async () => {
        await store.write(request(rec(0)));
        await store.write(request(rec(1)));
        await store.write(request(updated, { expectedDigest: rec(0).digest }));
        tally = new Tally();
        mirror = new Mirror();
        store = await reopen(store, { derived: [mirror, tally] });
        assert.deepEqual(await tally.seqs(), [1, 2, 3]);
        assert.equal(await tally.count(rec(0).id), 2);
        assert.equal(text(await (mirror.reader as DerivedReader).get(countKey(rec(1).id))), 'mirror');
        await store.write(request(rec(0), { expectedDigest: updated.digest }));
        assert.equal(await tally.count(rec(0).id), 3, 'the write after reopening read the stored count');
      });
    }
  });
}
