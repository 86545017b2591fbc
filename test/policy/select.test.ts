import assert from 'node:assert/strict';
import { matchGlob, type PolicyEngine } from '../../ics/policy/index.ts';
import { generateIdentity } from '../../ics/record/index.ts';
import { acmeDeviceId, device, firmware, type PolicyFixture, policyFixture, siteDeviceId, testEngine } from './helpers.ts';

describe('policy/select', () => {
  let f: PolicyFixture;
  let engine: PolicyEngine;

  before(async () => {
    f = await policyFixture();
    engine = await testEngine(f);
  });

  describe('matchGlob', () => {
    const cases: Array<[string, string, boolean]> = [
      ['urn:cm4it:device:acme.example:*', 'urn:cm4it:device:acme.example:cam-3:SN1', true],
      ['urn:cm4it:device:acme.example:*', 'urn:cm4it:device:other.example:cam-3:SN1', false],
      ['urn:cm4it:*:acme.example:*', 'urn:cm4it:gateway:acme.example:gw-1', true],
      ['acme-*@3.*', 'acme-cam-fw@3.2.1', true],
      ['acme-*@3.*', 'acme-cam-fw@4.0.0', false],
      ['*', '', true],
      ['', '', true],
      ['a', '', false],
      ['exact', 'exact', true],
      ['exact', 'exactly', false],
      ['*a*b*c', 'xxaxxbxxc', true],
      ['*a*b*c', 'xxaxxcxxb', false],
      ['a.b', 'axb', false],
      ['(a)+', '(a)+', true],
    ];
    for (const [pattern, text, expected] of cases) {
      it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(text)}`, () => {
        assert.equal(matchGlob(pattern, text), expected);
      });
    }

    it('stays polynomial on a pathological pattern (counted in character reads, not in time)', () => {
      const pattern = `${'*a'.repeat(30)}b`;
      const text = 'a'.repeat(1024);
      let reads = 0;
      const counted = new Proxy(new String(text), {
        get(target, key) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
          return Reflect.get(target, key) as unknown;
        },
      }) as unknown as string;
      assert.equal(matchGlob(pattern, counted), false);
      // Backtracking would read ~C(1024, 30) ≈ 10^58 times; at most once per (pattern, text) pair here.
      assert.ok(reads > 0 && reads <= pattern.length * text.length, `${reads} reads`);
    });
  });

  it('selects by kind, user-ID glob and signer', async () => {
    const siteDevice = await device(siteDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    assert.deepEqual(engine.domainsOf(siteDevice), ['devices', 'system']);
    const siteService = await device('urn:cm4it:service:acme.example:site-a:mqtt', [{ issuer: f.integrator, role: 'integrator' }]);
    assert.deepEqual(engine.domainsOf(siteService), ['system']);
    const otherMaker = await device('urn:cm4it:device:other.example:cam-1:SN1', [{ issuer: f.manufacturer, role: 'manufacturer' }]);
    assert.deepEqual(engine.domainsOf(otherMaker), []);
    const unsigned = await device(acmeDeviceId(), []);
    assert.deepEqual(engine.domainsOf(unsigned), []);
    const plainKey = (await generateIdentity({ userId: 'Alice <alice@example.org>' })).record;
    assert.equal(plainKey.kind, 'key');
    assert.deepEqual(engine.domainsOf(plainKey), []);
  });

  it('matches code records by name@version', async () => {
    assert.deepEqual(engine.domainsOf(await firmware(f, 'acme-cam-fw', { endorsed: true })), ['firmware']);
    assert.deepEqual(engine.domainsOf(await firmware(f, 'other-fw', { endorsed: true })), []);
  });

  it('counts a signer only when trusted for that role in that domain', async () => {
    // The developer is trusted in `firmware` only; the certifier is not a manufacturer.
    const byDeveloper = await device(acmeDeviceId(), [{ issuer: f.developer, role: 'developer' }]);
    assert.deepEqual(engine.domainsOf(byDeveloper), []);
    const byCertifier = await device(acmeDeviceId(), [{ issuer: f.certifier, role: 'manufacturer' }]);
    assert.deepEqual(engine.domainsOf(byCertifier), []);
  });

  it('signedBy.issuer requires that very issuer', async () => {
    const strict = await testEngine(f, (p) => {
      p.issuers.push({ name: 'other-maker', fingerprint: f.stranger.record.id, roles: ['manufacturer'] });
      p.devices.select.signedBy = { role: 'manufacturer', issuer: 'acme' };
    });
    const byAcme = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer' }]);
    const byOther = await device(acmeDeviceId(), [{ issuer: f.stranger, role: 'manufacturer' }]);
    assert.deepEqual(strict.domainsOf(byAcme), ['devices']);
    assert.deepEqual(strict.domainsOf(byOther), []);
  });

  it('requires the signature on a user ID the glob selects', async () => {
    // Certified by the manufacturer, but under a user ID outside the domain.
    const record = await device('urn:cm4it:device:other.example:cam-1:SN9', [{ issuer: f.manufacturer, role: 'manufacturer' }]);
    assert.deepEqual(engine.domainsOf(record), []);
  });
});
