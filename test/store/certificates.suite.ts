// The certificate index (ics/store/certificates.ts), part of the compliance suite: entries round
// trip exactly, serials are unique, each finder answers in its order, the listings page by their
// cursors, a revocation is final, bad input is refused with nothing stored, a closed store is
// UNAVAILABLE; and in a persistent store, entries survive reopening and certificate writes mixed
// with record writes lose nothing.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { isIcsError } from '../../ics/errors.ts';
import type { KeyRecord } from '../../ics/record/index.ts';
import type { CertificateEntry, RecordStore } from '../../ics/store/types.ts';
import { device, fixture, request, secondsAgo } from './records.ts';

export interface CertificateSuiteOptions {
  /** Closes the store and opens it again on the same data (persistent stores only). */
  reopen?: (store: RecordStore) => Promise<RecordStore>;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isIcsError(error) && error.code === code);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const RECORD_A = createHash('sha1').update('device a').digest('hex');
const RECORD_B = createHash('sha1').update('device b').digest('hex');
const ISSUER_A = sha256(Buffer.from('issuing CA a'));
const ISSUER_B = sha256(Buffer.from('issuing CA b'));
/** Times with milliseconds, which the index keeps exactly. */
const at = (day: number, ms = 0) => new Date(Date.UTC(2026, 0, day, 12, 0, 0, ms));
/** RFC 5280 §4.1.2.5's "no well-defined expiration date", what birth certificates carry. */
const FOREVER = new Date('9999-12-31T23:59:59Z');

let counter = 0;

/** A valid entry: DER of every byte value (opaque to the index), a fresh 16-byte serial unless given. */
function entry(fields: Partial<CertificateEntry> = {}): CertificateEntry {
  counter += 1;
  const der = fields.der ?? Buffer.concat([Buffer.of(0x30, 0x82, 0x00, 0xff), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(64)]);
  return {
    serial: `7f${counter.toString(16).padStart(30, '0')}`,
    recordId: RECORD_A,
    issuer: ISSUER_A,
    purpose: 'operational',
    notBefore: at(1, 1),
    notAfter: at(90, 999),
    sha256: sha256(der),
    der,
    issuedAt: at(1, 678),
    ...fields,
  };
}

/** Fields compared by value: dates as ms, DER as bytes. */
function plain(e: CertificateEntry | undefined): unknown {
  if (!e) return e;
  const { revoked, ...rest } = e;
  return {
    ...rest,
    der: Buffer.from(e.der).toString('hex'),
    notBefore: e.notBefore.getTime(),
    notAfter: e.notAfter.getTime(),
    issuedAt: e.issuedAt.getTime(),
    revoked: revoked && { at: revoked.at.getTime(), reason: revoked.reason },
  };
}

const serials = (entries: readonly CertificateEntry[]) => entries.map((e) => e.serial);

