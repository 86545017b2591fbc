// A libp2p node that speaks /cm4it/sync/1.0.0 by hand, for the misbehaving-peer tests: it can
// send any bytes, well-formed messages or not, and answer a node's requests as it likes.
import '../../../ics/sync/polyfill.ts';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { decodeMessage, encodeMessage, type Message } from '../../../ics/sync/codec.ts';
import { PROTOCOL } from '../../../ics/sync/consts.ts';
import type { PeerKey } from '../../../ics/sync/index.ts';

const LIMITS = { maxFetchIds: 1 << 16, maxRecordBytes: 1 << 24 };

export class RawChannel {
  readonly #lp: ReturnType<typeof lpStream<Stream>>;

  constructor(readonly stream: Stream) {
    this.#lp = lpStream(stream, { maxDataLength: 1 << 26, maxBufferSize: 1 << 26 });
  }

  send(message: Message): Promise<void> {
    return this.#lp.write(encodeMessage(message));
  }

  /** A frame with any payload. */
  sendFrame(payload: Uint8Array): Promise<void> {
    return this.#lp.write(payload);
  }

  /** Bytes as they are, no framing. */
  sendRaw(bytes: Uint8Array): void {
    this.stream.send(bytes);
  }

  async receive(): Promise<Message> {
    return decodeMessage((await this.#lp.read()).subarray(), LIMITS);
  }
}

export interface RawPeer {
  readonly libp2p: Libp2p;
  readonly address: string;
  dial(address: string): Promise<RawChannel>;
  stop(): Promise<void>;
}

/** Starts a raw peer with `key`; `serve` answers the streams nodes open to it. */
export async function rawPeer(key: PeerKey, serve?: (channel: RawChannel, connection: Connection) => Promise<void>): Promise<RawPeer> {
  const libp2p = await createLibp2p({
    privateKey: key.privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
  });
  if (serve) {
    await libp2p.handle(PROTOCOL, (stream, connection) => {
      serve(new RawChannel(stream), connection).catch(() => stream.abort(new Error('raw peer handler failed')));
    });
  }
  return {
    libp2p,
    address: libp2p.getMultiaddrs()[0]?.toString() as string,
    async dial(address: string) {
      const stream = await libp2p.dialProtocol(multiaddr(address), PROTOCOL);
      return new RawChannel(stream);
    },
    async stop() {
      await libp2p.stop();
    },
  };
}
