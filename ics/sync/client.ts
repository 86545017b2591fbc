// The pulling side (docs/sync-protocol.md "Range-based set reconciliation", "Fetching",
// "Announcements and schedule"): per peer, one run at a time reconciles each pulled domain that
// is due on one handshaken stream, queues the needs on the peer's fetcher (whose records go
// through the ingest path), announces the haves to a peer this node pushes to, and sets when
// the domain is due again.
import type { Logger } from 'pino';
import { IcsError } from '../errors.ts';
import type { SyncSet } from '../store/types.ts';
import { DomainFlag, ErrorCode, errorName, MessageType, ProtocolError, type Range } from './codec.ts';
import { MESSAGE_SLACK } from './consts.ts';
import { type Handshake, isHandshakeProblem, type Session, SyncFailure } from './handshake.ts';
import type { PeerState } from './peer.ts';
import { digestPrefix, Reconciler, storeView } from './reconcile.ts';
import type { PeerRegistry } from './registry.ts';
import type { Settings } from './settings.ts';
import type { DomainSyncReport, DomainSyncState, PeerSyncReport, SyncReport, SyncTransparency } from './types.ts';
import type { LogWitnessing } from './witnessing.ts';

/** The peer showed a split view of its log of the domain (the reason is the message). */
class SplitView extends Error {
  override readonly name = 'SplitView';
}

/** A domain whose last reconciliation failed is tried again after this long at most. */
const RETRY_MS = 30_000;

const zeroReport = (name: string, state: DomainSyncState, error?: string): DomainSyncReport => ({
  name,
  state,
  rounds: 0,
  haves: 0,
  needs: 0,
  fetched: 0,
  inserted: 0,
  updated: 0,
  unchanged: 0,
  rejected: 0,
  bytesSent: 0,
  bytesReceived: 0,
  ms: 0,
  ...(error && { error }),
});

export interface ReconcileClientComponents {
  readonly settings: Settings;
  readonly store: SyncSet;
  readonly log: Logger;
  readonly registry: PeerRegistry;
  readonly handshake: Pick<Handshake, 'open' | 'setState'>;
  /** This node's peer id (decides which side of a two-way domain reconciles on schedule). */
  readonly selfId: () => string;
  /** The peers' logs witnessed before each pulled domain is reconciled; split views found stop it. */
  readonly witnessing?: { readonly peers: LogWitnessing; readonly evidence: Pick<SyncTransparency['evidence'], 'has'> };
}

export class ReconcileClient {
  readonly #c: ReconcileClientComponents;

  constructor(components: ReconcileClientComponents) {
    this.#c = components;
  }

  /** A pulled domain of the peer is due for reconciliation. */
  due(peer: PeerState, now: number): boolean {
    return (peer.entry?.pull ?? []).some((name) => peer.domain(name).due <= now);
  }

  /** Reconciles every domain pulled from `peerId` (all policy peers that pull when absent) now. */
  async syncNow(peerId?: string): Promise<SyncReport> {
    const { registry } = this.#c;
    let targets: PeerState[];
    if (peerId === undefined) targets = [...registry.known()].filter((p) => (p.entry?.pull.length ?? 0) > 0);
    else {
      const peer = registry.get(peerId);
      if (!peer) throw new IcsError('NOT_FOUND', `no sync peer ${peerId} in the policy`, { details: { peerId } });
      targets = [peer];
    }
    const peers = await Promise.all(targets.map((peer) => this.run(peer, true)));
    return { peers };
  }

  /**
   * One run with the peer: the domains that are due, or all of them when forced. A scheduled
   * run does nothing while another runs; a forced one waits for it.
   */
  async run(peer: PeerState, force: boolean): Promise<PeerSyncReport> {
    while (peer.running) {
      if (!force) return { peerId: peer.peerId, name: peer.name, ok: true, domains: [] };
      await peer.running.catch(() => undefined);
    }
    const run = this.#reconcilePeer(peer, force);
    peer.running = run;
    try {
      return await run;
    } finally {
      if (peer.running === run) peer.running = undefined;
    }
  }

