// The node's Prometheus registry (prom-client): made once in node/, handed to every part
// that exposes metrics (the HKP server serves it at /metrics). Parts register their own
// metrics in it under `ics_<part>_…` names; see ics/http/metrics.ts.
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface NodeMetrics {
  /** The registry every part registers in and `/metrics` serves. */
  readonly registry: Registry;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event-loop lag, GC, handles) as `ics_process_…`. Default: true. */
  readonly processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'ics_' });
  return { registry };
}
