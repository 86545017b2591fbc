// The fetcher's bookkeeping of ids in flight: a FETCH that fails to go out (the stream was
// reset under it) must release its ids, or the next reconciliation finds them still "in flight",
// skips them, and the node never holds those records (seen with 100 nodes on a loaded machine).
import assert from 'node:assert/strict';
import type { Channel } from '../../ics/sync/channel.ts';
import { MessageType, type NamedItem } from '../../ics/sync/codec.ts';
import { Fetcher, type FetcherContext } from '../../ics/sync/fetcher.ts';
import { PeerState } from '../../ics/sync/peer.ts';

const item = (n: number): NamedItem => ({ id: n.toString(16).padStart(40, '0'), prefix: new Uint8Array(8).fill(n) });

function context(send: () => Promise<void>, sent: string[][]): FetcherContext {
  const channel = {
    send: async (message: { type: number; ids?: string[] }) => {
      if (message.type === MessageType.fetch) sent.push(message.ids ?? []);
      await send();
    },
    receive: () => new Promise(() => undefined),
    close: async () => undefined,
  } as unknown as Channel;
  return {
    peer: new PeerState('peer', undefined, 1000),
    store: { getMany: async (ids: readonly string[]) => ids.map(() => undefined) } as unknown as FetcherContext['store'],
    ingest: { submit: async () => Promise.reject(new Error('not reached')) },
    batchSize: 16,
    ingestConcurrency: 4,
    maxPending: 1000,
    requestTimeoutMs: 1000,
    open: async () => ({ channel, limits: { maxMessageBytes: 1 << 20, batchSize: 16 } }),
    misbehaved: () => undefined,
    failed: () => undefined,
    debug: () => undefined,
  };
}

describe('sync: fetcher', () => {
  it('asks again for ids whose FETCH could not be sent', async () => {
    const sent: string[][] = [];
    let fail = true;
    const fetcher = new Fetcher(
      context(async () => {
        if (fail) throw new Error('Cannot write to a stream that is closed');
      }, sent),
    );
    const items = [item(1), item(2), item(3)];
    fetcher.enqueue('devices', items);
    await fetcher.idle();
    assert.equal(sent.length, 1);
    // The next reconciliation finds the same ids missing: they must be asked for again.
    fail = false;
    fetcher.enqueue('devices', items);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sent.length, 2, 'the ids of the failed FETCH were kept in flight and never asked for again');
    assert.deepEqual(sent[1], items.map((i) => i.id));
    fetcher.stop();
  });
});
