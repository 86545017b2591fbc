// The node's Prometheus registry (prom-client): made once in node/, handed to every part
// that exposes metrics (the HKP server serves it at /metrics). Parts register their own
// metrics in it under `ics_<part>_…` names; see ics/http/metrics.ts.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { CacheFigures } from '../store/index.ts';

export interface NodeMetrics {
  /** The registry every part registers in and `/metrics` serves. */
  readonly registry: Registry;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event-loop lag, GC, handles) as `ics_process_…`. Default: true. */
  readonly processMetrics?: boolean;
}

/**
 * `ics_cache_entries{cache}` and `ics_cache_bytes{cache}`: what each cache of the node holds at
 * each scrape (bytes as the cache's byte bound counts them), so that an operator sees how much
 * of the process the caches are.
 */
export function watchCaches(metrics: NodeMetrics, caches: () => Record<string, CacheFigures>): void {
  const gauge = (name: string, help: string, value: (f: CacheFigures) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['cache'],
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const [cache, figures] of Object.entries(caches())) this.set({ cache }, value(figures));
      },
    });
  gauge('ics_cache_entries', 'Entries held by each cache of the node', (f) => f.entries);
  gauge('ics_cache_bytes', 'Bytes held by each cache of the node, as its byte bound counts them (0: bounded by count only)', (f) => f.bytes);
}

export function createMetrics(options: MetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'ics_' });
  return { registry };
}
