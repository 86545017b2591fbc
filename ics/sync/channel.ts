// One protocol stream as a sequence of messages: varint length-prefixed frames (lpStream),
// each at most maxMessageBytes — a longer announced length fails the read before the body is
// buffered — decoded strictly (codec.ts). Counts the bytes each way, frames included.
import type { Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { decodeMessage, type DecodeLimits, encodeMessage, type Message, ProtocolError } from './codec.ts';
import { withDeadline } from './deadline.ts';

/** Bytes of a frame's length prefix at most (a varint of up to 2^35). */
const LENGTH_PREFIX_BYTES = 5;

export interface ByteCounter {
  in: number;
  out: number;
}

/** The stream ended cleanly between two messages. */
export class StreamEnded extends Error {
  override readonly name = 'StreamEnded';
}

const varintLength = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

export class Channel {
  readonly #lp: ReturnType<typeof lpStream<Stream>>;
  readonly #limits: DecodeLimits;
  readonly #counters: ByteCounter[];

  constructor(
    readonly stream: Stream,
    readonly maxMessageBytes: number,
    limits: DecodeLimits,
    counters: ByteCounter[],
  ) {
    this.#lp = lpStream(stream, { maxDataLength: maxMessageBytes, maxBufferSize: maxMessageBytes + LENGTH_PREFIX_BYTES + 64 });
    this.#limits = limits;
    this.#counters = counters;
  }

  /** Sends one message; with `timeoutMs`, fails when it cannot be written within that time. */
  async send(message: Message, timeoutMs?: number): Promise<void> {
    const bytes = encodeMessage(message);
    if (bytes.length > this.maxMessageBytes) throw new RangeError(`message of ${bytes.length} bytes over maxMessageBytes`);
    if (timeoutMs === undefined) await this.#lp.write(bytes);
    else await withDeadline(timeoutMs, (signal) => this.#lp.write(bytes, { signal }));
    for (const c of this.#counters) c.out += bytes.length + varintLength(bytes.length);
  }

  /**
   * The next message. ProtocolError for anything that is not one (an oversized length, bytes
   * that do not decode); StreamEnded when the peer closed between messages. With
   * `timeoutMs`, fails when no message arrives within that time.
   */
  async receive(timeoutMs?: number): Promise<Message> {
    let frame: Uint8Array;
    try {
      const read = timeoutMs === undefined ? await this.#lp.read() : await withDeadline(timeoutMs, (signal) => this.#lp.read({ signal }));
      frame = read.subarray();
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError' || name === 'InvalidMessageLengthError') {
        throw new ProtocolError(`frame over ${this.maxMessageBytes} bytes or malformed length`);
      }
      if (name === 'UnexpectedEOFError') throw new StreamEnded('stream ended');
      throw error;
    }
    for (const c of this.#counters) c.in += frame.length + varintLength(frame.length);
    return decodeMessage(frame, this.#limits);
  }

  /** Closes the writing end and waits for queued data to go out. */
  async close(): Promise<void> {
    try {
      await this.stream.close();
    } catch {
      this.stream.abort(new Error('close failed'));
    }
  }

  abort(reason: string): void {
    this.stream.abort(new Error(reason));
  }
}
