// Small parts of the HTTP front end on their own: the lookup query parser (HKP §3.1–3.2),
// machine-readable escaping, the two-generation cache, and when a cached verdict expires.
import assert from 'node:assert/strict';
import { isIcsError } from '../../ics/errors.ts';
import { escapeMr } from '../../ics/hkp/format.ts';
import { Lru } from '../../ics/store/level/cache.ts';
import { parseLookup } from '../../ics/hkp/query.ts';
import { nextExpiry } from '../../ics/policy/index.ts';
import { certify, generateIdentity } from '../../ics/record/index.ts';
import { fixture, minutesAgo } from '../helpers/identities.ts';

describe('hkp: units', () => {
  describe('parseLookup', () => {
    it('types the search: fingerprint, long key id (with or without 0x), text tokens', () => {
      const fpr = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
      assert.deepEqual(parseLookup({ op: 'get', search: `0x${fpr}` }).search, { kind: 'fingerprint', fingerprint: fpr.toLowerCase() });
      assert.deepEqual(parseLookup({ op: 'get', search: fpr }).search, { kind: 'fingerprint', fingerprint: fpr.toLowerCase() });
      assert.deepEqual(parseLookup({ op: 'get', search: `0x${fpr.slice(-16)}` }).search, { kind: 'keyId', keyId: fpr.slice(-16).toLowerCase() });
      const text = parseLookup({ op: 'index', search: 'Alice <alice@example.org>' }).search;
      assert.equal(text?.kind, 'text');
      assert.ok(text?.kind === 'text' && text.tokens.includes('alice@example.org'));
    });

    it('reads options=mr among other options, exact and fingerprint, any op case', () => {
      const q = parseLookup({ op: 'INDEX', search: 'alice', options: 'nm, MR', exact: 'on', fingerprint: 'on' });
      assert.deepEqual([q.op, q.machineReadable, q.exact, q.fingerprints], ['index', true, true, true]);
      assert.equal(parseLookup({ op: 'stats' }).search, undefined);
    });

    it('refuses what it cannot answer safely, with the HKP status codes', () => {
      for (const [raw, code] of [
        [{ op: 'get' }, 'BAD_REQUEST'],
        [{ op: 'get', search: '0x12345678' }, 'BAD_REQUEST'],
        [{ op: 'get', search: '0x0123456789abcdef0123456789abcdef' }, 'BAD_REQUEST'],
        [{ op: 'get', search: `0x${'a'.repeat(64)}` }, 'BAD_REQUEST'],
        [{ op: 'get', search: '!' }, 'BAD_REQUEST'],
        [{ op: 'delete', search: 'x' }, 'NOT_IMPLEMENTED'],
      ] as const) {
        assert.throws(() => parseLookup(raw), (e: unknown) => isIcsError(e, code), JSON.stringify(raw));
      }
    });
  });

  it('escapeMr: %XX for bytes outside printable ASCII, and for : and %', () => {
    assert.equal(escapeMr('urn:a:b'), 'urn%3Aa%3Ab');
    assert.equal(escapeMr('100% é'), '100%25 %C3%A9');
    assert.equal(escapeMr('tab\there'), 'tab%09here');
  });

  it('Lru: holds at most its capacity and keeps what was used since the last turnover', () => {
    const lru = new Lru<number, number>(4);
    for (let i = 0; i < 4; i++) lru.set(i, i);
    assert.equal(lru.get(0), 0); // 0 moves young
    for (let i = 4; i < 6; i++) lru.set(i, i);
    assert.ok(lru.size <= 4);
    assert.equal(lru.get(0), 0, 'recently used survives');
    assert.equal(lru.get(1), undefined, 'least recently used is gone');
    const none = new Lru<string, number>(0);
    none.set('a', 1);
    assert.equal(none.get('a'), undefined);
  });

  it('nextExpiry: the first signature or key expiry after now; none: Infinity', async () => {
    const f = await fixture();
    const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:x:1', created: minutesAgo(60) });
    assert.equal(nextExpiry(record, Date.now()), Number.POSITIVE_INFINITY);
    const created = minutesAgo(30);
    const a = await certify(record, f.manufacturer.privateKey, { role: 'manufacturer' }, { created, expiresInSeconds: 3600 });
    const b = await certify(a, f.integrator.privateKey, { role: 'integrator' }, { created, expiresInSeconds: 600 });
    const at = Math.floor(created.getTime() / 1000) * 1000; // signature times are whole seconds
    assert.equal(nextExpiry(b, Date.now()), at + 3600_000, 'the 10-minute one has already expired');
    assert.equal(nextExpiry(b, at), at + 600_000);
  });
});

describe('hkp: decodeKeytextForm (the /pks/add form, read as bytes)', () => {
  it('reads the keytext field as URLSearchParams does, for seeded random forms', async () => {
    const { decodeKeytextForm } = await import('../../ics/http/submission-body.ts');
    const { seededRandom } = await import('../helpers/random.ts');
    const random = seededRandom(1306);
    const alphabet = 'aZ09+/=%&-_.~ \n\u00e9\u20ac';
    const piece = () => Array.from({ length: random.int(12) }, () => alphabet[random.int(alphabet.length)]).join('');
    let compared = 0;
    for (let i = 0; i < 500; i++) {
      const value = piece();
      const raw = random.int(2) === 0 ? encodeURIComponent(value) : value.replace(/[&\n]/g, '');
      const form = [random.int(2) ? `a=${piece().replace(/[&=]/g, '')}` : '', `keytext=${raw}`, random.int(3) === 0 ? '%zz=1' : ''].filter(Boolean).join('&');
      const expected = new URLSearchParams(form).getAll('keytext');
      const blank = expected.length !== 1 || !/\S/.test(expected[0] as string);
      if (blank) {
        assert.throws(() => decodeKeytextForm(Buffer.from(form)), /keytext/, form);
        continue;
      }
      const got = decodeKeytextForm(Buffer.from(form));
      assert.ok('text' in got, form);
      assert.equal(got.text, expected[0], form);
      compared++;
    }
    assert.ok(compared > 300, `${compared} forms compared`);
  });

  it('an armored key in the form comes back as its packet bytes; repeated or missing keytext is refused', async () => {
    const { decodeKeytextForm } = await import('../../ics/http/submission-body.ts');
    const { armor, generateIdentity: gen } = await import('../../ics/record/index.ts');
    const { record } = await gen({ userId: 'urn:cm4it:device:acme.example:x:4' });
    const got = decodeKeytextForm(Buffer.from(`keytext=${encodeURIComponent(armor('publicKey', record.bytes))}&options=mr`));
    assert.ok('bytes' in got);
    assert.deepEqual(new Uint8Array(got.bytes), new Uint8Array(record.bytes));
    for (const form of ['keytext=a&keytext=b', 'text=abc', 'keytext=', 'keytext=%20+%0A', '']) {
      assert.throws(() => decodeKeytextForm(Buffer.from(form)), /keytext/, form);
    }
  });
});
