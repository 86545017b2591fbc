// The one read rule (policy/read-rule.ts): a stored record is readable when one of its
// stored domains is readable by the principal, and only those domains are named to it.
import assert from 'node:assert/strict';
import { inReadableDomain, mayRead, type PolicyEngine, type Principal, readableDomainsOf, readScope } from '../../ics/policy/index.ts';
import { PEER_A, PEER_B, policyFixture, type PolicyFixture, testEngine } from './helpers.ts';

const anonymous: Principal = { kind: 'anonymous' };
const admin: Principal = { kind: 'user', name: 'admin' };

describe('policy/read-rule', () => {
  let f: PolicyFixture;
  let engine: PolicyEngine;

  before(async () => {
    f = await policyFixture();
    engine = await testEngine(f);
  });

  it('a record is readable when one of its stored domains is', () => {
    assert.equal(mayRead(engine, anonymous, { domains: ['devices'] }), true);
    assert.equal(mayRead(engine, anonymous, { domains: ['system', 'devices'] }), true, 'any one domain suffices');
    assert.equal(mayRead(engine, anonymous, { domains: ['system'] }), false);
    assert.equal(mayRead(engine, admin, { domains: ['system'] }), true);
    assert.equal(mayRead(engine, { kind: 'peer', peerId: PEER_B }, { domains: ['firmware'] }), true);
    assert.equal(mayRead(engine, { kind: 'peer', peerId: PEER_A }, { domains: ['firmware'] }), false);
  });

  it('a record in no domain, or only in domains the policy does not know, is readable by no one', () => {
    for (const principal of [anonymous, admin, { kind: 'peer', peerId: PEER_A } as const]) {
      assert.equal(mayRead(engine, principal, { domains: [] }), false);
      assert.equal(mayRead(engine, principal, { domains: ['nowhere'] }), false);
    }
  });

  it('names only the domains the principal may read, in the record’s order', () => {
    const record = { domains: ['system', 'devices', 'firmware'] };
    assert.deepEqual(readScope(engine, anonymous).domainsOf(record), ['devices']);
    assert.deepEqual(readScope(engine, admin).domainsOf(record), ['system', 'devices']);
    assert.deepEqual(readableDomainsOf(record, new Set(['firmware'])), ['firmware']);
    assert.equal(inReadableDomain(record, new Set(['elsewhere'])), false);
  });

  it('a scope lists the readable domains in policy order', () => {
    const scope = readScope(engine, { kind: 'peer', peerId: PEER_A });
    assert.deepEqual(scope.readable, ['devices', 'system']);
    assert.deepEqual([...scope.readableSet].sort(), ['devices', 'system']);
    assert.equal(scope.engine, engine);
  });

  it('is worked out once per engine and principal, and afresh under a new engine', async () => {
    assert.equal(readScope(engine, anonymous), readScope(engine, { kind: 'anonymous' }), 'anonymous callers share one scope');
    assert.equal(readScope(engine, admin), readScope(engine, admin));
    assert.notEqual(readScope(engine, admin), readScope(engine, { kind: 'user', name: 'admin' }), 'other principal objects get their own');
    // A reload that makes `system` public applies at once: the old engine's scope is not reused.
    const reloaded = await testEngine(f, (d) => {
      d.system.read = 'public';
    });
    assert.equal(mayRead(engine, anonymous, { domains: ['system'] }), false);
    assert.equal(mayRead(reloaded, anonymous, { domains: ['system'] }), true);
    assert.notEqual(readScope(reloaded, anonymous), readScope(engine, anonymous));
  });
});
