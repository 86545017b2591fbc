// GET /pks/lookup: op=get / index / vindex / stats, options=mr, exact, fingerprint, search by
// fingerprint, long key id and user-ID text, the result limit, and the HKP status codes.
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { armor, certify, generateIdentity, isArmored, type KeyRecord, parseKeyRecord, parseRecord } from '../../ics/record/index.ts';
import { firmware, minutesAgo, policyFixture } from '../policy/helpers.ts';
import { publicEngine, startNode, type TestNode } from './helpers.ts';

let serial = 0;
const uid = (label: string) => `urn:cm4it:device:acme.example:${label}:SN${String(++serial).padStart(6, '0')}`;

describe('hkp: /pks/lookup', () => {
  let node: TestNode;
  let cam: KeyRecord;
  let plain: KeyRecord;

  before(async () => {
    node = await startNode({ engine: await publicEngine(await policyFixture()) });
    const { f } = node;
    const { record } = await generateIdentity({ userId: uid('cam-9'), created: minutesAgo(120) });
    cam = await certify(record, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: minutesAgo(60) });
    plain = (await generateIdentity({ userId: 'Alice Example <alice@example.org>', created: minutesAgo(120) })).record;
    for (const r of [cam, plain]) await node.ingest.submit(r.bytes, { source: 'cli' });
  });

  after(() => node.close());

  describe('op=get', () => {
    it('answers by v4 fingerprint with the armored key (application/pgp-keys with options=mr)', async () => {
      const res = await node.fetch(`/pks/lookup?op=get&options=mr&search=0x${cam.id.toUpperCase()}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/pgp-keys/);
      const { record } = await parseKeyRecord(await res.text(), { issuers: node.f.ring });
      assert.equal(record.digest, cam.digest);
    });

    it('answers by long key id, by bare fingerprint, and in text/plain without mr', async () => {
      for (const search of [`0x${cam.id.slice(-16)}`, cam.id, cam.id.slice(-16).toUpperCase()]) {
        const res = await node.fetch(`/pks/lookup?op=get&search=${search}`);
        assert.equal(res.status, 200, search);
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
        assert.equal((await parseRecord(await res.text())).record.id, cam.id);
      }
    });

    it('answers by user-ID words, and exact=on needs the whole user ID', async () => {
      const words = await node.fetch(`/pks/lookup?op=get&options=mr&search=${encodeURIComponent('alice example')}`);
      assert.equal(words.status, 200);
      assert.equal((await parseRecord(await words.text())).record.id, plain.id);
      const exact = await node.fetch(`/pks/lookup?op=get&options=mr&exact=on&search=${encodeURIComponent('Alice Example <alice@example.org>')}`);
      assert.equal(exact.status, 200);
      const partial = await node.fetch(`/pks/lookup?op=get&options=mr&exact=on&search=${encodeURIComponent('Alice Example')}`);
      assert.equal(partial.status, 404);
    });

    it('404 when nothing matches', async () => {
      for (const search of [`0x${'ab'.repeat(20)}`, `0x${'cd'.repeat(8)}`, 'nobody-here']) {
        const res = await node.fetch(`/pks/lookup?op=get&options=mr&search=${search}`);
        assert.equal(res.status, 404, search);
        assert.match(await res.text(), /^NOT_FOUND/);
      }
    });

    it('does not serve code records over HKP (they have no key)', async () => {
      const code = await firmware(node.f);
      // The public test policy has no code domain; store it directly to see HKP skip it.
      await node.store.write({ record: code, domains: ['public-keys'], expectedDigest: undefined, source: 'cli', signaturesAdded: 1, summary: 'test' });
      const res = await node.fetch(`/pks/lookup?op=index&options=mr&search=${code.statement.subject.name}`);
      assert.equal(res.status, 404);
    });
  });

  describe('op=index and op=vindex', () => {
    it('machine-readable index: info, pub with fingerprint, algorithm, bits, dates; percent-escaped uid', async () => {
      const res = await node.fetch(`/pks/lookup?op=index&options=mr&search=0x${cam.id}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const lines = (await res.text()).trimEnd().split('\n');
      const created = Math.floor(cam.primaryKey.created.getTime() / 1000);
      assert.deepEqual(lines[0], 'info:1:1');
      assert.equal(lines[1], `pub:${cam.id.toUpperCase()}:22:256:${created}::`);
      const escaped = (cam.userIds[0]?.userId ?? '').replace(/:/g, '%3A');
      assert.match(lines[2] ?? '', new RegExp(`^uid:${escaped.replace(/\./g, '\\.')}:\\d+::$`));
    });

    it('escapes non-ASCII, % and : in user IDs as %XX of their UTF-8', async () => {
      const { record } = await generateIdentity({ userId: 'Zoë 100% <zoe@example.org>', created: minutesAgo(30) });
      await node.ingest.submit(record.bytes, { source: 'cli' });
      const res = await node.fetch(`/pks/lookup?op=index&options=mr&search=zoe%40example.org`);
      const text = await res.text();
      assert.match(text, /^uid:Zo%C3%AB 100%25 <zoe@example\.org>:\d+::$/m);
    });

    it('flags revoked (r) and expired (e) keys with their expiry date', async () => {
      // One clock reading for the key and the expected expiry: two could fall either side of a second.
      const created = minutesAgo(600);
      const { privateKey } = await openpgp.generateKey({
        type: 'ecc',
        curve: 'ed25519Legacy',
        userIDs: [{ name: 'Expired Key <old@example.org>' }],
        date: created,
        keyExpirationTime: 60,
        format: 'object',
      });
      const expired = (await parseKeyRecord(privateKey.toPublic().write())).record;
      const { privateKey: other } = await openpgp.generateKey({
        type: 'ecc',
        curve: 'ed25519Legacy',
        userIDs: [{ name: 'Revoked Key <gone@example.org>' }],
        date: minutesAgo(600),
        format: 'object',
      });
      const { publicKey: revokedKey } = await openpgp.revokeKey({ key: other, date: minutesAgo(300), format: 'object' });
      const revoked = (await parseKeyRecord(revokedKey.write())).record;
      for (const r of [expired, revoked]) await node.ingest.submit(r.bytes, { source: 'cli' });
      const exp = await (await node.fetch('/pks/lookup?op=index&options=mr&search=old%40example.org')).text();
      const until = Math.floor(created.getTime() / 1000) + 60;
      assert.match(exp, new RegExp(`^pub:${expired.id.toUpperCase()}:22:256:\\d+:${until}:e$`, 'm'));
      const rev = await (await node.fetch('/pks/lookup?op=index&options=mr&search=gone%40example.org')).text();
      assert.match(rev, new RegExp(`^pub:${revoked.id.toUpperCase()}:22:256:\\d+::r$`, 'm'));
    });

    it('human-readable index links to op=get; fingerprint=on shows the fingerprint; vindex lists signatures with notations', async () => {
      const index = await (await node.fetch(`/pks/lookup?op=index&search=0x${cam.id.slice(-16)}`)).text();
      assert.match(index, /^<!DOCTYPE html>/);
      assert.ok(index.includes(`op=get&amp;search=0x${cam.id.toUpperCase()}`));
      assert.ok(!index.includes('Fingerprint='));
      const withFpr = await (await node.fetch(`/pks/lookup?op=index&fingerprint=on&search=0x${cam.id.slice(-16)}`)).text();
      assert.ok(withFpr.includes(`Fingerprint=${cam.id.toUpperCase().replace(/(.{4})/g, '$1 ').trim()}`));
      const vindex = await (await node.fetch(`/pks/lookup?op=vindex&search=0x${cam.id.slice(-16)}`)).text();
      assert.ok(vindex.includes('[selfsig]'));
      assert.ok(vindex.includes('acme role@cm4it.org=manufacturer status@cm4it.org=in-use'), vindex);
    });

    it('mr vindex is the mr index', async () => {
      const a = await (await node.fetch(`/pks/lookup?op=index&options=mr&search=0x${cam.id}`)).text();
      const b = await (await node.fetch(`/pks/lookup?op=vindex&options=mr&search=0x${cam.id}`)).text();
      assert.equal(a, b);
    });

    it('escapes HTML in user IDs and in the search echoed back', async () => {
      const { record } = await generateIdentity({ userId: '<script>alert(1)</script> <xss@example.org>', created: minutesAgo(30) });
      await node.ingest.submit(record.bytes, { source: 'cli' });
      const html = await (await node.fetch(`/pks/lookup?op=index&search=${encodeURIComponent('<script>xss@example.org')}`)).text();
      assert.ok(!html.includes('<script>'));
      assert.ok(html.includes('&lt;script&gt;'));
    });

    it('a search over a common word answers at most the result limit', async () => {
      const limited = await startNode({ engine: node.engine, init: { resultLimit: 3 } });
      try {
        for (let i = 0; i < 5; i++) {
          const { record } = await generateIdentity({ userId: uid('fleet'), created: minutesAgo(30) });
          await limited.ingest.submit(record.bytes, { source: 'cli' });
        }
        const text = await (await limited.fetch('/pks/lookup?op=index&options=mr&search=fleet')).text();
        assert.match(text, /^info:1:3$/m);
        assert.equal(text.split('\n').filter((l) => l.startsWith('pub:')).length, 3);
        const all = await (await limited.fetch('/pks/lookup?op=get&options=mr&search=fleet')).text();
        assert.equal(isArmored(all), true);
      } finally {
        await limited.close();
      }
    });

    it('finds by a word prefix and by URN segments', async () => {
      const serialToken = (cam.userIds[0]?.userId ?? '').split(':').at(-1) ?? '';
      for (const search of [serialToken.slice(0, -2), `cam-9:${serialToken}`]) {
        const text = await (await node.fetch(`/pks/lookup?op=index&options=mr&search=${encodeURIComponent(search)}`)).text();
        assert.ok(text.includes(`pub:${cam.id.toUpperCase()}:`), `${search}: ${text}`);
      }
    });
  });

  describe('op=stats', () => {
    it('HTML by default, JSON with options=mr', async () => {
      const html = await node.fetch('/pks/lookup?op=stats');
      assert.equal(html.status, 200);
      assert.match(await html.text(), /test-node keyserver statistics/);
      const mr = await node.fetch('/pks/lookup?op=stats&options=mr');
      const stats = (await mr.json()) as { records: number; name: string; domains: string[] };
      assert.equal(stats.name, 'test-node');
      assert.ok(stats.records >= 2);
      assert.deepEqual(stats.domains, ['public-keys']);
    });
  });

  describe('status codes', () => {
    const cases: Array<[string, number, string]> = [
      ['/pks/lookup?op=frobnicate&search=x', 501, 'NOT_IMPLEMENTED'],
      ['/pks/lookup?search=alice', 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=get', 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=get&op=index&search=alice', 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=get&search=alice&search=bob', 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=get&search=0xDEADBEEF', 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=get&search=0x0123456789abcdef0123456789abcdef', 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=get&search=0x123', 400, 'BAD_REQUEST'],
      // 0x announces hex: not hex is a bad request, not a text search that finds nothing.
      ['/pks/lookup?op=get&search=0xZZZZ', 400, 'BAD_REQUEST'],
      [`/pks/lookup?op=get&search=0x${'g'.repeat(40)}`, 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=index&search=0X', 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=get&search=a', 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=get&search=alice&exact=maybe', 400, 'BAD_REQUEST'],
      ['/pks/lookup?op=get&search=', 400, 'BAD_REQUEST'],
      [`/pks/lookup?op=get&search=${'x'.repeat(2000)}`, 400, 'BAD_REQUEST'],
      ['/pks/nothing', 404, 'NOT_FOUND'],
    ];
    for (const [path, status, code] of cases) {
      it(`${status} ${code} for ${path.slice(0, 70)}`, async () => {
        const res = await node.fetch(path);
        assert.equal(res.status, status);
        assert.ok((await res.text()).startsWith(`${code}:`));
      });
    }

    it('ignores variables it does not know (HKP asks servers to)', async () => {
      const res = await node.fetch(`/pks/lookup?op=get&options=mr&search=0x${cam.id}&x-client=test&nm=1`);
      assert.equal(res.status, 200);
    });

    it('HEAD works like GET without a body', async () => {
      const res = await node.fetch(`/pks/lookup?op=get&options=mr&search=0x${cam.id}`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), '');
    });

    it('accepts the armored key it serves back through gpg-style import (round trip through armor)', async () => {
      const text = await (await node.fetch(`/pks/lookup?op=get&options=mr&search=0x${cam.id}`)).text();
      assert.equal(text, armor('publicKey', cam.bytes));
    });
  });
});