  /** Scheduled reconciliation of a two-way domain runs on one side: the smaller peer id (the other falls back). */
  #defers(peer: PeerState, name: string, now: number): boolean {
    const d = peer.domain(name);
    const both = DomainFlag.pull | DomainFlag.push;
    const twoWay = peer.pulls(name) && peer.pushes(name) && (d.remoteFlags & both) === both;
    if (!twoWay || this.#c.selfId() < peer.peerId) return false;
    const interval = (peer.entry?.intervalSeconds ?? 60) * 1000;
    return now - Math.max(d.lastServed, peer.connectedAt) < 2 * interval;
  }

  async #reconcilePeer(peer: PeerState, force: boolean): Promise<PeerSyncReport> {
    const { registry } = this.#c;
    const entry = peer.entry;
    const base = { peerId: peer.peerId, name: peer.name };
    if (!entry) return { ...base, ok: false, error: 'not a peer in the policy', domains: [] };
    const interval = entry.intervalSeconds * 1000;
    const pulls = entry.pull.filter((name) => registry.localDigest(name) !== undefined);
    let session: Session;
    try {
      session = await this.#c.handshake.open(peer);
    } catch (error) {
      const message = `cannot reach the peer: ${(error as Error).message}`;
      for (const name of pulls) peer.domain(name).due = Date.now() + Math.min(interval, RETRY_MS);
      if (!(error instanceof ProtocolError)) registry.failed(peer, message);
      return { ...base, ok: false, error: message, domains: [] };
    }
    const reports: DomainSyncReport[] = [];
    try {
      for (const name of pulls) {
        const d = peer.domain(name);
        const now = Date.now();
        if (!force && (d.due > now || this.#defers(peer, name, now))) {
          if (d.due <= now) d.due = now + interval;
          continue;
        }
        if (isHandshakeProblem(d.state)) {
          d.due = now + interval;
          reports.push(zeroReport(name, d.state, d.lastError));
          continue;
        }
        // A split view of this peer's log stops the domain until an operator removes the evidence.
        if (await this.#c.witnessing?.evidence.has(peer.peerId, name)) {
          d.state = 'split-view';
          d.due = now + interval;
          reports.push(zeroReport(name, d.state, d.lastError ?? 'split view of the peer’s log (evidence kept in log/evidence/)'));
          continue;
        }
        reports.push(await this.#reconcileDomain(peer, session, name));
        d.due = Date.now() + (d.state === 'in-sync' ? interval : Math.min(interval, RETRY_MS));
        if (!registry.reachable(peer)) break;
      }
    } finally {
      await session.channel.close();
    }
    const ok = reports.every((r) => r.error === undefined);
    if (ok && reports.length > 0 && reports.length === pulls.length) peer.lastSync = new Date();
    return { ...base, ok, ...(!ok && { error: reports.find((r) => r.error)?.error }), domains: reports };
  }

  async #reconcileDomain(peer: PeerState, session: Session, name: string): Promise<DomainSyncReport> {
    const { registry } = this.#c;
    const started = performance.now();
    const d = peer.domain(name);
    d.state = 'syncing';
    const fetcher = registry.fetcher(peer);
    const before = { ...fetcher.counts(name) };
    const bytes = { ...peer.bytes };
    const { limits } = this.#c.settings;
    const timeout = limits.requestTimeoutMs;
    const reconciler = new Reconciler(storeView(this.#c.store, name), 'initiator', { maxBytes: session.limits.maxMessageBytes - MESSAGE_SLACK });
    const push = registry.mayPush(peer, name);
    let rounds = 0;
    let haves = 0;
    let needs = 0;
    let error: string | undefined;
    try {
      // The peer's log first: nothing is taken from a peer that shows a history inconsistent with what was witnessed.
      const splitView = await this.#c.witnessing?.peers.witnessPeer(peer, session.channel, name);
      if (splitView) throw new SplitView(splitView);
      let ranges: Range[] | undefined = await reconciler.initiate();
      while (ranges) {
        if (++rounds > limits.maxRounds) throw new ProtocolError(`reconciliation did not end within ${limits.maxRounds} rounds`);
        await session.channel.send({ type: MessageType.reconcile, domain: name, ranges }, timeout);
        const reply = await session.channel.receive(timeout);
        if (reply.type === MessageType.error) {
          const state: DomainSyncState =
            reply.code === ErrorCode.notPermitted ? 'not-permitted' : reply.code === ErrorCode.mismatch ? 'definition-mismatch' : reply.code === ErrorCode.unknownDomain ? 'unknown-at-peer' : 'error';
          throw new SyncFailure(`peer refused RECONCILE: ${errorName(reply.code)} ${reply.text}`, state);
        }
        if (reply.type !== MessageType.reconcileReply) throw new ProtocolError('expected RECONCILE_REPLY');
        const outcome = await reconciler.process(reply.ranges);
        this.#c.log.debug({ peer: peer.peerId, domain: name, round: rounds, in: reply.ranges.length, out: outcome.ranges?.length ?? 0, needs: outcome.needs.length, haves: outcome.haves.length, ms: Math.round(performance.now() - started) }, 'reconciliation round');
        needs += outcome.needs.length;
        haves += outcome.haves.length;
        if (outcome.haves.length > 0 && push) registry.announcer(peer).add(name, outcome.haves.map((h) => ({ id: h.id, prefix: digestPrefix(h.digest) })));
        if (outcome.needs.length > 0) {
          fetcher.enqueue(name, outcome.needs);
          await fetcher.room();
        }
        ranges = outcome.ranges;
      }
      this.#c.log.debug({ peer: peer.peerId, domain: name, rounds, ms: Math.round(performance.now() - started) }, 'reconciliation done, waiting for fetches');
      await fetcher.idle();
      d.lastReconciled = new Date();
      if (fetcher.counts(name).failed > before.failed) {
        // What could not be fetched is tried again at the next reconciliation.
        error = d.lastError ?? 'fetching failed';
        d.state = 'error';
      } else {
        d.state = 'in-sync';
        d.lastError = undefined;
      }
    } catch (e) {
      error = (e as Error).message;
      if (e instanceof ProtocolError) {
        registry.misbehaved(peer, e.message);
        d.state = 'error';
      } else if (e instanceof SplitView) {
        d.state = 'split-view';
      } else if (e instanceof SyncFailure) {
        if (e.state === 'error') registry.failed(peer, error, name);
        else this.#c.handshake.setState(peer, name, e.state);
        d.state = e.state;
      } else {
        registry.failed(peer, `reconciliation of ${name} failed: ${error}`, name);
        d.state = 'error';
      }
      d.lastError = error;
    }
    const after = fetcher.counts(name);
    const report: DomainSyncReport = {
      name,
      state: d.state,
      rounds,
      haves,
      needs,
      fetched: after.fetched - before.fetched,
      inserted: after.inserted - before.inserted,
      updated: after.updated - before.updated,
      unchanged: after.unchanged - before.unchanged,
      rejected: after.rejected - before.rejected,
      bytesSent: peer.bytes.out - bytes.out,
      bytesReceived: peer.bytes.in - bytes.in,
      ms: performance.now() - started,
      ...(error !== undefined && { error }),
    };
    const { name: _, state, ...figures } = report;
    this.#c.log[haves + needs > 0 ? 'info' : 'debug']({ peer: peer.peerId, name: peer.name, domain: name, state, ...figures, ms: Math.round(report.ms) }, 'reconciled');
    return report;
  }
}
