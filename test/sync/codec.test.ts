// The wire format (ics/sync/codec.ts): every message round-trips; untrusted bytes either decode
// to a message within the limits or fail with ProtocolError — never another exception, never
// an allocation larger than the input allows.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BoundReader,
  BoundWriter,
  decodeMessage,
  encodeMessage,
  type Message,
  MessageType,
  Mode,
  ProtocolError,
  Reader,
  Writer,
} from '../../ics/sync/codec.ts';
import { IDLIST_MAX, MAX_RANGES } from '../../ics/sync/consts.ts';
import { seededRandom } from '../helpers/random.ts';

const LIMITS = { maxFetchIds: 256, maxRecordBytes: 65536 };
// Seeded: the samples and the bit flips below are the same on every run.
const rng = seededRandom(0xc0dec);
const seededBytes = (n: number) => rng.bytes(n);
const fpr = () => rng.hex(20);
const prefix = () => rng.bytes(8);

const samples: Message[] = [
  {
    type: MessageType.hello,
    version: 1,
    limits: { maxMessageBytes: 4 << 20, batchSize: 256 },
    domains: [{ name: 'devices', digest: seededBytes(32), flags: 7 }],
  },
  {
    type: MessageType.helloOk,
    version: 1,
    limits: { maxMessageBytes: 1 << 20, batchSize: 64 },
    domains: [
      { name: 'devices', status: 0, flags: 4, digest: seededBytes(32) },
      { name: 'gone', status: 1, flags: 0, digest: undefined },
    ],
  },
  {
    type: MessageType.reconcile,
    domain: 'devices',
    ranges: [
      { upper: { time: 1000, id: '' }, mode: Mode.skip },
      { upper: { time: 2000, id: 'ab1' }, mode: Mode.fingerprint, fingerprint: seededBytes(16) },
      { upper: { time: 2000, id: 'sha256:' }, mode: Mode.idList, prefixes: [prefix(), prefix()] },
      { upper: { time: 2000, id: 'sha256:0f' }, mode: Mode.wantIdList },
      { upper: undefined, mode: Mode.idListReply, listed: 9, have: Uint8Array.of(0xff, 0x01), extras: [{ id: fpr(), prefix: prefix() }, { id: `sha256:${seededBytes(32).toString('hex')}`, prefix: prefix() }] },
    ],
  },
  { type: MessageType.reconcileReply, ranges: [{ upper: undefined, mode: Mode.skip }] },
  { type: MessageType.fetch, domain: 'devices', ids: [fpr(), fpr()] },
  { type: MessageType.records, entries: [{ status: 0, bytes: seededBytes(700) }, { status: 1 }, { status: 2 }] },
  { type: MessageType.announce, domain: 'devices', hint: true, items: [{ id: fpr(), prefix: prefix() }] },
  { type: MessageType.ack, status: 0 },
  { type: MessageType.error, code: 3, text: 'devices is defined differently here' },
  { type: MessageType.checkpoint, domain: 'devices', since: 20 },
  { type: MessageType.checkpointReply, note: 'ics/b/devices\n25\nroot\n\n— ics/b/devices sig\n', vkey: 'ics/b/devices+01234567+AQ', proof: [seededBytes(32), seededBytes(32)] },
  { type: MessageType.cosign, domain: 'devices', line: '— ics/a sig\n', vkey: 'ics/a+89abcdef+AQ' },
  { type: MessageType.witnessed, domain: 'devices', checkpoints: [{ note: 'ics/c/devices\n8\nroot\n\n— ics/c/devices sig\n', vkey: 'ics/c/devices+01234567+AQ' }] },
  { type: MessageType.witnessed, domain: 'devices', checkpoints: [] },
  { type: MessageType.consistency, domain: 'devices', from: 8, to: 25 },
  { type: MessageType.consistencyReply, proof: [seededBytes(32)] },
];

