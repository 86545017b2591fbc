// The libp2p node sync runs on (DESIGN §6): TCP, Noise and Yamux; a connection gater that
// caps each IP address before any handshake and, once Noise has authenticated the remote key,
// keeps only the peer ids the service admits; libp2p's own connection caps; and the stream
// limits of the protocol handler. It knows nothing of policies or the protocol's messages.
import './polyfill.ts';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Connection, Libp2p, MultiaddrConnection, PeerId, PrivateKey, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { IcsError } from '../errors.ts';
import { AddressSet, ClientMetrics, ThrottledWarning } from '../net/clients.ts';
import { INBOUND_CONNECTIONS_PER_SECOND, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS, MAX_PENDING_INBOUND, MAX_PENDING_PER_ADDRESS, PROTOCOL } from './consts.ts';

export interface TransportInit {
  readonly listen: string;
  readonly privateKey: PrivateKey;
  /** libp2p connections open at once; default MAX_CONNECTIONS. */
  readonly maxConnections?: number;
  /** Connections from one IP address; default MAX_CONNECTIONS_PER_ADDRESS. */
  readonly maxConnectionsPerAddress?: number;
  /** Addresses and CIDR blocks exempt from the per-address limits. */
  readonly exempt?: readonly string[];
  /** Inbound protocol streams per connection (SyncLimits.inFlight). */
  readonly inFlight: number;
}

export interface TransportComponents {
  readonly log: Logger;
  readonly metrics?: { readonly registry: Registry };
  /** Whether to keep a connection whose remote key Noise has authenticated as `peerId`. */
  admits(peerId: string): boolean;
  /** A peer opened a protocol stream. */
  serve(stream: Stream, connection: Connection): void;
  connected(peerId: string): void;
  disconnected(peerId: string): void;
}

/** The IP address of a multiaddr, if it has one. */
function hostOf(address: Multiaddr): string | undefined {
  return address.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value;
}

export class Transport {
  readonly #init: TransportInit;
  readonly #components: TransportComponents;
  #libp2p: Libp2p | undefined;
  readonly #exempt: AddressSet;
  readonly #refusedMetric: ClientMetrics['refused'] | undefined;
  readonly #refusedLog: ThrottledWarning;
  /** Inbound connections open per IP address, from acceptance (before any handshake) to close. */
  readonly #inbound = new Map<string, number>();

  constructor(init: TransportInit, components: TransportComponents) {
    this.#init = init;
    this.#components = components;
    this.#exempt = new AddressSet(init.exempt);
    this.#refusedMetric = components.metrics ? ClientMetrics.of(components.metrics.registry).refused : undefined;
    this.#refusedLog = new ThrottledWarning(components.log, 'connection refused: too many connections');
  }

  /** Started once; stays so after stop (a stopped service is not started again). */
  get started(): boolean {
    return this.#libp2p !== undefined;
  }

  /** This node's peer id ('' before start). */
  get peerId(): string {
    return this.#libp2p?.peerId.toString() ?? '';
  }

