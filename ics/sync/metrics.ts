// Prometheus metrics of sync (prom-client), read from the service's peer status when /metrics
// is scraped: connection, per-domain state (definition mismatches among them, DESIGN §6 "reported
// on both sides: log, metrics, ics peers"), records and bytes exchanged, refusals, misbehaviour.
// Registered under `ics_sync_…` in the node's registry; found by name first, so that two
// services sharing a registry (tests) do not register twice.
import { Gauge, type Registry } from 'prom-client';
import type { DomainSyncState, PeerSyncStatus } from './types.ts';

const STATES: readonly DomainSyncState[] = ['pending', 'in-sync', 'syncing', 'definition-mismatch', 'unknown-at-peer', 'not-permitted', 'error'];

type Sources = Set<() => PeerSyncStatus[]>;
/** Services reporting into each registry (one registry may serve several in tests). */
const sourcesOf = new WeakMap<Registry, Sources>();

function gauge(registry: Registry, name: string, help: string, labelNames: string[], fill: (g: Gauge, peers: PeerSyncStatus[]) => void): void {
  if (registry.getSingleMetric(name)) return;
  const sources = sourcesOf.get(registry) as Sources;
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const source of sources) fill(this, source());
    },
  });
}

/** Registers the sync gauges in `registry`, fed by `peers` (the service's `peers()`); returns an unregister function. */
export function registerSyncMetrics(registry: Registry, peers: () => PeerSyncStatus[]): () => void {
  let sources = sourcesOf.get(registry);
  if (!sources) sourcesOf.set(registry, (sources = new Set()));
  sources.add(peers);
  const who = (p: PeerSyncStatus) => ({ peer: p.peerId, name: p.name ?? '' });
  gauge(registry, 'ics_sync_peer_connected', 'Policy peers connected now (1) or not (0)', ['peer', 'name'], (g, list) => {
    for (const p of list) if (p.known) g.set(who(p), p.connected ? 1 : 0);
  });
  gauge(registry, 'ics_sync_domain_state', 'State of each domain with each peer: 1 for the current state', ['peer', 'name', 'domain', 'state'], (g, list) => {
    for (const p of list) for (const d of p.domains) for (const state of STATES) g.set({ ...who(p), domain: d.name, state }, d.state === state ? 1 : 0);
  });
  gauge(registry, 'ics_sync_records', 'Records exchanged with each peer since start, by direction (received: stored here; sent: served; rejected: refused by ingest)', ['peer', 'name', 'direction'], (g, list) => {
    for (const p of list) {
      g.set({ ...who(p), direction: 'received' }, p.recordsReceived);
      g.set({ ...who(p), direction: 'sent' }, p.recordsSent);
      g.set({ ...who(p), direction: 'rejected' }, p.recordsRejected);
    }
  });
  gauge(registry, 'ics_sync_bytes', 'Protocol bytes exchanged with each peer since start, by direction', ['peer', 'name', 'direction'], (g, list) => {
    for (const p of list) {
      g.set({ ...who(p), direction: 'in' }, p.bytesIn);
      g.set({ ...who(p), direction: 'out' }, p.bytesOut);
    }
  });
  gauge(registry, 'ics_sync_refused_connections', 'Connections refused since start (unknown peer id, or banned), by peer id', ['peer', 'name'], (g, list) => {
    for (const p of list) if (p.refused > 0) g.set(who(p), p.refused);
  });
  gauge(registry, 'ics_sync_misbehaviour', 'Times each peer was disconnected for misbehaving since start', ['peer', 'name'], (g, list) => {
    for (const p of list) if (p.known) g.set(who(p), p.misbehaviour.count);
  });
  return () => {
    sources?.delete(peers);
  };
}
