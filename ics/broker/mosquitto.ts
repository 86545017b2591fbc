// What a mosquitto 2.0 broker beside an ICS node runs with (DESIGN §7): devices connect with
// the operational certificate the node's CA issued them over EST (require_certificate; the
// certificate's first CN, the device URN, is the MQTT username), the node's CRL is the
// listener's crlfile, and the dynamic-security plugin gives the node a control account with
// which it ends the live session of a device whose certificate it revoked (mosquitto checks
// the CRL at connection time only). A second listener, password-authenticated by the plugin,
// carries that control account and applications such as a gateway. Text only: writing the
// files is the CLI's (cli/broker-actions.ts).
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { IcsError } from '../errors.ts';

/** The dynamic-security plugin's file name (Debian: in the architecture's library directory). */
export const DYNSEC_PLUGIN_FILE = 'mosquitto_dynamic_security.so';
/** The plugin's control topic (mosquitto 2.0, version 1 of its command set). */
export const DYNSEC_TOPIC = '$CONTROL/dynamic-security/v1';
/** The MQTT account the node ends sessions with, and the plugin role it has. */
export const CONTROL_ACCOUNT = 'ics';
/** An account for applications (a gateway): reads every device's topics, sends commands to them. */
export const GATEWAY_ACCOUNT = 'gateway';
/** Each device publishes and subscribes under its own identity only. */
export const DEVICE_TOPIC_PATTERN = 'devices/%u/#';

export interface Listen {
  readonly host: string;
  readonly port: number;
}

export interface MosquittoFiles {
  /** The node's CA chain (issuing CA and root): whom device certificates must chain to. */
  readonly cafile: string;
  /** The broker's own TLS certificate (and intermediates) and key. */
  readonly certfile: string;
  readonly keyfile: string;
  /** The node's CRL, PEM (the node writes ca/crl.pem and signals the broker). */
  readonly crlfile: string;
  readonly aclFile: string;
  readonly dynsecFile: string;
  readonly pidFile: string;
}

export interface MosquittoOptions {
  readonly devices: Listen;
  readonly control: Listen;
  readonly files: MosquittoFiles;
  readonly plugin: string;
  /** The user mosquitto drops to when started as root (its own default: mosquitto). */
  readonly user?: string;
}

/** HOST:PORT (IPv6 in brackets) as a listener; BAD_REQUEST otherwise. */
export function parseListen(text: string, what: string): Listen {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || !host || port < 1 || port > 65_535) throw new IcsError('BAD_REQUEST', `${what} takes HOST:PORT, e.g. 127.0.0.1:8883 (got "${text}")`);
  return { host, port };
}

/** A value on a config line: mosquitto reads to the end of the line, so a newline would start a new directive. */
function value(text: string, what: string): string {
  if (/[\r\n]/.test(text) || text.trim() !== text || text === '') throw new IcsError('BAD_REQUEST', `${what} cannot be written into mosquitto.conf: ${JSON.stringify(text)}`);
  return text;
}

function listener(listen: Listen): string {
  // mosquitto takes the bind address after the port; a name is resolved by it, an address used as is.
  const host = isIP(listen.host) === 6 ? listen.host : value(listen.host, 'the listener host');
  return `listener ${listen.port} ${host}`;
}

