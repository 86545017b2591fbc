// Prometheus metrics of the HTTP host (prom-client): requests and latencies by route,
// records submitted through its plugins by outcome, rejections by error code, signatures not
// kept by reason, and — from the store's change notifications — every accepted change
// whatever its source (HKP, LDAP, sync peers). Metrics are found by name first, so that two
// servers sharing one registry (tests) do not register twice. The `ics_hkp_` names are
// those the HKP listener has always exported; dashboards read them.
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import type { EventLog, StoreLifecycle } from '../store/types.ts';

/** Latency buckets, seconds: the goal for a lookup is well under 10 ms. */
const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/**
 * Requests and latencies by route, method and status, counted in plain arrays on the hot path
 * and turned into Prometheus samples only when /metrics is read: prom-client's own
 * `inc` / `observe` hash their label objects on every call, a cost paid per request here.
 */
export class RouteStats {
  readonly byStatus = new Map<number, number>();
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly buckets = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  sum = 0;
  count = 0;

  constructor(
    readonly route: string,
    readonly method: string,
  ) {}

  record(status: number, seconds: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
    this.buckets[i] = (this.buckets[i] as number) + 1;
    this.sum += seconds;
    this.count += 1;
  }
}

type Sample = { value: number; labels: Record<string, string | number>; metricName?: string };

/** The two per-request metrics, exported from RouteStats (a custom prom-client metric each). */
export class HttpStats {
  readonly #slots = new Map<string, RouteStats>();

  slot(route: string, method: string): RouteStats {
    const key = `${method} ${route}`;
    let slot = this.#slots.get(key);
    if (!slot) this.#slots.set(key, (slot = new RouteStats(route, method)));
    return slot;
  }

  /** Requests answered on this listener so far, every route. */
  total(): number {
    let n = 0;
    for (const s of this.#slots.values()) n += s.count;
    return n;
  }

  metrics(): Metric[] {
    const slots = () => [...this.#slots.values()];
    const requests = {
      name: 'ics_http_requests_total',
      help: 'HTTP requests answered, by route, method and status',
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({
        name: 'ics_http_requests_total',
        help: 'HTTP requests answered, by route, method and status',
        type: 'counter',
        aggregator: 'sum',
        values: slots().flatMap((s): Sample[] =>
          [...s.byStatus].map(([status, value]) => ({ value, labels: { route: s.route, method: s.method, status } })),
        ),
      }),
    };
    const name = 'ics_http_request_duration_seconds';
    const help = 'Time from request received to response sent, by route';
    const latency = {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: slots().flatMap((s): Sample[] => {
          const labels = { route: s.route, method: s.method };
          let cumulative = 0;
          const buckets = LATENCY_BUCKETS.map((le, i): Sample => {
            cumulative += s.buckets[i] as number;
            return { value: cumulative, labels: { le, ...labels }, metricName: `${name}_bucket` };
          });
          return [
            ...buckets,
            { value: s.count, labels: { le: '+Inf', ...labels }, metricName: `${name}_bucket` },
            { value: s.sum, labels, metricName: `${name}_sum` },
            { value: s.count, labels, metricName: `${name}_count` },
          ];
        }),
      }),
    };
    return [requests, latency] as unknown as Metric[];
  }
}

/** What the write gate shows of its load (write-gate.ts). */
export interface WriteLoad {
  readonly active: number;
  readonly waiting: number;
}

/** Write gates reporting into each registry (several servers may share one in tests). */
const gatesOf = new WeakMap<Registry, Set<WriteLoad>>();

export class HttpMetrics {
  readonly registry: Registry;
  readonly http: HttpStats;
  readonly submitted: Counter<'via' | 'action'>;
  readonly rejections: Counter<'code'>;
  readonly dropped: Counter<'reason'>;
  readonly changes: Counter<'action' | 'source'>;

  constructor(registry: Registry, store: StoreLifecycle, info: { name: string; role: string; version: string }) {
    this.registry = registry;
    const registers = [registry];
    this.http = new HttpStats();
    for (const m of this.http.metrics()) {
      if (!registry.getSingleMetric((m as unknown as { name: string }).name)) registry.registerMetric(m);
    }
    this.submitted = metric(
      registry,
      'ics_hkp_records_submitted_total',
      () =>
        new Counter({
          name: 'ics_hkp_records_submitted_total',
          help: 'Records submitted over HTTP, by endpoint family (hkp, api) and outcome (inserted, updated, unchanged, rejected)',
          labelNames: ['via', 'action'],
          registers,
        }),
    );
    this.rejections = metric(
      registry,
      'ics_hkp_rejections_total',
      () => new Counter({ name: 'ics_hkp_rejections_total', help: 'Requests and submitted records refused, by error code', labelNames: ['code'], registers }),
    );
    this.dropped = metric(
      registry,
      'ics_hkp_signatures_dropped_total',
      () =>
        new Counter({
          name: 'ics_hkp_signatures_dropped_total',
          help: 'Signatures in submitted records that were not kept, by reason (unknown issuer, policy, …)',
          labelNames: ['reason'],
          registers,
        }),
    );
    this.changes = metric(
      registry,
      'ics_store_changes_total',
      () =>
        new Counter({
          name: 'ics_store_changes_total',
          help: 'Changes the store accepted (ingest counts), by action and source (cli, hkp, ldap, api, peer, import)',
          labelNames: ['action', 'source'],
          registers,
        }),
    );
    metric(
      registry,
      'ics_store_records',
      () =>
        new Gauge({
          name: 'ics_store_records',
          help: 'Records held, by kind',
          labelNames: ['kind'],
          registers,
          async collect() {
            const stats = await store.stats().catch(() => undefined);
            if (!stats) return;
            this.reset();
            for (const [kind, n] of Object.entries(stats.byKind)) this.set({ kind }, n);
          },
        }),
    );
    const node = metric(
      registry,
      'ics_node_info',
      () => new Gauge({ name: 'ics_node_info', help: 'The node serving these metrics (value 1)', labelNames: ['name', 'role', 'version'], registers }),
    );
    node.set({ name: info.name, role: info.role, version: info.version }, 1);
  }

  /** Reports `gate`'s submissions in progress and waiting (gauges) until the returned function is called. */
  watchWrites(gate: WriteLoad): () => void {
    const registry = this.registry;
    let gates = gatesOf.get(registry);
    if (!gates) gatesOf.set(registry, (gates = new Set()));
    const all = gates;
    const gauge = (name: string, help: string, value: (g: WriteLoad) => number) =>
      metric(registry, name, () =>
        new Gauge({
          name,
          help,
          registers: [registry],
          collect() {
            this.set([...all].reduce((sum, g) => sum + value(g), 0));
          },
        }),
      );
    gauge('ics_hkp_submissions_in_progress', 'Submissions (/pks/add, JSON writes) being ingested now', (g) => g.active);
    gauge('ics_hkp_submissions_waiting', 'Submissions queued for a free slot; beyond the queue they are answered 503', (g) => g.waiting);
    all.add(gate);
    return () => all.delete(gate);
  }

  /** Counts accepted changes until the returned function is called. */
  watch(store: EventLog): () => void {
    return store.subscribe((event) => this.changes.inc({ action: event.action, source: event.source }));
  }
}
