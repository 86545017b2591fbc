import assert from 'node:assert/strict';
import { type PolicyEngine, policyFromObject } from '../../ics/policy/index.ts';
import { PEER_A, PEER_B, policyFixture, rejection, testEngine } from './helpers.ts';

describe('policy/read', () => {
  let engine: PolicyEngine;

  before(async () => {
    engine = await testEngine(await policyFixture());
  });

  it('public domains are readable by anyone', () => {
    assert.equal(engine.canRead('devices', { kind: 'anonymous' }), true);
    assert.equal(engine.canRead('devices', { kind: 'peer', peerId: PEER_B }), true);
  });

  it('other domains by the peers they list and, if they say so, by authenticated clients', () => {
    assert.equal(engine.canRead('system', { kind: 'anonymous' }), false);
    assert.equal(engine.canRead('system', { kind: 'user', name: 'admin' }), true);
    assert.equal(engine.canRead('system', { kind: 'peer', peerId: PEER_A }), true);
    assert.equal(engine.canRead('system', { kind: 'peer', peerId: PEER_B }), false);
    assert.equal(engine.canRead('firmware', { kind: 'user', name: 'admin' }), false);
    assert.equal(engine.canRead('firmware', { kind: 'peer', peerId: PEER_B }), true);
  });

  it('unknown domains by no one', () => {
    assert.equal(engine.canRead('nowhere', { kind: 'user', name: 'admin' }), false);
  });

  it('lists the readable domains per principal', () => {
    assert.deepEqual(engine.readableDomains({ kind: 'anonymous' }), ['devices']);
    assert.deepEqual(engine.readableDomains({ kind: 'user', name: 'admin' }), ['devices', 'system']);
    assert.deepEqual(engine.readableDomains({ kind: 'peer', peerId: PEER_A }), ['devices', 'system']);
    assert.deepEqual(engine.readableDomains({ kind: 'peer', peerId: PEER_B }), ['devices', 'firmware']);
  });

  it('a domain may name users and groups instead of every authenticated user', async () => {
    const limited = await testEngine(await policyFixture(), (d) => {
      d.system.read = { users: ['alice'], groups: ['site-a'] };
    });
    assert.equal(limited.canRead('system', { kind: 'user', name: 'alice' }), true);
    assert.equal(limited.canRead('system', { kind: 'user', name: 'bob', groups: ['site-a', 'ops'] }), true);
    assert.equal(limited.canRead('system', { kind: 'user', name: 'bob', groups: ['site-b'] }), false);
    assert.equal(limited.canRead('system', { kind: 'user', name: 'carol' }), false);
    assert.equal(limited.canRead('system', { kind: 'anonymous' }), false);
    // A peer is not a user of the same name.
    assert.equal(limited.canRead('system', { kind: 'peer', peerId: 'alice' }), false);
  });

  it('a domain without a read rule is private', () => {
    const policy = policyFromObject({ version: 1, domains: [{ name: 'quiet' }] }, 'default-read.yaml');
    assert.deepEqual(policy.domains[0]?.read, { public: false, peers: [], authenticated: false, users: [], groups: [] });
  });

  it('refuses a malformed user or group name with its path', async () => {
    const error = await rejection(
      () => policyFromObject({ version: 1, domains: [{ name: 'a', read: { users: ['Alice'], groups: [''] } }] }, 'bad-read.yaml'),
      'CONFIG_INVALID',
    );
    const paths = (error.details?.errors as Array<{ path: string }>).map((e) => e.path);
    assert.ok(paths.includes('/domains/0/read/users/0'), paths.join(' '));
    assert.ok(paths.includes('/domains/0/read/groups/0'), paths.join(' '));
  });

  it('finds sync peers by peer id', () => {
    assert.deepEqual(engine.syncPeers().map((p) => p.name), ['site-b']);
    assert.deepEqual(engine.peer(PEER_B)?.pull, ['firmware']);
    assert.equal(engine.peer(PEER_A), undefined);
  });
});