/** mosquitto.conf: settings shared by both listeners first (per_listener_settings false), then each listener. */
export function mosquittoConfig(o: MosquittoOptions): string {
  const f = o.files;
  return [
    '# Made by `ics broker init`. Devices: TLS with their ICS operational certificate (the',
    '# certificate\'s CN, the device URN, is the MQTT username). Control: the node and',
    '# applications, with passwords kept by the dynamic-security plugin.',
    'per_listener_settings false',
    'allow_anonymous false',
    `plugin ${value(o.plugin, 'the plugin path')}`,
    `plugin_opt_config_file ${value(f.dynsecFile, 'the dynamic-security file')}`,
    '# Clients the plugin does not know (devices) fall through to these patterns.',
    `acl_file ${value(f.aclFile, 'the ACL file')}`,
    `pid_file ${value(f.pidFile, 'the pid file')}`,
    ...(o.user ? [`user ${value(o.user, 'the user')}`] : []),
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    '',
    '# Devices',
    listener(o.devices),
    'protocol mqtt',
    `cafile ${value(f.cafile, 'the CA file')}`,
    `certfile ${value(f.certfile, 'the certificate file')}`,
    `keyfile ${value(f.keyfile, 'the key file')}`,
    'tls_version tlsv1.2',
    'require_certificate true',
    'use_identity_as_username true',
    '# Read at start and on SIGHUP; the ICS node rewrites it and signals after each revocation.',
    `crlfile ${value(f.crlfile, 'the CRL file')}`,
    '',
    '# Control: the ICS node ends revoked devices\' sessions; applications read device topics.',
    listener(o.control),
    'protocol mqtt',
    '',
  ].join('\n');
}

/** The acl_file: what a device (a client the plugin does not know) may do. */
export function aclText(): string {
  return ['# Made by `ics broker init`: a device reads and writes under its own identity only.', `pattern readwrite ${DEVICE_TOPIC_PATTERN}`, ''].join('\n');
}

/** mosquitto's dynamic-security password: PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte hash. */
function passwordFields(password: string, iterations: number): { password: string; salt: string; iterations: number } {
  const salt = randomBytes(12);
  return { password: pbkdf2Sync(password, salt, iterations, 64, 'sha512').toString('base64'), salt: salt.toString('base64'), iterations };
}

/** Iterations of a new password's hash: its cost per login, paid by the broker for each control connection. */
const PASSWORD_ITERATIONS = 10_000;

const allow = (acltype: string, topic: string) => ({ acltype, topic, priority: 0, allow: true });

/**
 * The plugin's starting configuration: nothing allowed by default, the node's control account
 * (the plugin's command topics only) and an application account that reads every device topic
 * and may send to any. mosquitto keeps this file up to date itself from then on.
 */
export function dynsecConfig(passwords: { readonly control: string; readonly gateway: string }): object {
  return {
    defaultACLAccess: { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: true },
    clients: [
      { username: CONTROL_ACCOUNT, textname: 'ICS node: ends the sessions of revoked devices', roles: [{ rolename: 'ics-control' }], ...passwordFields(passwords.control, PASSWORD_ITERATIONS) },
      { username: GATEWAY_ACCOUNT, textname: 'Applications: device telemetry and commands', roles: [{ rolename: 'device-reader' }], ...passwordFields(passwords.gateway, PASSWORD_ITERATIONS) },
    ],
    groups: [],
    roles: [
      {
        rolename: 'ics-control',
        acls: [allow('publishClientSend', `${DYNSEC_TOPIC}`), allow('publishClientReceive', `${DYNSEC_TOPIC}/#`), allow('subscribePattern', `${DYNSEC_TOPIC}/#`)],
      },
      {
        rolename: 'device-reader',
        acls: [allow('subscribePattern', 'devices/#'), allow('publishClientReceive', 'devices/#'), allow('publishClientSend', 'devices/#')],
      },
    ],
  };
}

/** A new random password for an MQTT account (kept in a 0600 file; never on a command line). */
export function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Where the plugin is installed: Debian's multiarch directories (/usr/lib/<triplet>/), then /usr/lib and /usr/local/lib. */
export async function findDynsecPlugin(): Promise<string> {
  const triplets = (await readdir('/usr/lib').catch(() => [] as string[])).filter((d) => /-linux-gnu/.test(d)).sort();
  const candidates = [...triplets.map((d) => join('/usr/lib', d)), '/usr/lib', '/usr/local/lib'].map((d) => join(d, DYNSEC_PLUGIN_FILE));
  for (const candidate of candidates) if (await access(candidate).then(() => true, () => false)) return candidate;
  throw new IcsError('NOT_FOUND', `mosquitto's dynamic-security plugin (${DYNSEC_PLUGIN_FILE}) is not installed (Debian: apt-get install mosquitto); name it with --plugin`);
}