export function certificateSuite(name: string, factory: () => Promise<RecordStore>, options: CertificateSuiteOptions = {}): void {
  describe(`store suite: ${name}: certificate index`, function () {
    this.timeout(60_000);
    let store: RecordStore;

    beforeEach(async () => {
      store = await factory();
    });

    afterEach(async () => {
      await store.close();
    });

    it('gets back what it was given: DER bytes exact, dates to the ms, no revocation', async () => {
      const e = entry();
      const der = Buffer.from(e.der);
      await store.addCertificate(e);
      (e.der as Buffer).fill(0);
      const got = await store.getCertificate(e.serial);
      assert.deepEqual(plain(got), plain({ ...e, der }));
      assert.ok(got && !('revoked' in got), 'no revoked field while not revoked');
      (got.der as Uint8Array).fill(0);
      assert.deepEqual(Buffer.from((await store.getCertificate(e.serial))?.der ?? []), der, 'a caller cannot change what is stored');
      const birth = entry({ purpose: 'birth', notAfter: FOREVER, recordId: RECORD_B });
      await store.addCertificate(birth);
      assert.deepEqual(plain(await store.getCertificate(birth.serial)), plain(birth));
      assert.equal(await store.getCertificate('0123'), undefined);
      assert.equal(await store.getCertificate(e.serial.toUpperCase()), undefined, 'serials are exact, lower-case');
      assert.equal(await store.getCertificate('not a serial'), undefined);
    });

    it('refuses a serial it holds with CONFLICT and keeps the first entry', async () => {
      const first = entry();
      await store.addCertificate(first);
      const second = entry({ serial: first.serial, recordId: RECORD_B, issuedAt: at(2) });
      await expectCode(store.addCertificate(second), 'CONFLICT');
      assert.deepEqual(plain(await store.getCertificate(first.serial)), plain(first));
      assert.deepEqual(serials(await store.certificatesOf(RECORD_B)), []);
      // Two adds in flight at once: the first called wins.
      const a = entry();
      const b = entry({ serial: a.serial, purpose: 'birth' });
      const [ra, rb] = await Promise.allSettled([store.addCertificate(a), store.addCertificate(b)]);
      assert.equal(ra.status, 'fulfilled');
      assert.ok(rb.status === 'rejected' && isIcsError(rb.reason, 'CONFLICT'));
      assert.equal((await store.getCertificate(a.serial))?.purpose, 'operational');
    });

    it("lists a record's certificates oldest issuance first, serial order within the same time", async () => {
      const late = entry({ serial: '01', issuedAt: at(5, 1) });
      const tieHigh = entry({ serial: 'ff', issuedAt: at(3, 5) });
      const tieLow = entry({ serial: '1a', issuedAt: at(3, 5) });
      const early = entry({ serial: '0100', issuedAt: at(3, 4) });
      const other = entry({ recordId: RECORD_B, issuedAt: at(1) });
      for (const e of [late, tieHigh, other, tieLow, early]) await store.addCertificate(e);
      assert.deepEqual(serials(await store.certificatesOf(RECORD_A)), ['0100', '1a', 'ff', '01']);
      assert.deepEqual(serials(await store.certificatesOf(RECORD_B)), [other.serial]);
      assert.deepEqual(await store.certificatesOf(createHash('sha1').update('nobody').digest('hex')), []);
      assert.deepEqual(await store.certificatesOf(RECORD_A.toUpperCase()), []);
      assert.deepEqual(await store.certificatesOf('junk'), []);
    });

    it('lists certificates expiring before a time soonest first, within the limit, expired and revoked ones included', async () => {
      const cutoff = at(30, 500);
      const expired = entry({ notBefore: at(1), notAfter: at(2, 7) });
      const soon = entry({ notAfter: at(20, 1) });
      const soonTie = entry({ serial: '02', notAfter: at(20, 1) });
      const justBefore = entry({ notAfter: at(30, 499) });
      const atCutoff = entry({ notAfter: cutoff });
      const later = entry({ notAfter: at(60) });
      for (const e of [later, justBefore, soon, atCutoff, expired, soonTie]) await store.addCertificate(e);
      await store.revokeCertificate(soon.serial, { at: at(10), reason: 'superseded' });
      const want = [expired.serial, '02', soon.serial, justBefore.serial];
      assert.deepEqual(serials(await store.expiringBefore(cutoff, 100)), want);
      assert.deepEqual(serials(await store.expiringBefore(cutoff, 2)), want.slice(0, 2));
      assert.deepEqual(await store.expiringBefore(cutoff, 0), []);
      assert.deepEqual(await store.expiringBefore(at(1), 100), []);
      assert.equal((await store.expiringBefore(cutoff, 100))[2]?.revoked?.reason, 'superseded');
      assert.equal((await store.expiringBefore(new Date(8.64e15), 100)).length, 6, 'a bound past every certificate');
      await expectCode(store.expiringBefore(new Date(Number.NaN), 10), 'BAD_REQUEST');
    });

    it("lists one issuing CA's revoked certificates in serial order, within the limit", async () => {
      // Serial order is the serials' value: 1a < ff < 0100 < 7f01.
      const mine = ['0100', 'ff', '7f01', '1a', '05'].map((serial) => entry({ serial }));
      const theirs = entry({ serial: '03', issuer: ISSUER_B });
      for (const e of [...mine, theirs]) await store.addCertificate(e);
      assert.deepEqual(await store.revokedBy(ISSUER_A, 10), [], 'none revoked yet');
      for (const serial of ['7f01', '0100', 'ff', '1a', '03']) await store.revokeCertificate(serial, { at: at(10), reason: 'keyCompromise' });
      assert.deepEqual(serials(await store.revokedBy(ISSUER_A, 10)), ['1a', 'ff', '0100', '7f01']);
      assert.deepEqual(serials(await store.revokedBy(ISSUER_A, 3)), ['1a', 'ff', '0100']);
      assert.deepEqual(await store.revokedBy(ISSUER_A, 0), []);
      assert.deepEqual(serials(await store.revokedBy(ISSUER_B, 10)), ['03']);
      assert.deepEqual(await store.revokedBy(sha256(Buffer.from('no such CA')), 10), []);
      assert.deepEqual(await store.revokedBy('not an issuer', 10), []);
      // Added already revoked (an import): listed too.
      const imported = entry({ serial: '1b', revoked: { at: at(4, 44), reason: 'cessationOfOperation' } });
      await store.addCertificate(imported);
      assert.deepEqual(serials(await store.revokedBy(ISSUER_A, 10)), ['1a', '1b', 'ff', '0100', '7f01']);
      assert.deepEqual(plain(await store.getCertificate('1b')), plain(imported));
    });

    describe('paging', () => {
      const PAGE = 10;
      // 25 serials of 1 to 3 digits (7919 is odd, so distinct mod 4096): value order is not text order.
      const pagedSerials = Array.from({ length: 25 }, (_, i) => ((i * 7919) % 4096 + 1).toString(16));
      const byValue = (a: string, b: string) => (BigInt(`0x${a}`) < BigInt(`0x${b}`) ? -1 : 1);
      const cutoff = at(40);

      /** Every page from the first on, until one comes back empty. */
      async function pages<C>(read: (after: C | undefined) => Promise<CertificateEntry[]>, next: (last: CertificateEntry) => C): Promise<string[][]> {
        const out: string[][] = [];
        let after: C | undefined;
        for (;;) {
          const page = await read(after);
          if (page.length === 0) return out;
          out.push(serials(page));
          after = next(page.at(-1) as CertificateEntry);
        }
      }

      it('reads certificates expiring before a time page by page, each once, in (notAfter, serial) order', async () => {
        // Four notAfter times of 7, 6, 6 and 6 (pages end inside one), plus two not expiring before the cutoff.
        const entries = pagedSerials.map((serial, i) => entry({ serial, notBefore: at(1), notAfter: at(10 + (i % 4), 250) }));
        await Promise.all([...entries, entry({ notAfter: cutoff }), entry({ notAfter: FOREVER })].map((e) => store.addCertificate(e)));
        const want = [...entries].sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime() || byValue(a.serial, b.serial)).map((e) => e.serial);
        const got = await pages(
          (after: { notAfter: Date; serial: string } | undefined) => store.expiringBefore(cutoff, PAGE, after),
          (last) => ({ notAfter: last.notAfter, serial: last.serial }),
        );
        assert.deepEqual(got.map((page) => page.length), [10, 10, 5]);
        assert.deepEqual(got.flat(), want);

        // '' starts at the time itself, every serial of it included: "from now on".
        const third = at(12, 250);
        assert.deepEqual(serials(await store.expiringBefore(cutoff, 100, { notAfter: third, serial: '' })), want.slice(13));
        assert.deepEqual(serials(await store.expiringBefore(cutoff, 100, { notAfter: at(12, 251), serial: '' })), want.slice(19));
        // A serial not stored: strictly after it by value, within its time.
        const inTie = want[15] as string;
        const between = (BigInt(`0x${inTie}`) + 1n).toString(16);
        assert.ok(!pagedSerials.includes(between));
        assert.deepEqual(serials(await store.expiringBefore(cutoff, 100, { notAfter: third, serial: between })), want.slice(16));
        assert.deepEqual(serials(await store.expiringBefore(cutoff, 100, { notAfter: new Date(-1), serial: 'ff' })), want, 'a cursor before 1970: all');

        // Past the end: after the last, at or past the bound, past year 9999.
        const last = entries.find((e) => e.serial === want.at(-1)) as CertificateEntry;
        assert.deepEqual(await store.expiringBefore(cutoff, PAGE, { notAfter: last.notAfter, serial: last.serial }), []);
        assert.deepEqual(await store.expiringBefore(cutoff, PAGE, { notAfter: cutoff, serial: '' }), []);
        assert.deepEqual(await store.expiringBefore(cutoff, PAGE, { notAfter: at(50), serial: '1' }), []);
        assert.deepEqual(await store.expiringBefore(new Date(8.64e15), PAGE, { notAfter: FOREVER, serial: 'f'.repeat(40) }), []);
        assert.deepEqual(await store.expiringBefore(new Date(8.64e15), PAGE, { notAfter: new Date(8.64e15), serial: '' }), []);
      });

      it("reads one issuing CA's revoked certificates page by page, each once, in serial order", async () => {
        const entries = pagedSerials.map((serial) => entry({ serial }));
        const others = [entry({ serial: 'abcd', issuer: ISSUER_B }), entry({ serial: 'abce' })];
        await Promise.all([...entries, ...others].map((e) => store.addCertificate(e)));
        await Promise.all([...pagedSerials, 'abcd'].map((serial) => store.revokeCertificate(serial, { at: at(10), reason: 'superseded' })));
        const want = [...pagedSerials].sort(byValue);
        const got = await pages(
          (after: string | undefined) => store.revokedBy(ISSUER_A, PAGE, after),
          (last) => last.serial,
        );
        assert.deepEqual(got.map((page) => page.length), [10, 10, 5]);
        assert.deepEqual(got.flat(), want);
        const between = (BigInt(`0x${want[4] as string}`) + 1n).toString(16);
        assert.ok(!pagedSerials.includes(between));
        assert.deepEqual(serials(await store.revokedBy(ISSUER_A, 100, between)), want.slice(5), 'a serial not stored: after it by value');
        assert.deepEqual(serials(await store.revokedBy(ISSUER_A, 100, '0')), want);
        assert.deepEqual(await store.revokedBy(ISSUER_A, PAGE, want.at(-1)), []);
        assert.deepEqual(await store.revokedBy(ISSUER_A, PAGE, 'f'.repeat(40)), []);
        assert.deepEqual(serials(await store.revokedBy(ISSUER_B, PAGE, '2')), ['abcd']);
      });

      it('refuses a malformed cursor with BAD_REQUEST, even for a limit of 0', async () => {
        await store.addCertificate(entry({ notAfter: at(2) }));
        const badAfter: unknown[] = [
          { notAfter: new Date(Number.NaN), serial: '' },
          { notAfter: '2026-01-01', serial: '' },
          { notAfter: at(1).getTime(), serial: '' },
          { notAfter: at(1), serial: 'ABC' },
          { notAfter: at(1), serial: '0x12' },
          { notAfter: at(1), serial: '1'.repeat(41) },
          { notAfter: at(1) },
          null,
          'abc',
        ];
        for (const after of badAfter) {
          for (const limit of [PAGE, 0]) {
            await assert.rejects(store.expiringBefore(FOREVER, limit, after as never), (e: unknown) => isIcsError(e, 'BAD_REQUEST'), JSON.stringify(after));
          }
        }
        for (const after of ['', 'ABC', '0x12', '1'.repeat(41), 18 as never]) {
          await assert.rejects(store.revokedBy(ISSUER_A, PAGE, after), (e: unknown) => isIcsError(e, 'BAD_REQUEST'), String(after));
          await assert.rejects(store.revokedBy('not an issuer', 0, after), (e: unknown) => isIcsError(e, 'BAD_REQUEST'), String(after));
        }
      });
    });

    it('keeps the first revocation: a later one, even concurrent, returns it', async () => {
      const e = entry();
      await store.addCertificate(e);
      const first = { at: at(10, 123), reason: 'keyCompromise' } as const;
      const revoked = await store.revokeCertificate(e.serial, first);
      assert.deepEqual(plain(revoked), plain({ ...e, revoked: first }));
      const again = await store.revokeCertificate(e.serial, { at: at(11), reason: 'superseded' });
      assert.deepEqual(plain(again), plain({ ...e, revoked: first }));
      assert.deepEqual(plain(await store.getCertificate(e.serial)), plain({ ...e, revoked: first }));
      assert.deepEqual(serials(await store.revokedBy(ISSUER_A, 10)), [e.serial]);

      const f = entry();
      await store.addCertificate(f);
      const answers = await Promise.all([
        store.revokeCertificate(f.serial, { at: at(12), reason: 'privilegeWithdrawn' }),
        store.revokeCertificate(f.serial, { at: at(13), reason: 'cessationOfOperation' }),
      ]);
      assert.deepEqual(answers.map((a) => a.revoked?.reason), ['privilegeWithdrawn', 'privilegeWithdrawn']);
      // Re-adding the serial cannot bring it back either.
      await expectCode(store.addCertificate({ ...f, revoked: undefined }), 'CONFLICT');
      assert.equal((await store.getCertificate(f.serial))?.revoked?.reason, 'privilegeWithdrawn');
    });

    it('answers NOT_FOUND for revoking an unknown serial', async () => {
      await expectCode(store.revokeCertificate('abc123', { at: at(10), reason: 'unspecified' }), 'NOT_FOUND');
      assert.equal(await store.getCertificate('abc123'), undefined);
    });

    it('refuses bad input with BAD_REQUEST (an oversized DER with LIMIT_EXCEEDED) and stores nothing', async () => {
      const good = entry();
      const bad: Array<[string, Partial<Record<keyof CertificateEntry, unknown>>]> = [
        ['upper-case serial', { serial: 'ABC' }],
        ['empty serial', { serial: '' }],
        ['serial of 41 digits', { serial: '1'.repeat(41) }],
        ['serial with a prefix', { serial: '0x12' }],
        ['recordId', { recordId: 'not-a-record' }],
        ['upper-case recordId', { recordId: RECORD_A.toUpperCase() }],
        ['issuer', { issuer: 'ab' }],
        ['purpose', { purpose: 'server' }],
        ['sha256 not of der', { sha256: sha256(Buffer.from('other')) }],
        ['empty der', { der: new Uint8Array(0), sha256: sha256(new Uint8Array(0)) }],
        ['der not bytes', { der: 'MIIB' }],
        ['invalid notBefore', { notBefore: new Date(Number.NaN) }],
        ['notAfter not a date', { notAfter: '2030-01-01' }],
        ['validity ending before it starts', { notBefore: at(10), notAfter: at(9) }],
        ['issuedAt past year 9999', { issuedAt: new Date(FOREVER.getTime() + 1000) }],
        ['revocation reason', { revoked: { at: at(3), reason: 'lost' } }],
        ['revocation time', { revoked: { at: new Date(Number.NaN), reason: 'keyCompromise' } }],
      ];
      for (const [what, fields] of bad) {
        await assert.rejects(store.addCertificate({ ...good, ...fields } as CertificateEntry), (e: unknown) => isIcsError(e, 'BAD_REQUEST'), what);
      }
      const huge = Buffer.alloc(64 * 1024 + 1, 0x30);
      await expectCode(store.addCertificate({ ...good, der: huge, sha256: sha256(huge) }), 'LIMIT_EXCEEDED');
      assert.equal(await store.getCertificate(good.serial), undefined);
      assert.deepEqual(await store.certificatesOf(RECORD_A), []);
      assert.deepEqual(await store.expiringBefore(FOREVER, 100), []);

      await store.addCertificate(good);
      await expectCode(store.revokeCertificate('XYZ', { at: at(3), reason: 'keyCompromise' }), 'BAD_REQUEST');
      await expectCode(store.revokeCertificate(good.serial, { at: at(3), reason: 'lost' as never }), 'BAD_REQUEST');
      await expectCode(store.revokeCertificate(good.serial, { at: new Date(Number.NaN), reason: 'keyCompromise' }), 'BAD_REQUEST');
      await expectCode(store.revokeCertificate(good.serial, undefined as never), 'BAD_REQUEST');
      assert.ok(!('revoked' in ((await store.getCertificate(good.serial)) ?? {})), 'still not revoked');
      assert.deepEqual(await store.revokedBy(ISSUER_A, 10), []);
    });

    it('fails with UNAVAILABLE once closed', async () => {
      const e = entry();
      await store.addCertificate(e);
      await store.close();
      await expectCode(store.addCertificate(entry()), 'UNAVAILABLE');
      await expectCode(store.getCertificate(e.serial), 'UNAVAILABLE');
      await expectCode(store.certificatesOf(RECORD_A), 'UNAVAILABLE');
      await expectCode(store.expiringBefore(FOREVER, 10), 'UNAVAILABLE');
      await expectCode(store.revokedBy(ISSUER_A, 10), 'UNAVAILABLE');
      await expectCode(store.revokeCertificate(e.serial, { at: at(3), reason: 'keyCompromise' }), 'UNAVAILABLE');
    });

    describe('beside record writes', () => {
      let records: KeyRecord[];

      before(async () => {
        const f = await fixture();
        const base = Date.now();
        records = [];
        for (let i = 0; i < 6; i++) records.push((await device(f, secondsAgo(400 - i, base))).record);
      });

      it('loses neither a certificate write nor a record write when they interleave', async () => {
        const revokedLater = entry({ recordId: (records[0] as KeyRecord).id });
        await store.addCertificate(revokedLater);
        const certificates = records.map((r) => entry({ recordId: r.id }));
        const writes: Array<Promise<unknown>> = [];
        records.forEach((r, i) => {
          writes.push(store.write(request(r)));
          writes.push(store.addCertificate(certificates[i] as CertificateEntry));
          if (i === 2) writes.push(store.revokeCertificate(revokedLater.serial, { at: at(7), reason: 'affiliationChanged' }));
        });
        await Promise.all(writes);
        const check = async () => {
          for (const [i, r] of records.entries()) {
            assert.equal((await store.get(r.id))?.digest, r.digest);
            assert.deepEqual(plain(await store.getCertificate((certificates[i] as CertificateEntry).serial)), plain(certificates[i]));
          }
          assert.deepEqual((await store.changesSince(0, 100)).map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
          assert.deepEqual(serials(await store.revokedBy(ISSUER_A, 10)), [revokedLater.serial]);
        };
        await check();
        if (options.reopen) {
          store = await options.reopen(store);
          await check();
        }
      });
    });

    if (options.reopen) {
      const reopen = options.reopen;

      it('keeps entries, their order and revocations across close and open', async () => {
        const a = entry({ serial: '0a', issuedAt: at(2), notAfter: at(40) });
        const b = entry({ serial: '0b', issuedAt: at(1), notAfter: at(50), purpose: 'birth' });
        const c = entry({ serial: '0c', recordId: RECORD_B, notAfter: FOREVER });
        for (const e of [a, b, c]) await store.addCertificate(e);
        const revocation = { at: at(5, 5), reason: 'cACompromise' } as const;
        await store.revokeCertificate('0b', revocation);
        // Issued just before close: close waits for it.
        const pending = store.addCertificate(entry({ serial: '0d', recordId: RECORD_B }));
        store = await reopen(store);
        await pending;
        assert.deepEqual(plain(await store.getCertificate('0a')), plain(a));
        assert.deepEqual(plain(await store.getCertificate('0b')), plain({ ...b, revoked: revocation }));
        assert.deepEqual(plain(await store.getCertificate('0c')), plain(c));
        assert.deepEqual(serials(await store.certificatesOf(RECORD_A)), ['0b', '0a']);
        assert.deepEqual(serials(await store.certificatesOf(RECORD_B)), ['0c', '0d']);
        assert.deepEqual(serials(await store.expiringBefore(FOREVER, 10)), ['0a', '0b', '0d']);
        assert.deepEqual(serials(await store.revokedBy(ISSUER_A, 10)), ['0b']);
        await expectCode(store.addCertificate(entry({ serial: '0a' })), 'CONFLICT');
        assert.equal((await store.revokeCertificate('0b', { at: at(9), reason: 'unspecified' })).revoked?.reason, 'cACompromise');
        await store.revokeCertificate('0c', { at: at(9), reason: 'unspecified' });
        assert.deepEqual(serials(await store.revokedBy(ISSUER_A, 10)), ['0b', '0c']);
      });
    }
  });
}