/** Byte fields as hex, so that Buffers and Uint8Arrays compare equal. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function decodeOrProtocolError(bytes: Uint8Array): void {
  try {
    decodeMessage(bytes, LIMITS);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
  }
}

describe('sync: wire format', () => {
  it('round-trips every message type', () => {
    for (const m of samples) {
      const back = decodeMessage(encodeMessage(m), LIMITS);
      assert.deepEqual(plain(back), plain(m));
    }
  });

  it('fails only with ProtocolError on random bytes, truncations and bit flips', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodeOrProtocolError(bytes)), { numRuns: 3000 });
    for (const m of samples) {
      const bytes = encodeMessage(m);
      for (let n = 0; n < bytes.length; n++) assert.throws(() => decodeMessage(bytes.subarray(0, n), LIMITS), ProtocolError);
      for (let i = 0; i < 200; i++) {
        const copy = Uint8Array.from(bytes);
        const at = rng.int(copy.length);
        copy[at] = (copy[at] as number) ^ (1 << rng.int(8));
        decodeOrProtocolError(copy);
      }
      assert.throws(() => decodeMessage(Uint8Array.from([...bytes, 0]), LIMITS), ProtocolError, 'trailing bytes');
    }
  });

  it('refuses counts larger than the message before allocating for them', () => {
    // A FETCH claiming 2^40 ids in a 20-byte message.
    const w = new Writer().byte(MessageType.fetch).string('devices').varint(2 ** 40);
    assert.throws(() => decodeMessage(w.done(), LIMITS), ProtocolError);
    // More ranges than the protocol allows.
    const r = new Writer().byte(MessageType.reconcileReply).varint(MAX_RANGES + 1);
    for (let i = 0; i <= MAX_RANGES; i++) r.varint(0).byte(0);
    assert.throws(() => decodeMessage(r.done(), LIMITS), ProtocolError);
    // An id list longer than IDLIST_MAX.
    const l = new Writer().byte(MessageType.reconcileReply).varint(1).varint(0).byte(Mode.idList).varint(IDLIST_MAX + 1);
    for (let i = 0; i <= IDLIST_MAX; i++) l.bytes(prefix());
    assert.throws(() => decodeMessage(l.done(), LIMITS), /over its limit/);
    // More FETCH ids than the batch size.
    const f = new Writer().byte(MessageType.fetch).string('devices').varint(257);
    for (let i = 0; i < 257; i++) f.byte(1).bytes(seededBytes(20));
    assert.throws(() => decodeMessage(f.done(), LIMITS), ProtocolError);
  });

  it('refuses a consistency proof asked between sizes that are not 0 < from < to', () => {
    for (const [from, to] of [[0, 5], [5, 5], [6, 5]]) {
      assert.throws(() => decodeMessage(new Writer().byte(MessageType.consistency).string('devices').varint(from as number).varint(to as number).done(), LIMITS), /0 < from < to/);
    }
  });

  it('refuses ranges that do not increase or do not reach the end', () => {
    const bounds = (list: Array<{ time: number; id: string } | undefined>) => {
      const w = new Writer().byte(MessageType.reconcileReply).varint(list.length);
      const b = new BoundWriter();
      for (const x of list) {
        b.write(w, x);
        w.byte(Mode.skip);
      }
      return w.done();
    };
    assert.doesNotThrow(() => decodeMessage(bounds([{ time: 5, id: 'ab' }, { time: 5, id: 'ac' }, undefined]), LIMITS));
    assert.throws(() => decodeMessage(bounds([{ time: 5, id: 'ac' }, { time: 5, id: 'ab' }, undefined]), LIMITS), /do not increase/);
    assert.throws(() => decodeMessage(bounds([{ time: 5, id: 'ab' }, { time: 5, id: 'ab' }, undefined]), LIMITS), /do not increase/);
    assert.throws(() => decodeMessage(bounds([{ time: 5, id: 'ab' }]), LIMITS), /end of the set/);
    assert.throws(() => decodeMessage(Uint8Array.from([...bounds([undefined]).subarray(0, 1), 2, 0, 0, 0, 0]), LIMITS), ProtocolError);
  });

  it('packs bound ids: odd digit counts, code ids, and refuses non-zero padding', () => {
    for (const id of ['', 'a', 'ab1', 'f'.repeat(40), 'sha256:', 'sha256:7', `sha256:${'e'.repeat(64)}`]) {
      const w = new Writer();
      new BoundWriter().write(w, { time: 42, id });
      assert.deepEqual(new BoundReader().read(new Reader(w.done())), { time: 42, id });
    }
    const w = new Writer();
    new BoundWriter().write(w, { time: 1, id: 'abc' });
    const bytes = w.done();
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) | 1; // the pad nibble
    assert.throws(() => new BoundReader().read(new Reader(bytes)), /padding/);
    assert.throws(() => new BoundWriter().write(new Writer(), { time: 1, id: 'xyz' }), RangeError);
  });
});
