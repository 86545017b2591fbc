// The reference device client (`ics enrol`): a device that holds a factory birth certificate
// gets its operational certificate over EST and keeps it current with no human touch.
//   - no operational certificate yet, or it expired: simpleenroll, authenticated by the birth
//     certificate (RFC 7030 §4.2.1) — a device offline past its certificate's end comes back
//     this way, as long as its record is still trusted;
//   - inside the renewal window: simplereenroll, authenticated by the current certificate
//     (§4.2.2), with a new key; if the CA no longer takes that certificate (revoked, unknown),
//     simpleenroll with the birth certificate;
//   - otherwise nothing: the certificate is current.
// Files in the device's directory: operational.key.pem (mode 0600, written before the
// certificate that names it; encrypted PKCS#8 when the agent has a passphrase) and
// operational.pem (the certificate, then the CA chain).
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { certificatesOf, certificatesPem, deviceRequest, deviceUrnsOf, issuedFor, type KeyAlgorithm, readCertificates, type Renewal, renewalOf } from '../enrol/index.ts';
import { IcsError, isIcsError } from '../errors.ts';
import { type EstCall, type EstCredentials, EstPending, type EstServer, estCall } from './client.ts';

export const OPERATIONAL_CERT = 'operational.pem';
export const OPERATIONAL_KEY = 'operational.key.pem';

export interface DeviceAgentOptions {
  readonly server: EstServer;
  /** The birth certificate (PEM, its chain may follow) and its private key (PKCS#8 PEM): the device's record key. */
  readonly birth: EstCredentials;
  /** Where the operational key and certificate are kept. */
  readonly dir: string;
  /** Key type of each new operational key. Default p256. */
  readonly algorithm?: KeyAlgorithm;
  /** Renew this many milliseconds before the end; default: with a third of the lifetime left. */
  readonly renewBeforeMs?: number;
  /** Protects the operational key at rest (encrypted PKCS#8, AES-256-CBC), as the birth key may be. */
  readonly passphrase?: string;
}

export type AgentAction = 'enrolled' | 'renewed' | 'current';

export interface AgentOutcome extends Renewal {
  readonly action: AgentAction;
  readonly serial: string;
  readonly urn: string;
  /** When simplereenroll was refused and the birth certificate used instead, why. */
  readonly fellBack?: string;
}

/** The CA holds the request for an operator's approval (enrol.approval: manual): ask again later. */
export interface AgentPending {
  readonly action: 'pending';
  readonly urn: string;
  readonly retryAfterSeconds: number;
  readonly message: string;
}

