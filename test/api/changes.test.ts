// The change stream (GET /ics/v1/changes, server-sent events) as a gateway reads it: catch-up
// from a sequence number, live changes with the record's verdict, resumption with
// Last-Event-ID, the read rules, bad positions refused, and streams ended when the server stops.
import assert from 'node:assert/strict';
import { certify, type KeyRecord } from '../../ics/record/index.ts';
import { acmeDeviceId, device } from '../policy/helpers.ts';
import { basic, startNode, type TestNode, tableAuthenticator } from '../hkp/helpers.ts';

interface StreamEvent {
  readonly id: number;
  readonly data: { seq: number; id: string; kind: string; action: string; summary: string; verdict: { trusted: boolean; status: string | null } };
}

/** An open stream: events as they come, parsed from the SSE text. */
class EventReader {
  readonly events: StreamEvent[] = [];
  text = '';
  ended = false;
  readonly #controller = new AbortController();

  static async open(node: TestNode, path: string, headers: Record<string, string> = {}): Promise<EventReader> {
    const reader = new EventReader();
    const response = await node.fetch(path, { headers, signal: reader.#controller.signal });
    assert.equal(response.status, 200, await (response.status === 200 ? Promise.resolve('') : response.text()));
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    void reader.#read(response);
    return reader;
  }

  async #read(response: Response): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        this.text += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = this.text.indexOf('\n\n')) >= 0) {
          const block = this.text.slice(0, end);
          this.text = this.text.slice(end + 2);
          const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          if (fields.event === 'change') this.events.push({ id: Number(fields.id), data: JSON.parse(fields.data as string) as StreamEvent['data'] });
        }
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
  }

  /** Waits until `count` events arrived (or fails after 10 s). */
  async atLeast(count: number): Promise<StreamEvent[]> {
    for (const started = Date.now(); this.events.length < count; await new Promise((r) => setTimeout(r, 10))) {
      assert.ok(Date.now() - started < 10_000, `only ${this.events.length} of ${count} events: ${JSON.stringify(this.events.map((e) => e.data.summary))}`);
    }
    return this.events;
  }

  close(): void {
    this.#controller.abort();
  }
}

describe('api: the change stream (/ics/v1/changes, server-sent events)', () => {
  let node: TestNode;
  let publicDevice: KeyRecord;
  let siteDevice: KeyRecord;
  const alice = { authorization: basic('alice', 'correct horse') };
  const readers: EventReader[] = [];
  const open = async (path: string, headers?: Record<string, string>) => {
    const reader = await EventReader.open(node, path, headers);
    readers.push(reader);
    return reader;
  };

  before(async () => {
    node = await startNode({ authenticator: tableAuthenticator({ alice: { password: 'correct horse', write: false } }) });
    const { f } = node;
    publicDevice = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    // In `system`: read by authenticated clients only.
    siteDevice = await device(`urn:cm4it:service:acme.example:site-a:broker-${Date.now()}`, [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    for (const r of [publicDevice, siteDevice]) await node.ingest.submit(r.bytes, { source: 'cli' });
  });

  afterEach(() => {
    for (const r of readers.splice(0)) r.close();
  });

  after(() => node.close());

  it('since=0: every change so far that the caller may read, each with its sequence number and the verdict now', async () => {
    const anonymous = await open('/ics/v1/changes?since=0');
    const [only] = await anonymous.atLeast(1);
    assert.equal(only?.data.id, publicDevice.id);
    assert.equal(only?.id, only?.data.seq);
    assert.equal(only?.data.verdict.trusted, true);
    assert.equal(only?.data.verdict.status, 'in-use');
    const user = await open('/ics/v1/changes?since=0', alice);
    const both = await user.atLeast(2);
    assert.deepEqual(both.map((e) => e.data.id), [publicDevice.id, siteDevice.id]);
    assert.equal(anonymous.events.length, 1, 'the private record is not shown to an anonymous caller');
  });

  it('live: a status change arrives with the new verdict; a reconnect with Last-Event-ID gets only what came after', async () => {
    const live = await open('/ics/v1/changes');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(live.events.length, 0, 'without a position the stream starts at the present');
    const stolen = await certify(publicDevice, node.f.manufacturer.privateKey, { role: 'manufacturer', status: 'stolen' });
    await node.ingest.submit(stolen.bytes, { source: 'cli' });
    const [event] = await live.atLeast(1);
    assert.equal(event?.data.id, publicDevice.id);
    assert.equal(event?.data.verdict.status, 'stolen');
    assert.equal(event?.data.verdict.trusted, false);
    // A gateway that saw the first event only (Last-Event-ID, as EventSource sends it).
    const first = (await (await open('/ics/v1/changes?since=0')).atLeast(1))[0];
    const resumed = await open('/ics/v1/changes', { 'last-event-id': String(first?.id) });
    const [next] = await resumed.atLeast(1);
    assert.equal(next?.id, event?.id);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(resumed.events.length, 1);
  });

  it('a position that is not a sequence number is 400', async () => {
    for (const query of ['since=-1', 'since=abc', 'since=1&since=2', 'other=1']) {
      assert.equal((await node.fetch(`/ics/v1/changes?${query}`)).status, 400, query);
    }
    assert.equal((await node.fetch('/ics/v1/changes', { headers: { 'last-event-id': 'x' } })).status, 400);
  });

  it('a stream open when the server stops is ended, and the server stops', async () => {
    const reader = await open('/ics/v1/changes?since=0');
    await reader.atLeast(1);
    await node.server.stop();
    for (const started = Date.now(); !reader.ended; await new Promise((r) => setTimeout(r, 10))) {
      assert.ok(Date.now() - started < 10_000, 'the stream was not ended');
    }
  });
});
