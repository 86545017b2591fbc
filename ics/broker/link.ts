// What the node does for an MQTT broker after it revokes certificates (DESIGN §7), in this
// order, because each step needs the one before:
//   1. the new CRL is in the broker's crlfile (node/revocation.ts writes it),
//   2. the broker is told to read it again (SIGHUP to the pid in its pid file): from then on
//      it refuses new connections with a revoked certificate,
//   3. the live sessions of the revoked devices are ended (dynamic-security plugin): a device
//      that reconnects at once meets the reloaded CRL, not the old one.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { commonNameOf } from '../enrol/index.ts';
import { IcsError } from '../errors.ts';
import type { CertificateEntry } from '../store/index.ts';
import type { DynsecControl } from './dynsec.ts';

export type BrokerAction = 'signal' | 'end-session';
export type BrokerOutcome = 'ok' | 'failed';

export interface BrokerLinkOptions {
  /** The broker's pid file (mosquitto's pid_file): whom SIGHUP goes to. Absent: no signal. */
  readonly pidFile?: string;
  /** Between the signal and ending sessions: the broker reloads its CRL in its next loop turn. */
  readonly reloadDelayMs: number;
  /** Absent: sessions are not ended (new connections are still refused). */
  readonly control?: DynsecControl;
  readonly logger: Logger;
  readonly count?: (action: BrokerAction, outcome: BrokerOutcome) => void;
  readonly now?: () => number;
}

interface Revoked {
  readonly username: string;
  readonly serial: string;
  /** When the node reported the revocation (ms): a CRL begun after it lists the certificate. */
  readonly reportedAt: number;
}

/** The process name a pid must have before it is signalled: a stale pid file must not hang up another program. */
const BROKER_PROCESS = 'mosquitto';

export class BrokerLink {
  readonly #o: BrokerLinkOptions;
  #pending: Revoked[] = [];
  #chain: Promise<void> = Promise.resolve();

  constructor(options: BrokerLinkOptions) {
    this.#o = options;
  }

  /** A certificate was revoked: its holder's session ends after the next CRL reaches the broker. */
  revoked(entry: CertificateEntry): void {
    if (!this.#o.control) return;
    let username: string | undefined;
    try {
      username = commonNameOf(entry.der);
    } catch (error) {
      this.#o.logger.error({ err: error, serial: entry.serial }, 'a revoked certificate could not be read for its MQTT identity');
    }
    if (username === undefined) return; // no CN: mosquitto never let it connect (use_identity_as_username)
    this.#pending.push({ username, serial: entry.serial, reportedAt: this.#now() });
  }

  /**
   * A CRL made at `thisUpdate` is now in the broker's crlfile: signal the broker, then end the
   * sessions of the certificates revoked before it. Calls are handled one after another.
   */
  crlWritten(thisUpdate: Date): Promise<void> {
    this.#chain = this.#chain.then(() => this.#apply(thisUpdate.getTime()));
    return this.#chain;
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#o.control?.close();
  }

  async #apply(thisUpdate: number): Promise<void> {
    // Strictly before: a report in the list's own millisecond may have missed it (the next list takes it).
    const due = this.#pending.filter((r) => r.reportedAt < thisUpdate);
    this.#pending = this.#pending.filter((r) => r.reportedAt >= thisUpdate);
    if (this.#o.pidFile) {
      try {
        await signalBroker(this.#o.pidFile);
        this.#o.count?.('signal', 'ok');
      } catch (error) {
        this.#o.count?.('signal', 'failed');
        // Warn, not error: a broker started after the node (it needs the node's first CRL) is not running yet.
        this.#o.logger.warn({ err: error, pidFile: this.#o.pidFile }, 'the broker could not be told to reload its CRL');
      }
      if (due.length > 0) await new Promise((resolve) => setTimeout(resolve, this.#o.reloadDelayMs));
    }
    const control = this.#o.control;
    if (!control) return;
    const byUsername = new Map<string, Revoked[]>();
    for (const r of due) byUsername.set(r.username, [...(byUsername.get(r.username) ?? []), r]);
    const usernames = [...byUsername.keys()];
    if (usernames.length === 0) return;
    let failed: Array<{ username: string; error: string }>;
    try {
      failed = await control.endSessions(usernames);
    } catch (error) {
      failed = usernames.map((username) => ({ username, error: (error as Error).message }));
    }
    const errors = new Map(failed.map((f) => [f.username, f.error]));
    for (const username of usernames) {
      const revoked = byUsername.get(username) ?? [];
      const serials = revoked.map((r) => r.serial);
      const error = errors.get(username);
      if (error !== undefined) {
        this.#o.count?.('end-session', 'failed');
        this.#o.logger.error({ username, serials, error }, "the broker did not end a revoked device's sessions (its next connection is refused by the CRL)");
      } else {
        this.#o.count?.('end-session', 'ok');
        const ms = this.#now() - Math.min(...revoked.map((r) => r.reportedAt));
        this.#o.logger.warn({ username, serials, ms }, 'MQTT sessions of a revoked certificate ended at the broker');
      }
    }
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }
}

/** SIGHUP to the pid in `pidFile`, if that process is the broker. */
export async function signalBroker(pidFile: string): Promise<number> {
  const text = await readFile(pidFile, 'utf8').catch((cause: unknown) => {
    throw new IcsError('UNAVAILABLE', `the broker's pid file ${pidFile} cannot be read (is the broker running?)`, { cause });
  });
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new IcsError('UNAVAILABLE', `the broker's pid file ${pidFile} holds no pid`);
  const name = await readFile(`/proc/${pid}/comm`, 'utf8').then(
    (comm) => comm.trim(),
    () => undefined, // no such process, or no /proc (not Linux): kill says which
  );
  if (name !== undefined && name !== BROKER_PROCESS) throw new IcsError('UNAVAILABLE', `pid ${pid} from ${pidFile} is ${name}, not ${BROKER_PROCESS}: not signalled (a stale pid file?)`);
  try {
    process.kill(pid, 'SIGHUP');
  } catch (cause) {
    throw new IcsError('UNAVAILABLE', `the broker (pid ${pid} from ${pidFile}) could not be signalled: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
  return pid;
}
