// Large submissions: form bodies decoded in the worker thread, parsed in the bulk lane.
import assert from 'node:assert/strict';
import { armor, generateIdentity } from '../../ics/record/index.ts';
import { BodyDecoder, decodeKeytextForm } from '../../ics/http/submission-body.ts';
import { BulkLane } from '../../ics/net/bulk-lane.ts';

const form = (text: string) => Buffer.from(`keytext=${encodeURIComponent(text)}`);

describe('hkp: BodyDecoder (form bodies off the main thread)', () => {
  let decoder: BodyDecoder;
  afterEach(async () => decoder.close());

  it('decodes in the worker what it decodes inline: packet bytes, the text of other shapes, the same refusals', async () => {
    decoder = new BodyDecoder(1); // every body goes to the worker
    const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:w:1' });
    const bodies = [form(armor('publicKey', record.bytes)), form(`${armor('publicKey', record.bytes)}\n${armor('publicKey', record.bytes)}`), form('not armor')];
    for (const body of bodies) {
      const inline = decodeKeytextForm(body);
      const copy = Buffer.from(body); // the worker takes the body's memory
      assert.deepEqual(await decoder.decodeForm(copy), inline);
    }
    await assert.rejects(decoder.decodeForm(Buffer.from('keytext=a&keytext=b')), (e: Error & { code?: string }) => e.code === 'BAD_REQUEST');
  });

  it('bodies in a dead worker fail as INTERNAL; the next body starts a new one', async () => {
    decoder = new BodyDecoder(1);
    const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:w:2' });
    const body = () => form(armor('publicKey', record.bytes));
    await decoder.decodeForm(body());
    const worker = getWorker(decoder);
    // A body that takes the worker a while (~16 MB of armor), ended under it.
    const pending = decoder.decodeForm(form(armor('publicKey', Buffer.alloc(12 * 1024 * 1024, 0x99))));
    await worker.terminate();
    await assert.rejects(pending, (e: Error & { code?: string }) => e.code === 'INTERNAL');
    const again = await decoder.decodeForm(body());
    assert.ok('bytes' in again);
    assert.deepEqual(new Uint8Array(again.bytes), new Uint8Array(record.bytes));
  });
});

describe('net: BulkLane', () => {
  it('runs tasks one at a time, in arrival order, each with a pace that yields', async () => {
    const lane = new BulkLane(0.5);
    const events: string[] = [];
    let running = 0;
    const task = (name: string) =>
      lane.run(async (pace) => {
        running++;
        assert.equal(running, 1, 'one task at a time');
        events.push(`${name} start`);
        let spin = 0;
        for (let i = 0; i < 1e5; i++) spin += i;
        await pace();
        events.push(`${name} end ${spin > 0}`);
        running--;
        return name;
      });
    assert.deepEqual(await Promise.all([task('a'), task('b'), task('c')]), ['a', 'b', 'c']);
    assert.deepEqual(events, ['a start', 'a end true', 'b start', 'b end true', 'c start', 'c end true']);
    assert.equal(lane.waiting, 0);
    await assert.rejects(lane.run(async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await lane.run(async () => 'free again'), 'free again');
    assert.throws(() => new BulkLane(0), RangeError);
  });
});

function getWorker(decoder: BodyDecoder): { terminate(): Promise<number> } {
  const worker = decoder.workerForTests;
  if (!worker) throw new Error('no worker started');
  return worker;
}
