import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareIdToBound, decodeId, encodeId, encodeIdBound } from '../../ics/store/ids.ts';
import { contentTime, indexTermsOf, userIdTokens } from '../../ics/store/indexing.ts';
import { code, device, fixture, keyWithSubkey, secondsAgo } from './records.ts';

describe('store/indexing', () => {
  it('tokenises a cm4it URN: runs of letters and digits, and each segment', () => {
    assert.deepEqual(userIdTokens('urn:cm4it:device:acme.example:cam-3:SN12345'), [
      'urn',
      'cm4it',
      'device',
      'acme',
      'example',
      'cam',
      'sn12345',
      'acme.example',
      'cam-3',
    ]);
  });

  it('tokenises a name with an e-mail address, lower-cased and deduplicated', () => {
    assert.deepEqual(userIdTokens('Jo Q. Public <Jo.Public@Example.ORG> jo'), ['jo', 'public', 'example', 'org', 'jo.public@example.org']);
    assert.deepEqual(userIdTokens('x'), []);
    assert.deepEqual(userIdTokens(''), []);
  });

  it('gives a key record its key ids, fingerprints and user-ID tokens', async () => {
    const record = await keyWithSubkey('urn:cm4it:gateway:acme.example:GW-1', secondsAgo(60));
    const terms = indexTermsOf(record);
    const sub = record.subkeys[0]?.key;
    assert.ok(sub);
    assert.deepEqual(terms.keyIds, [record.primaryKey.keyId, sub.keyId]);
    assert.deepEqual(terms.fingerprints, [record.id, sub.fingerprint]);
    assert.ok(terms.tokens.includes('gw-1') && terms.tokens.includes('gateway'));
  });

  it('gives a code record its name, version and digest tokens, and no keys', async () => {
    const record = await code(await fixture(), 'Acme-Cam-FW', '3.2.1', secondsAgo(60));
    const terms = indexTermsOf(record);
    const digest = record.statement.subject.digest.sha256 as string;
    assert.deepEqual(terms.keyIds, []);
    assert.deepEqual(terms.fingerprints, []);
    for (const t of ['acme', 'cam', 'fw', 'acme-cam-fw', '3.2.1', `sha256:${digest}`, digest]) assert.ok(terms.tokens.includes(t), t);
  });

  it('takes the newest signature time as content time', async () => {
    const at = secondsAgo(120);
    const { record } = await device(await fixture(), at);
    assert.equal(contentTime(record), at.getTime());
  });
});

describe('store/ids', () => {
  const fingerprint = fc.stringMatching(/^[0-9a-f]{40}$/);
  const codeId = fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}`);
  const id = fc.oneof(fingerprint, codeId);
  const sign = (n: number) => Math.sign(n);

  it('round-trips ids in 21 or 33 bytes', () => {
    fc.assert(
      fc.property(id, (x) => {
        const encoded = encodeId(x);
        assert.ok(encoded);
        assert.equal(encoded.length, x.length === 40 ? 21 : 33);
        assert.equal(decodeId(encoded), x);
      }),
    );
    assert.equal(encodeId('ABCDEF'), undefined);
  });

  it('orders encoded ids as their strings', () => {
    fc.assert(fc.property(id, id, (a, b) => sign(Buffer.compare(encodeId(a) as Buffer, encodeId(b) as Buffer)) === sign(a < b ? -1 : a > b ? 1 : 0)));
  });

  it('places any bound string where string order puts it', () => {
    const prefix = fc.oneof(
      fc.stringMatching(/^[0-9a-f]{0,40}$/),
      fc.stringMatching(/^[0-9a-f]{0,64}$/).map((h) => `sha256:${h}`),
      fc.constantFrom('', 's', 'sha', 'sha256', 'sha1', 'sha256:A', 'sha256:g', 't', 'ABC', '!', 'g', 'f'.repeat(40), 'f'.repeat(41)),
      fc.string(),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefgsAF:h2'.split('')) }),
    );
    fc.assert(
      fc.property(id, prefix, (x, bound) => {
        const expected = x < bound ? -1 : x > bound ? 1 : 0;
        return sign(compareIdToBound(x, bound)) === expected;
      }),
    );
    // Prefixes of an id, cut short or run on, against that id and its close neighbours: the
    // cases range-based reconciliation produces.
    const hex4 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 4, maxLength: 4 });
    const tail = fc.constantFrom('', '0', 'f', 'f0', '00', 'g', 'A', '!');
    fc.assert(
      fc.property(id, hex4, fc.nat(6), tail, (x, suffix, k, more) => {
        const neighbour = x.slice(0, -4) + suffix;
        const bound = x.slice(0, x.length - k) + more;
        return [x, neighbour].every((y) => sign(compareIdToBound(y, bound)) === (y < bound ? -1 : y > bound ? 1 : 0));
      }),
      { numRuns: 2000 },
    );
    assert.equal(encodeIdBound('').length, 0);
  });
});
