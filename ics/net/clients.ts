// Abuse limits shared by the listeners (HKP, LDAP, sync): connections per client address and in
// all, request rates per client address, an allow-list of addresses exempt from the per-address
// limits (gateways behind one NAT), and the refusals counted in /metrics and logged at warn —
// at most once per listener and reason per LOG_INTERVAL_MS, so that a flood does not flood the log.
import { BlockList, isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { IcsError } from '../errors.ts';

export type Listener = 'hkp' | 'ldap' | 'sync' | 'est';
/** Why a connection was refused: over the per-address cap, or over the listener's cap. */
export type RefusalReason = 'per-address' | 'total';

/** A refusal is logged at most this often per listener and reason; the others are counted. */
export const LOG_INTERVAL_MS = 10_000;
/**
 * Client addresses whose request rate is tracked at once. Beyond, the address idle longest is
 * forgotten (its bucket was full again anyway after 1 / rate × burst seconds), so that a scan
 * from many addresses costs bounded memory.
 */
export const MAX_TRACKED_ADDRESSES = 100_000;

/** Addresses and CIDR blocks (IPv4 or IPv6), e.g. `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`. */
export class AddressSet {
  readonly #list = new BlockList();
  /** Answers by address: BlockList.check builds a SocketAddress per call, a cost on every request. */
  readonly #answers = new Map<string, boolean>();
  readonly size: number;

  constructor(entries: readonly string[] = []) {
    for (const entry of entries) {
      const [address = '', bits, ...rest] = entry.trim().split('/');
      const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
      const prefix = bits === undefined ? undefined : Number(bits);
      const max = family === 'ipv4' ? 32 : 128;
      if (!family || rest.length > 0 || (prefix !== undefined && (!/^\d{1,3}$/.test(bits as string) || (prefix as number) > max))) {
        throw new IcsError('CONFIG_INVALID', `clientLimits.exempt: "${entry}" is not an IP address or CIDR block`);
      }
      if (prefix === undefined) this.#list.addAddress(address, family);
      else this.#list.addSubnet(address, prefix, family);
    }
    this.size = entries.length;
  }

  /** True when `address` (as a socket reports it; IPv4-mapped IPv6 included) is in the set. */
  has(address: string | undefined): boolean {
    if (this.size === 0 || !address) return false;
    let answer = this.#answers.get(address);
    if (answer === undefined) {
      answer = this.#list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
      // Bounded: addresses are client-chosen (IPv6 above all); past the bound, start afresh.
      if (this.#answers.size >= MAX_TRACKED_ADDRESSES) this.#answers.clear();
      this.#answers.set(address, answer);
    }
    return answer;
  }
}

/** The client address a limit is keyed by: IPv4-mapped IPv6 addresses as plain IPv4. */
export function clientAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * The key a per-address limit counts under: IPv4 addresses as they are, IPv6 ones by their /56
 * (a site's usual allocation, as @fastify/rate-limit does), so that one site cannot dodge a
 * limit by rotating addresses.
 */
export function addressKey(address: string | undefined): string {
  const plain = clientAddress(address).split('%')[0] as string;
  if (!isIPv6(plain) || plain.includes('.')) return plain;
  const [head = '', tail] = plain.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const g = (i: number) => parseInt(groups[i] ?? '0', 16);
  return `${[g(0), g(1), g(2), g(3) & 0xff00].map((n) => n.toString(16)).join(':')}::/56`;
}

const registries = new WeakMap<Registry, ClientMetrics>();

/** The abuse-limit counters, one set per registry (several servers may share one in tests). */
export class ClientMetrics {
  readonly refused: Counter<'listener' | 'reason'>;
  readonly limited: Counter<'listener'>;
  readonly authFailures: Counter<'listener'>;
  readonly authThrottled: Counter<'listener'>;

  private constructor(registry: Registry) {
    const registers = [registry];
    this.refused = new Counter({
      name: 'ics_connections_refused_total',
      help: 'Connections refused by a listener (hkp, ldap, sync): over the per-address cap or the listener total',
      labelNames: ['listener', 'reason'],
      registers,
    });
    this.limited = new Counter({
      name: 'ics_requests_rate_limited_total',
      help: 'Requests refused for exceeding the per-address rate (HTTP 429, LDAP busy), by listener',
      labelNames: ['listener'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'ics_authentication_failures_total',
      help: 'Credentials checked and found wrong or malformed, by listener',
      labelNames: ['listener'],
      registers,
    });
    this.authThrottled = new Counter({
      name: 'ics_authentication_throttled_total',
      help: 'Requests refused unchecked (HTTP 429) because their address had too many failed authentications, by listener',
      labelNames: ['listener'],
      registers,
    });
  }

  static of(registry: Registry): ClientMetrics {
    let metrics = registries.get(registry);
    if (!metrics) registries.set(registry, (metrics = new ClientMetrics(registry)));
    return metrics;
  }
}

/** Logs a kind of event at warn once per LOG_INTERVAL_MS, with how many were not logged. */
export class ThrottledWarning {
  #last = -Infinity;
  #suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
  ) {}

  warn(fields: Record<string, unknown>): void {
    const now = performance.now();
    if (now - this.#last < LOG_INTERVAL_MS) {
      this.#suppressed++;
      return;
    }
    this.#last = now;
    this.logger.warn({ ...fields, ...(this.#suppressed > 0 && { suppressed: this.#suppressed }) }, this.message);
    this.#suppressed = 0;
  }
}

export interface ConnectionLimits {
  /** Connections open at once in all; further ones are closed as they arrive. */
  readonly maxConnections: number;
  /** Connections open at once from one client address (exempt addresses aside). */
  readonly maxConnectionsPerAddress: number;
  readonly exempt: AddressSet;
}

/**
 * Caps connections per client address and in all on a net.Server (plain, TLS or HTTP): a
 * connection over a cap is destroyed at once, before any TLS handshake or request is read,
 * so that one client holding sockets cannot lock the others out.
 */
export class ConnectionGuard {
  readonly #open = new Map<string, number>();
  readonly #refusedLog: ThrottledWarning;

  constructor(
    private readonly listener: Listener,
    private readonly limits: ConnectionLimits,
    private readonly metrics: ClientMetrics | undefined,
    logger: Logger,
  ) {
    this.#refusedLog = new ThrottledWarning(logger, 'connection refused: too many connections');
  }

  /** Applies the caps to `server`. Must be called before it listens. */
  attach(server: Server): void {
    server.maxConnections = this.limits.maxConnections;
    // node closes connections over maxConnections itself and reports them as 'drop'.
    server.on('drop', (data?: { remoteAddress?: string }) => this.#refuse('total', clientAddress(data?.remoteAddress)));
    server.on('connection', (socket: Socket) => this.admit(socket));
  }

  /** Counts `socket` against its address, or destroys it when over the cap; false if refused. */
  admit(socket: Socket): boolean {
    const address = clientAddress(socket.remoteAddress);
    if (this.limits.exempt.has(address)) return true;
    const open = this.#open.get(address) ?? 0;
    if (open >= this.limits.maxConnectionsPerAddress) {
      socket.destroy();
      this.#refuse('per-address', address);
      return false;
    }
    this.#open.set(address, open + 1);
    socket.once('close', () => {
      const n = (this.#open.get(address) ?? 1) - 1;
      if (n <= 0) this.#open.delete(address);
      else this.#open.set(address, n);
    });
    return true;
  }

  #refuse(reason: RefusalReason, address: string): void {
    this.metrics?.refused.inc({ listener: this.listener, reason });
    const limit = reason === 'total' ? this.limits.maxConnections : this.limits.maxConnectionsPerAddress;
    this.#refusedLog.warn({ listener: this.listener, reason, client: address, limit });
  }
}

/**
 * Request rate per client address: a token bucket each, `rate` per second with bursts of
 * `burst`. A request over the rate is refused (not delayed), so that the client is told.
 */
export class AddressRateLimiter {
  /** Per address: tokens left and when they were counted; Map order is least recently used first. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly exempt: AddressSet,
  ) {}

  /** Takes a token for `address`: 0 if the request may go ahead, else seconds until one is free. */
  take(address: string): number {
    if (this.exempt.has(address)) return 0;
    const now = performance.now();
    let bucket = this.#buckets.get(address);
    if (bucket) {
      this.#buckets.delete(address);
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.rate) / 1000);
      bucket.at = now;
    } else {
      if (this.#buckets.size >= MAX_TRACKED_ADDRESSES) this.#buckets.delete(this.#buckets.keys().next().value as string);
      bucket = { tokens: this.burst, at: now };
    }
    this.#buckets.set(address, bucket);
    if (bucket.tokens < 1) return Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate));
    bucket.tokens -= 1;
    return 0;
  }
}

/**
 * Failed attempts per client address (addressKey) in a fixed window, e.g. failed authentications
 * a minute. An attempt is reserved before the costly check and released if it succeeds, so that
 * concurrent guesses cannot overrun the limit; past `max`, attempts are refused unchecked until
 * the window ends. Exempt addresses are not limited.
 */
export class FailureLimiter {
  /** Per key: attempts counted and when the window ends; Map order is least recently used first. */
  readonly #windows = new Map<string, { used: number; until: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly exempt: AddressSet,
  ) {}

  /** Reserves an attempt for `address`: its key if it may go ahead, else seconds until the window ends. */
  reserve(address: string | undefined): { key: string } | { retryAfter: number } {
    const key = addressKey(address);
    if (this.exempt.has(clientAddress(address))) return { key: '' };
    const now = performance.now();
    let window = this.#windows.get(key);
    if (window) this.#windows.delete(key);
    if (!window || window.until <= now) {
      if (this.#windows.size >= MAX_TRACKED_ADDRESSES) this.#windows.delete(this.#windows.keys().next().value as string);
      window = { used: 0, until: now + this.windowMs };
    }
    this.#windows.set(key, window);
    if (window.used >= this.max) return { retryAfter: Math.max(1, Math.ceil((window.until - now) / 1000)) };
    window.used += 1;
    return { key };
  }

  /** Gives back an attempt reserved under `key` that did not fail. */
  release(key: string): void {
    const window = this.#windows.get(key);
    if (window && window.used > 0) window.used -= 1;
  }
}
