// The sync role in a running node (DESIGN §8): the process that holds its store's sync role
// runs the libp2p sync service; the others serve HKP, LDAP and the JSON API from the shared
// store without it, and take the role (starting sync) when its holder dies. A process that
// loses the role stops its sync service at once: another may hold the role by then. On the
// LevelDB and in-memory stores the one process always holds the role.
import { Gauge } from 'prom-client';
import type { SyncRole } from '../store/index.ts';
import type { SyncService } from '../sync/index.ts';
import type { Logger } from './logger.ts';
import type { NodeMetrics } from './metrics.ts';

export interface SyncRoleStatus {
  /** True while this process holds the sync role (and runs sync). */
  readonly held: boolean;
  /** True when other processes share the store and may hold the role instead. */
  readonly shared: boolean;
  /** When the role was last taken or lost (or, never changed, when contending began). */
  readonly since: string;
}

export interface SyncRoleComponents {
  readonly role: SyncRole;
  /** A new, unstarted sync service (one per tenure: a stopped service is not restarted). */
  readonly createService: () => SyncService;
  readonly logger: Logger;
  readonly metrics: NodeMetrics;
  /** Called after each change of the running service (started, stopped), e.g. to rewrite addresses.json. */
  readonly changed?: () => void;
}

/** What the sync listener bound, while it runs. */
export interface SyncAddresses {
  readonly peerId: string;
  readonly addresses: readonly string[];
}

/** How long a holder whose sync service would not start waits before contending again (another process may manage). */
const RESTART_AFTER_FAILURE_MS = 10_000;

export class SyncRoleRunner {
  readonly #c: SyncRoleComponents;
  #service: SyncService | undefined;
  #addresses: SyncAddresses | undefined;
  #since = new Date();
  /** Transitions one at a time, in the order the role changed. */
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  readonly #unregister: () => void;
  /** Why the last sync service did not start (cleared when one starts). */
  #lastError: unknown;
  readonly #events = { changed: (held: boolean) => this.#changed(held), failed: (error: Error) => this.#failed(error) };

  constructor(components: SyncRoleComponents) {
    this.#c = components;
    const held = () => (this.#c.role.held && this.#service ? 1 : 0);
    new Gauge({
      name: 'ics_sync_role_holder',
      help: 'Whether this process holds the sync role and runs sync (1) or another process on its database does (0)',
      registers: [components.metrics.registry],
      collect() {
        this.set(held());
      },
    });
    this.#unregister = () => components.metrics.registry.removeSingleMetric('ics_sync_role_holder');
  }

  /** The running sync service, while this process holds the role. */
  get service(): SyncService | undefined {
    return this.#service;
  }

  get addresses(): SyncAddresses | undefined {
    return this.#addresses;
  }

  status(): SyncRoleStatus {
    return { held: this.#service !== undefined, shared: this.#c.role.shared, since: this.#since.toISOString() };
  }

  /**
   * Contends for the role; when this process takes it now, resolves once sync runs, and a sync
   * service that fails to start then fails this call (the node does not start). Otherwise
   * resolves at once, sync starting whenever the role is taken later.
   */
  async start(): Promise<void> {
    await this.#c.role.start(this.#events);
    await this.#chain;
    if (this.#lastError !== undefined && !this.#service) {
      this.#stopped = true;
      clearTimeout(this.#retry);
      await this.#c.role.stop();
      this.#unregister();
      throw this.#lastError;
    }
    if (!this.#service) {
      this.#c.logger.info('sync role held by another process on the database: standing by (HKP, LDAP and the JSON API serve; sync starts if the role is taken over)');
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#c.role.stop();
    this.#chain = this.#chain.then(() => this.#stopService());
    await this.#chain;
    this.#unregister();
  }

  #changed(held: boolean): void {
    this.#since = new Date();
    this.#failures = 0;
    this.#chain = this.#chain.then(() => (held ? this.#startService() : this.#lose()));
  }

  #failed(error: Error): void {
    // Said once per outage, not at every retry.
    if (this.#failures++ === 0) this.#c.logger.warn({ err: error }, 'sync role: the database does not answer the role lock; retrying');
  }

  async #startService(): Promise<void> {
    if (this.#stopped || this.#service || !this.#c.role.held) return;
    let service: SyncService | undefined;
    try {
      service = this.#c.createService();
      this.#addresses = await service.start();
    } catch (error) {
      this.#lastError = error;
      await service?.stop().catch(() => undefined);
      this.#c.logger.error({ err: error }, 'sync role taken, but the sync service did not start: giving the role up');
      await this.#giveUpAndRetry();
      return;
    }
    if (!this.#c.role.held || this.#stopped) {
      // Lost while starting: stopped again before it reconciles anything more.
      await service.stop().catch(() => undefined);
      this.#addresses = undefined;
      return;
    }
    this.#service = service;
    this.#lastError = undefined;
    this.#c.logger.info({ peerId: this.#addresses.peerId, addresses: this.#addresses.addresses, shared: this.#c.role.shared }, 'sync role taken: sync running');
    this.#c.changed?.();
  }

  /** Lets another process take the role, and contends again later. */
  async #giveUpAndRetry(): Promise<void> {
    await this.#c.role.stop();
    if (this.#stopped || !this.#c.role.shared) return;
    this.#retry = setTimeout(() => {
      if (!this.#stopped) void this.#c.role.start(this.#events);
    }, RESTART_AFTER_FAILURE_MS);
    this.#retry.unref();
  }

  async #lose(): Promise<void> {
    if (!this.#service) return;
    this.#c.logger.info('sync role lost (its database connection failed): sync stopped; standing by to take it again');
    await this.#stopService();
  }

  async #stopService(): Promise<void> {
    const service = this.#service;
    this.#service = undefined;
    this.#addresses = undefined;
    if (!service) return;
    await service.stop().catch((error: unknown) => this.#c.logger.error({ err: error }, 'stopping the sync service failed'));
    this.#c.changed?.();
  }
}
