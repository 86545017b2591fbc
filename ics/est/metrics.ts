// EST outcomes in /metrics: every request by operation and outcome (`issued`, `pending`, `served`, or the
// error code of a refusal), in the node's registry beside the host's own figures.
import { Counter, type Registry } from 'prom-client';

export type EstOperation = 'cacerts' | 'csrattrs' | 'simpleenroll' | 'simplereenroll';

const NAME = 'ics_est_requests_total';

export function estCounter(registry: Registry): Counter<'operation' | 'outcome'> {
  return (
    (registry.getSingleMetric(NAME) as Counter<'operation' | 'outcome'> | undefined) ??
    new Counter({
      name: NAME,
      help: 'EST requests by operation and outcome: issued, pending (waits for approval), served, or the error code of a refusal (nothing is issued then)',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    })
  );
}
