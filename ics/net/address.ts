// Listener addresses as configured and typed (`listen.hkp`, `ics serve --ldap`, …): one
// reading of `HOST:PORT`, so that the config, the CLI and the wiring refuse the same things.
import { IcsError } from '../errors.ts';

export interface HostPort {
  /** A name or an IP address; IPv6 without its brackets. */
  readonly host: string;
  /** 0..65535; 0 asks for an ephemeral port. */
  readonly port: number;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/;

/** `host:port` (IPv6 hosts in brackets, `[::1]:11371`) → its parts; anything else is BAD_REQUEST. */
export function parseHostPort(text: string): HostPort {
  const match = HOST_PORT.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new IcsError('BAD_REQUEST', `invalid address "${text}" (HOST:PORT)`);
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** The inverse: `host:port`, an IPv6 host in brackets so that its colons stay apart from the port's. */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A loopback address (or name) as a socket or a config gives it: 127.0.0.0/8, ::1, IPv4-mapped 127/8, localhost. */
export function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false;
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}