  /** Listens and serves the protocol; returns the addresses listened on. */
  async start(): Promise<string[]> {
    const init = this.#init;
    const events = this.#components;
    let libp2p: Libp2p;
    try {
      libp2p = await createLibp2p({
        privateKey: init.privateKey,
        addresses: { listen: [init.listen] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionGater: {
          // Loopback and private addresses are where a mesh lives: do not filter them.
          denyDialMultiaddr: () => false,
          // Before any handshake: the per-address cap (libp2p's own caps are below).
          denyInboundConnection: (connection) => this.#denyAddress(connection),
          // After Noise has authenticated the remote key: only the peers the service admits.
          denyInboundEncryptedConnection: (peerId: PeerId) => !events.admits(peerId.toString()),
          denyOutboundEncryptedConnection: (peerId: PeerId) => !events.admits(peerId.toString()),
        },
        connectionManager: {
          maxConnections: init.maxConnections ?? MAX_CONNECTIONS,
          maxIncomingPendingConnections: MAX_PENDING_INBOUND,
          inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_SECOND,
          // libp2p lets allow-listed addresses past every cap, its total included.
          allow: this.#exemptMultiaddrs(),
        },
      });
    } catch (cause) {
      throw new IcsError('UNAVAILABLE', `sync cannot listen on ${init.listen}`, { cause });
    }
    this.#libp2p = libp2p;
    try {
      await libp2p.handle(PROTOCOL, (stream, connection) => events.serve(stream, connection), {
        maxInboundStreams: init.inFlight,
        maxOutboundStreams: init.inFlight + 2,
      });
    } catch (error) {
      await libp2p.stop();
      throw error;
    }
    libp2p.addEventListener('peer:connect', (event) => events.connected(event.detail.toString()));
    libp2p.addEventListener('peer:disconnect', (event) => events.disconnected(event.detail.toString()));
    return libp2p.getMultiaddrs().map((a) => a.toString());
  }

  /** Stops serving and closes every connection. */
  async stop(): Promise<void> {
    const libp2p = this.#libp2p;
    if (!libp2p) return;
    await libp2p.unhandle(PROTOCOL).catch(() => undefined);
    await libp2p.stop();
  }

  /** An open connection to the peer, if there is one. */
  openConnection(peerId: string): Connection | undefined {
    if (!this.#libp2p) throw new IcsError('UNAVAILABLE', 'sync is not running');
    return this.#libp2p.getConnections(peerIdFromString(peerId)).find((c) => c.status === 'open');
  }

  /** Any connection to the peer, open or closing. */
  hasConnection(peerId: string): boolean {
    return (this.#libp2p?.getConnections(peerIdFromString(peerId)).length ?? 0) > 0;
  }

  dial(addresses: Multiaddr[], signal: AbortSignal): Promise<Connection> {
    if (!this.#libp2p) throw new IcsError('UNAVAILABLE', 'sync is not running');
    return this.#libp2p.dial(addresses, { signal });
  }

  hangUp(peerId: string): void {
    void this.#libp2p?.hangUp(peerIdFromString(peerId)).catch(() => undefined);
  }

  /** The exempt addresses as libp2p's allow list wants them (`/ip4/…/ipcidr/…`). */
  #exemptMultiaddrs(): string[] {
    return (this.#init.exempt ?? []).map((entry) => {
      const [address = '', bits] = entry.trim().split('/');
      const ip = address.includes(':') ? 'ip6' : 'ip4';
      return `/${ip}/${address}/ipcidr/${bits ?? (ip === 'ip4' ? 32 : 128)}`;
    });
  }

  /**
   * The connection gater's per-address answer: refuse a connection over the cap of its IP
   * address. Inbound connections count from the moment they are accepted, so that sockets that
   * never finish the Noise handshake count too; of those, one address may hold MAX_PENDING_PER_ADDRESS.
   */
  #denyAddress(maConn: MultiaddrConnection): boolean {
    const host = hostOf(maConn.remoteAddr);
    if (host === undefined || this.#exempt.has(host)) return false;
    const max = this.#init.maxConnectionsPerAddress ?? MAX_CONNECTIONS_PER_ADDRESS;
    const inbound = this.#inbound.get(host) ?? 0;
    let outbound = 0;
    let upgraded = 0;
    for (const c of this.#libp2p?.getConnections() ?? []) {
      if (hostOf(c.remoteAddr) !== host) continue;
      if (c.direction === 'outbound') outbound++;
      else upgraded++;
    }
    const pending = inbound - upgraded;
    if (inbound + outbound < max && pending < MAX_PENDING_PER_ADDRESS) {
      if (maConn.status !== 'open') return false;
      this.#inbound.set(host, inbound + 1);
      maConn.addEventListener(
        'close',
        () => {
          const n = (this.#inbound.get(host) ?? 1) - 1;
          if (n <= 0) this.#inbound.delete(host);
          else this.#inbound.set(host, n);
        },
        { once: true },
      );
      return false;
    }
    this.#refusedMetric?.inc({ listener: 'sync', reason: 'per-address' });
    this.#refusedLog.warn({ listener: 'sync', reason: 'per-address', client: host, limit: pending >= MAX_PENDING_PER_ADDRESS ? `${MAX_PENDING_PER_ADDRESS} handshakes` : max });
    return true;
  }
}