interface Operational {
  readonly pem: string;
  readonly key: string;
  readonly renewal: Renewal;
  readonly serial: string;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The device URN of its birth certificate: what every request of this device names. */
function urnOfBirth(birthPem: string): string {
  const [leaf] = readCertificates(birthPem, 'birth certificate');
  const urns = leaf ? deviceUrnsOf(leaf) : [];
  if (urns.length !== 1) throw new IcsError('BAD_REQUEST', `the birth certificate names ${urns.length} device URNs in its subjectAltName: one is expected`);
  return urns[0] as string;
}

/** Written beside, then renamed over: a crash leaves the old file or the new one, never half of one. */
async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.new`;
  await writeFile(temporary, text, { mode });
  await chmod(temporary, mode);
  await rename(temporary, path);
}

export class DeviceAgent {
  readonly #o: DeviceAgentOptions;
  readonly #urn: string;

  constructor(options: DeviceAgentOptions) {
    this.#o = options;
    this.#urn = urnOfBirth(options.birth.cert);
  }

  get urn(): string {
    return this.#urn;
  }

  /** The operational certificate on disk, if there is one that parses. */
  async current(): Promise<Operational | undefined> {
    const pem = await readIfExists(join(this.#o.dir, OPERATIONAL_CERT));
    const key = await readIfExists(join(this.#o.dir, OPERATIONAL_KEY));
    if (!pem || !key) return undefined;
    const [leaf] = readCertificates(pem, 'operational certificate');
    if (!leaf) return undefined;
    return { pem, key, renewal: renewalOf(leaf, this.#o.renewBeforeMs), serial: leaf.serialNumber.toLowerCase() };
  }

  /** One step of the device's life: enrol, renew, or nothing, as the certificate on disk asks. */
  async step(now = new Date()): Promise<AgentOutcome | AgentPending> {
    try {
      return await this.#step(now);
    } catch (error) {
      if (!(error instanceof EstPending)) throw error;
      return { action: 'pending', urn: this.#urn, retryAfterSeconds: error.retryAfterSeconds, message: error.message };
    }
  }

  async #step(now: Date): Promise<AgentOutcome> {
    const held = await this.current();
    if (held && now < held.renewal.renewAt && now >= held.renewal.notBefore) {
      return { action: 'current', serial: held.serial, urn: this.#urn, ...held.renewal };
    }
    if (held && now < held.renewal.notAfter) {
      try {
        return await this.#obtain('simplereenroll', { cert: held.pem, key: held.key, ...(this.#o.passphrase !== undefined && { passphrase: this.#o.passphrase }) });
      } catch (error) {
        // The CA no longer takes this certificate (revoked, not its own, not known): the birth
        // certificate still proves who the device is. Anything else (unreachable, refused by
        // policy) is the answer.
        if (!isIcsError(error, 'UNAUTHENTICATED')) throw error;
        return { ...(await this.#obtain('simpleenroll', this.#o.birth)), fellBack: error.message };
      }
    }
    return this.#obtain('simpleenroll', this.#o.birth);
  }

  async #obtain(call: Extract<EstCall, 'simpleenroll' | 'simplereenroll'>, credentials: EstCredentials): Promise<AgentOutcome> {
    const request = await deviceRequest(this.#urn, this.#o.algorithm ?? 'p256');
    const answer = await estCall(this.#o.server, call, credentials, request.der);
    const certificate = issuedFor(answer, request.privateKey);
    const chain = certificatesOf(await estCall(this.#o.server, 'cacerts'));
    await this.#save(request.privateKey, certificatesPem([certificate, ...chain]));
    return {
      action: call === 'simpleenroll' ? 'enrolled' : 'renewed',
      serial: certificate.serialNumber.toLowerCase(),
      urn: this.#urn,
      ...renewalOf(certificate, this.#o.renewBeforeMs),
    };
  }

  /** The key first: a certificate on disk always has its key beside it. */
  async #save(privateKey: KeyObject, certificatePem: string): Promise<void> {
    const passphrase = this.#o.passphrase;
    const keyPem = (passphrase ? privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) : privateKey.export({ type: 'pkcs8', format: 'pem' })) as string;
    await replaceFile(join(this.#o.dir, OPERATIONAL_KEY), keyPem, 0o600);
    await replaceFile(join(this.#o.dir, OPERATIONAL_CERT), certificatePem, 0o644);
  }
}

/** Waits between failed attempts: 30 s doubling to an hour, with jitter so a fleet does not come back at once. */
export function retryDelayMs(failures: number, random = Math.random): number {
  const base = Math.min(3_600_000, 30_000 * 2 ** Math.min(failures - 1, 7));
  return Math.round(base * (0.75 + random() * 0.5));
}

/** The longest single wait (setTimeout's limit is ~24.8 days; a day keeps clock changes from going unseen long). */
const MAX_SLEEP_MS = 86_400_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.min(ms, MAX_SLEEP_MS));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Keeps the device's certificate current until `signal` aborts: a step, then a wait until
 * the renewal window opens (or, after a failure, a growing wait), then the next step.
 */
export async function watch(
  agent: DeviceAgent,
  signal: AbortSignal,
  report: (event: AgentOutcome | AgentPending | { error: Error; retryInMs: number }) => void,
): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    let waitMs: number;
    try {
      const outcome = await agent.step();
      failures = 0;
      report(outcome);
      waitMs = outcome.action === 'pending' ? outcome.retryAfterSeconds * 1000 : Math.max(1_000, outcome.renewAt.getTime() - Date.now());
    } catch (error) {
      failures += 1;
      waitMs = retryDelayMs(failures);
      report({ error: error as Error, retryInMs: waitMs });
    }
    await sleep(waitMs, signal);
  }
}

/** The PKCS#8 key of a PEM file, checked to be a private key that opens (with `passphrase` when encrypted). */
export function privateKeyPem(text: string, what: string, passphrase?: string): string {
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') && passphrase === undefined) {
    throw new IcsError('KEY_UNUSABLE', `${what} is encrypted: give its passphrase (ICS_KEY_PASSPHRASE or --passphrase-file)`);
  }
  try {
    createPrivateKey(passphrase === undefined ? text : { key: text, format: 'pem', passphrase });
  } catch (cause) {
    throw new IcsError('KEY_UNUSABLE', `${what}: not a private key this passphrase opens (PKCS#8 PEM, as \`ics key pkcs8\` writes)`, { cause });
  }
  return text;
}
