// Time limits on sync operations: a stalled operation fails with a TimeoutError, and one that
// ends leaves no timer behind (AbortSignal.timeout kept one per message until it fired: a
// busy node held thousands).
import assert from 'node:assert/strict';
import { withDeadline } from '../../ics/sync/deadline.ts';

const pendingTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('sync: withDeadline', () => {
  it('aborts an operation that makes no progress, with a TimeoutError', async () => {
    const stalled = withDeadline(20, (signal) => new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))));
    await assert.rejects(stalled, (error: Error) => error.name === 'TimeoutError');
  });

  it('leaves no timer behind once the operation has ended, answered or failed', async () => {
    const before = pendingTimers();
    for (let i = 0; i < 200; i++) {
      assert.equal(await withDeadline(60_000, async () => i), i);
      await assert.rejects(
        withDeadline(60_000, async () => {
          throw new Error('refused');
        }),
        /refused/,
      );
    }
    // 400 operations: a timer each if they were kept; the test runner's own may come and go.
    assert.ok(pendingTimers() - before < 5, `${pendingTimers() - before} timers left pending`);
  });

  it('passes a signal that has not fired to an operation that ends in time', async () => {
    let seen: AbortSignal | undefined;
    await withDeadline(60_000, async (signal) => {
      seen = signal;
    });
    assert.equal(seen?.aborted, false);
  });
});
