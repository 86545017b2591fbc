// Verdicts cached by record digest and engine generation (policy/verdict-cache.ts): reused
// while they hold, evaluated afresh under a new engine or once the clock reaches the next
// expiry that bears on them, and bounded.
import assert from 'node:assert/strict';
import { type PolicyEngine, PolicyVerdictCache, verdictValidUntil } from '../../ics/policy/index.ts';
import { certify, generateIdentity, type KeyRecord } from '../../ics/record/index.ts';
import { acmeDeviceId, device, minutesAgo, type PolicyFixture, policyFixture, testEngine } from './helpers.ts';

const HOUR = 3600_000;

/** A record version as the cache is asked about it. */
const V1 = { id: 'record-1', digest: 'd1' };

describe('policy/verdict cache', () => {
  let f: PolicyFixture;
  let engine: PolicyEngine;
  /** In `devices`, certified by the manufacturer 30 minutes ago for one hour. */
  let expiring: KeyRecord;
  /** When that certification expires (signature times are whole seconds). */
  let expiresAt: number;

  before(async () => {
    f = await policyFixture();
    engine = await testEngine(f);
    const created = minutesAgo(30);
    const { record } = await generateIdentity({ userId: acmeDeviceId(), created: minutesAgo(60) });
    expiring = await certify(record, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created, expiresInSeconds: HOUR / 1000 });
    expiresAt = Math.floor(created.getTime() / 1000) * 1000 + HOUR;
  });

  it('every engine has its own generation, newer ones higher, an issuer key refresh included', async () => {
    const reloaded = await testEngine(f);
    assert.ok(reloaded.generation > engine.generation);
    const refreshed = await reloaded.withIssuerRecords([f.manufacturer.record]);
    assert.ok(refreshed.generation > reloaded.generation);
  });

  it('evaluates once and answers from the cache until the next expiry, exactly as the engine would', () => {
    const verdicts = new PolicyVerdictCache(8);
    const now = new Date();
    assert.equal(verdicts.get(V1, engine, now), undefined);
    const cached = verdicts.evaluate(V1, expiring, engine, now);
    assert.deepEqual(cached.verdict, engine.verdict(expiring, now));
    assert.equal(cached.verdict.trusted, true);
    assert.deepEqual([cached.generation, cached.checkedAt, cached.validUntil], [engine.generation, now, expiresAt]);
    assert.equal(verdicts.get(V1, engine, new Date(expiresAt - 1)), cached, 'the same answer until the certification expires');
    assert.equal(verdicts.get(V1, engine, new Date(expiresAt)), undefined, 'then it no longer holds');
    const after = verdicts.evaluate(V1, expiring, engine, new Date(expiresAt));
    assert.equal(after.verdict.trusted, false, 'without its manufacturer certification the record is not trusted');
    assert.equal(after.validUntil, Number.POSITIVE_INFINITY);
  });

  it('does not answer under another engine (a reload or an issuer change), and the newer verdict replaces the old', async () => {
    const verdicts = new PolicyVerdictCache(8);
    const now = new Date();
    verdicts.evaluate(V1, expiring, engine, now);
    const reloaded = await testEngine(f, (d) => {
      d.devices.verdict = { requiredRoles: ['manufacturer', 'certifier'] };
    });
    assert.equal(verdicts.get(V1, reloaded, now), undefined);
    const current = verdicts.evaluate(V1, expiring, reloaded, now);
    assert.equal(current.verdict.trusted, false, 'the reloaded policy also requires a certifier');
    assert.equal(verdicts.get(V1, reloaded, now), current);
    assert.equal(verdicts.get(V1, engine, now), undefined, "one entry per record: the older engine's verdict is gone");
  });

  it('holds until a trusted issuer’s key expires or is revoked, when that comes first', async () => {
    const soon = Date.now() + HOUR / 4;
    const e = await testEngine(f, (d) => {
      (d.issuers[0] as Record<string, unknown>).expires = new Date(soon).toISOString();
    });
    const t = Date.now();
    const issuerChange = e.nextIssuerChange(t);
    assert.ok(issuerChange < expiresAt);
    assert.equal(verdictValidUntil(expiring, e, t), issuerChange);
    assert.equal(new PolicyVerdictCache(1).evaluate(V1, expiring, e, new Date(t)).validUntil, issuerChange);
  });

  it('keeps at most its capacity, dropping the least recently used', async () => {
    const verdicts = new PolicyVerdictCache(2);
    const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const now = new Date();
    const [a, b, c] = [{ id: 'a', digest: 'a1' }, { id: 'b', digest: 'b1' }, { id: 'c', digest: 'c1' }];
    for (const version of [a, b]) verdicts.evaluate(version, record, engine, now);
    assert.ok(verdicts.get(a, engine, now), 'a is now the most recently used');
    verdicts.evaluate(c, record, engine, now);
    assert.equal(verdicts.get(b, engine, now), undefined);
    assert.ok(verdicts.get(a, engine, now));
    assert.ok(verdicts.get(c, engine, now));
  });

  it('keeps one verdict per record: a newer version replaces the older, which no longer answers', async () => {
    const verdicts = new PolicyVerdictCache(2);
    const now = new Date();
    const older = { id: 'r', digest: 'r1' };
    const newer = { id: 'r', digest: 'r2' };
    verdicts.evaluate(older, expiring, engine, now);
    verdicts.evaluate({ id: 'other', digest: 'o1' }, expiring, engine, now);
    assert.equal(verdicts.get(newer, engine, now), undefined, 'a verdict on another version is not an answer');
    const current = verdicts.evaluate(newer, expiring, engine, now);
    assert.equal(verdicts.get(older, engine, now), undefined, 'the older version is gone');
    assert.equal(verdicts.get(newer, engine, now), current);
    assert.ok(verdicts.get({ id: 'other', digest: 'o1' }, engine, now), 'and took no room from another record');
  });
});
