// The sync role in a node (ics/node/sync-role.ts), with a role whose changes the test makes and
// sync services that only count: sync runs exactly while the role is held, a new service per
// tenure; a service that does not start at startup fails the start; the gauge follows.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { createMetrics } from '../../ics/node/metrics.ts';
import { SyncRoleRunner } from '../../ics/node/sync-role.ts';
import type { SyncRole, SyncRoleEvents } from '../../ics/store/types.ts';
import type { SyncService } from '../../ics/sync/index.ts';

/** A shared role the test hands out and takes away. */
class ManualRole implements SyncRole {
  readonly shared = true;
  held = false;
  events: SyncRoleEvents | undefined;
  constructor(private readonly takeAtStart: boolean) {}
  async start(events: SyncRoleEvents): Promise<void> {
    this.events = events;
    if (this.takeAtStart) this.set(true);
  }
  async stop(): Promise<void> {
    this.held = false;
  }
  set(held: boolean): void {
    this.held = held;
    this.events?.changed(held);
  }
}

function services(failStart = false) {
  const made: Array<{ started: boolean; stopped: boolean }> = [];
  const create = (): SyncService => {
    const state = { started: false, stopped: false };
    made.push(state);
    return {
      async start() {
        if (failStart) throw new Error('port taken');
        state.started = true;
        return { peerId: 'peer', addresses: ['/ip4/127.0.0.1/tcp/1'] };
      },
      async stop() {
        state.stopped = true;
      },
      async syncNow() {
        throw new Error('not here');
      },
      peers: () => [],
    };
  };
  return { made, create };
}

async function gauge(metrics: ReturnType<typeof createMetrics>): Promise<string> {
  return (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith('ics_sync_role_holder ')) ?? '';
}

describe('node: the sync role runner', () => {
  const logger = pino({ level: 'silent' });

  it('runs sync exactly while the role is held, a new service each time it is taken', async () => {
    const role = new ManualRole(false);
    const { made, create } = services();
    const metrics = createMetrics({ processMetrics: false });
    let changes = 0;
    const runner = new SyncRoleRunner({ role, createService: create, logger, metrics, changed: () => changes++ });
    await runner.start();
    assert.equal(runner.service, undefined, 'standing by');
    assert.equal(runner.status().held, false);
    assert.equal(await gauge(metrics), 'ics_sync_role_holder 0');
    role.set(true);
    await sleep(10);
    assert.ok(runner.service && made[0]?.started);
    assert.deepEqual(runner.addresses, { peerId: 'peer', addresses: ['/ip4/127.0.0.1/tcp/1'] });
    assert.equal(await gauge(metrics), 'ics_sync_role_holder 1');
    role.set(false);
    await sleep(10);
    assert.equal(runner.service, undefined);
    assert.ok(made[0]?.stopped, 'stopped on losing the role');
    assert.equal(runner.addresses, undefined);
    role.set(true);
    await sleep(10);
    assert.equal(made.length, 2, 'a new service for the new tenure');
    assert.ok(made[1]?.started && !made[1].stopped);
    assert.equal(changes, 3);
    await runner.stop();
    assert.ok(made[1]?.stopped);
    assert.equal(await gauge(metrics), '', 'the gauge is unregistered');
  });

  it('a sync service that does not start when the role is taken at startup fails the start and gives the role up', async () => {
    const role = new ManualRole(true);
    const { create } = services(true);
    await assert.rejects(new SyncRoleRunner({ role, createService: create, logger, metrics: createMetrics({ processMetrics: false }) }).start(), /port taken/);
    assert.equal(role.held, false);
  });
});
