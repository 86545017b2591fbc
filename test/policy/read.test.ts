import assert from 'node:assert/strict';
import type { PolicyEngine } from '../../ics/policy/index.ts';
import { PEER_A, PEER_B, policyFixture, testEngine } from './helpers.ts';

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

  it('finds sync peers by peer id', () => {
    assert.deepEqual(engine.syncPeers().map((p) => p.name), ['site-b']);
    assert.deepEqual(engine.peer(PEER_B)?.pull, ['firmware']);
    assert.equal(engine.peer(PEER_A), undefined);
  });
});
