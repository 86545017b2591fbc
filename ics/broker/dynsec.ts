// The node's side of mosquitto's dynamic-security plugin: commands published as JSON on its
// control topic, answered on <topic>/response, matched by correlationData. One MQTT
// connection (mqtt.js, which reconnects by itself), opened at start and kept.
//
// Why the plugin at all: mosquitto checks a certificate against its CRL when a client
// connects, never again; a device already connected when its certificate is revoked stays
// connected after the SIGHUP that reloads the CRL. Disabling a plugin client disconnects
// every session with that username — the one way mosquitto 2.0 offers to end a session from
// outside.
import { connect, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { IcsError } from '../errors.ts';
import { DYNSEC_TOPIC } from './mosquitto.ts';

export interface DynsecControlOptions {
  /** mqtt://host:port of the broker's control listener. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly clientId: string;
  readonly logger: Logger;
  /** How long a command batch may wait for its answer (connecting included). */
  readonly timeoutMs?: number;
}

interface Command {
  readonly command: string;
  readonly username?: string;
}

export interface CommandAnswer {
  readonly command: string;
  readonly error?: string;
}

const DEFAULT_TIMEOUT_MS = 5000;
/** Commands per control message: a burst of revocations is a few messages, not one per device. */
const COMMANDS_PER_MESSAGE = 200;
const RESPONSE_TOPIC = `${DYNSEC_TOPIC}/response`;

interface Waiting {
  readonly answers: Map<string, CommandAnswer>;
  readonly expected: readonly string[];
  readonly done: (answers: CommandAnswer[]) => void;
}

export class DynsecControl {
  readonly #o: DynsecControlOptions;
  readonly #client: MqttClient;
  readonly #waiting = new Map<string, Waiting>();
  #subscribed = false;
  #onSubscribed: Array<() => void> = [];
  #batch = 0;
  #lastError = '';

  constructor(options: DynsecControlOptions) {
    this.#o = options;
    this.#client = connect(options.url, {
      username: options.username,
      password: options.password,
      clientId: options.clientId,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
    this.#client.on('connect', () => {
      this.#lastError = '';
      this.#client.subscribe(RESPONSE_TOPIC, (error) => {
        if (error) return this.#report(error);
        this.#subscribed = true;
        for (const resolve of this.#onSubscribed.splice(0)) resolve();
      });
    });
    this.#client.on('close', () => {
      this.#subscribed = false;
    });
    this.#client.on('error', (error) => this.#report(error));
    this.#client.on('message', (topic, payload) => {
      if (topic === RESPONSE_TOPIC) this.#answer(payload);
    });
  }

  /** Whether the control connection is up now. */
  get connected(): boolean {
    return this.#client.connected && this.#subscribed;
  }

  /**
   * Ends every session of each username: the plugin disables the client, which disconnects
   * its sessions. A username the plugin did not know (a device, authenticated by its
   * certificate) is added for that, then removed, leaving the plugin's data as it was; one it
   * knew stays disabled (its certificate was revoked). Returns the usernames it could not end.
   */
  async endSessions(usernames: readonly string[]): Promise<Array<{ username: string; error: string }>> {
    const failed: Array<{ username: string; error: string }> = [];
    for (let i = 0; i < usernames.length; i += COMMANDS_PER_MESSAGE / 2) {
      const chunk = usernames.slice(i, i + COMMANDS_PER_MESSAGE / 2);
      const answers = await this.run(chunk.flatMap((username) => [
        { command: 'createClient', username },
        { command: 'disableClient', username },
      ]));
      const added: string[] = [];
      chunk.forEach((username, j) => {
        const disabled = answers[2 * j + 1];
        if (disabled?.error) failed.push({ username, error: disabled.error });
        else if (!answers[2 * j]?.error) added.push(username);
      });
      if (added.length > 0) await this.run(added.map((username) => ({ command: 'deleteClient', username })));
    }
    return failed;
  }

  /** Sends one batch of commands; their answers in order. UNAVAILABLE when the broker does not answer in time. */
  async run(commands: readonly Command[]): Promise<CommandAnswer[]> {
    const timeoutMs = this.#o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const batch = `${this.#o.clientId}.${++this.#batch}`;
    const tagged = commands.map((c, i) => ({ ...c, correlationData: `${batch}.${i}` }));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new IcsError('UNAVAILABLE', `the broker's control listener (${this.#o.url}) did not answer within ${timeoutMs} ms${this.#lastError ? `: ${this.#lastError}` : ''}`)), timeoutMs);
    });
    try {
      await Promise.race([this.#ready(), timeout]);
      const answered = new Promise<CommandAnswer[]>((done) => {
        this.#waiting.set(batch, { answers: new Map(), expected: tagged.map((c) => c.correlationData), done });
      });
      this.#client.publish(DYNSEC_TOPIC, JSON.stringify({ commands: tagged }), { qos: 1 });
      return await Promise.race([answered, timeout]);
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(batch);
    }
  }

  async close(): Promise<void> {
    await this.#client.endAsync(true);
  }

  #ready(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.#onSubscribed.push(resolve));
  }

  #answer(payload: Buffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    const responses = (parsed as { responses?: unknown }).responses;
    if (!Array.isArray(responses)) return;
    for (const r of responses as Array<Record<string, unknown>>) {
      const correlation = typeof r.correlationData === 'string' ? r.correlationData : '';
      const waiting = this.#waiting.get(correlation.slice(0, correlation.lastIndexOf('.')));
      if (!waiting) continue; // another controller's answer, or one that came too late
      waiting.answers.set(correlation, { command: String(r.command), ...(typeof r.error === 'string' && { error: r.error }) });
      if (waiting.answers.size === waiting.expected.length) waiting.done(waiting.expected.map((c) => waiting.answers.get(c) as CommandAnswer));
    }
  }

  #report(error: Error): void {
    // mqtt.js retries every reconnectPeriod: one line per distinct failure, not one per retry.
    if (error.message === this.#lastError) return;
    this.#lastError = error.message;
    this.#o.logger.warn({ err: error, url: this.#o.url }, "the broker's control connection failed; retrying");
  }
}
