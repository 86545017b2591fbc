// The network parts of a running node — the HTTP listener (HKP and the JSON API), LDAP,
// libp2p sync, EST (its own mutual-TLS HTTP listener, when configured) — started on the addresses of the config (or of `ics serve` flags), stopped in
// reverse order. The bound addresses are logged and written to addresses.json so that
// scripts can find them.
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import { Counter } from 'prom-client';
import { apiPlugin } from '../api/index.ts';
import { adminPlugin } from '../admin/index.ts';
import { createAuthenticator, LocalOperatorToken } from '../auth/index.ts';
import { consolePlugin } from '../console/plugin.ts';
import { hkpPlugin } from '../hkp/index.ts';
import { ANSWER_CACHE_ENTRIES, createHttpServer, type HttpServer, httpInit } from '../http/index.ts';
import { createLdapServer, type LdapServer } from '../ldap/index.ts';
import { parseHostPort } from '../net/address.ts';
import { CRL_PATH, OCSP_PATH, pkixPlugin } from '../pkix/index.ts';
import { PolicyVerdictCache } from '../policy/index.ts';
import { issuerFingerprint } from '../record/index.ts';
import { type CacheFigures, soleSyncRole } from '../store/index.ts';
import { createSyncService, loadOrCreatePeerKey, type SyncService } from '../sync/index.ts';
import { snapshotOf, writeBackup } from './backup.ts';
import { prepareEst } from './est.ts';
import { trustEditor } from './trust.ts';
import { isTokenReference } from './issuer-key.ts';
import { createMetrics, type NodeMetrics, watchCaches } from './metrics.ts';
import type { IcsNode } from './node.ts';
import { adminAuthority, type NodeRevocation, startRevocation } from './revocation.ts';
import { SyncRoleRunner } from './sync-role.ts';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

export interface ListenOverrides {
  /** HOST:PORT, or `off`. */
  readonly hkp?: string;
  readonly ldap?: string;
  /** A multiaddr, or `off`. */
  readonly p2p?: string;
  /** HOST:PORT, or `off`; absent here and in the config: no EST. */
  readonly est?: string;
}

export interface BoundAddresses {
  readonly pid: number;
  readonly startedAt: string;
  readonly hkp: string | null;
  readonly ldap: string | null;
  readonly p2p: { readonly peerId: string; readonly addresses: readonly string[] } | null;
  readonly est: string | null;
}

export interface RunningServices {
  /** What is bound now: `p2p` is null while another process on the shared store holds the sync role. */
  readonly addresses: BoundAddresses;
  /** The running sync service: absent when p2p is off or while another process holds the sync role. */
  readonly sync: SyncService | undefined;
  stop(): Promise<void>;
}

async function tlsFiles(node: IcsNode): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  const tls = node.config.tls;
  if (!tls) return undefined;
  return { cert: await readFile(node.dataDir.resolve(tls.cert)), key: await readFile(node.dataDir.resolve(tls.key)) };
}

/** The HKP listener's URL as a status base, unless it listens on every address (no one URL reaches it from everywhere). */
function ownStatusBase(url: string): string | undefined {
  const host = new URL(url).hostname;
  return host === '0.0.0.0' || host === '[::]' ? undefined : url.replace(/\/+$/, '');
}

/** The current CRL as the pkix plugin serves it. */
function crlOf(revocation: NodeRevocation): { der: Uint8Array; nextUpdate: Date | undefined } | undefined {
  const der = revocation.crl.der;
  return der && { der, nextUpdate: revocation.crl.nextUpdate };
}

/** ics_log_witness_total{event}: checkpoints of peers cosigned, split views found, cosignatures received kept or refused. */
function witnessCounter(metrics: NodeMetrics): (event: string) => void {
  const counter = new Counter({
    name: 'ics_log_witness_total',
    help: "Transparency-log witnessing: cosigned (a peer's checkpoint, consistent with the last one seen), split-view (an inconsistent one: evidence kept, the domain stopped with that peer), cosignature-kept / cosignature-refused (peers' cosignatures of this node's checkpoints)",
    labelNames: ['event'],
    registers: [metrics.registry],
  });
  return (event) => counter.inc({ event });
}

export async function startServices(node: IcsNode, overrides: ListenOverrides = {}): Promise<RunningServices> {
  const listen = { ...node.config.listen, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  // An issuer key in a token is opened before anything listens: a missing binding, a wrong
  // PIN or a token that holds another key stops the start with its clear error.
  if (isTokenReference(node.config.issuer.secretKey)) {
    const issuer = await node.issuerKey();
    node.logger.info({ issuer: issuerFingerprint(issuer), key: 'location' in issuer ? issuer.location : 'file' }, 'node issuer key in a PKCS#11 token');
  }
  const policy = () => node.policy;
  // One verdict cache for every front end that answers verdicts (JSON API, LDAP entries):
  // keyed by record digest and policy generation, so a reload or an issuer change is seen at once.
  const verdicts = new PolicyVerdictCache(ANSWER_CACHE_ENTRIES);
  const authenticator = createAuthenticator(node.config.auth.users);
  const metrics = createMetrics();
  const tls = await tlsFiles(node);
  const stops: Array<() => Promise<void>> = [];
  /** Each running part's caches, prefixed with the part's name. */
  const cacheSources: Array<[string, () => Record<string, CacheFigures>]> = [
    ['store', () => node.store.caches?.() ?? {}],
    ['verdicts', () => ({ '': { entries: verdicts.size, bytes: 0 } })],
  ];
  watchCaches(metrics, () =>
    Object.fromEntries(cacheSources.flatMap(([part, figures]) => Object.entries(figures()).map(([name, f]) => [name ? `${part}-${name}` : part, f]))),
  );
  let syncRole: SyncRoleRunner | undefined;
  const sync = (): SyncService | undefined => syncRole?.service;
  /** addresses.json is first written once every listener runs; afterwards on each sync role change. */
  let written = false;
  const writeAddresses = () => writeFile(node.dataDir.addressesFile, `${JSON.stringify(boundNow(), null, 2)}\n`);
  const startedAt = new Date().toISOString();
  const boundNow = (): BoundAddresses => ({ pid: process.pid, startedAt, ...addresses });
  const addresses: { hkp: string | null; ldap: string | null; p2p: BoundAddresses['p2p']; est: string | null } = { hkp: null, ldap: null, p2p: null, est: null };
  const nodeInfo = { name: node.config.name, role: node.config.role, version: VERSION };
  // Before any listener: the first CRL exists before /pki/crl is served, and revocations made
  // while the node was down are caught by the watcher's first sweep.
  const revocation = await startRevocation(node, metrics);
  if (revocation) stops.push(() => revocation.stop());
  // Where relying parties ask about a certificate: configured, or the HKP listener once bound.
  let statusBase = node.config.est.statusUrl?.replace(/\/+$/, '');
  const statusUrls = () => (revocation && statusBase ? { crl: `${statusBase}${CRL_PATH}`, ocsp: `${statusBase}${OCSP_PATH}` } : undefined);
  // Checked and unlocked before any listener starts: a node that cannot serve EST fails at once.
  let est: HttpServer | undefined;
  try {
    est =
      listen.est === undefined || listen.est === 'off'
        ? undefined
        : await prepareEst(node, listen.est, { metrics, verdicts, authenticator, nodeInfo, statusUrls, ...(revocation && { onRevoked: revocation.revoked }) });
  } catch (error) {
    await revocation?.stop();
    throw error;
  }
  try {
    if (listen.p2p !== 'off') {
      const key = await loadOrCreatePeerKey(node.dataDir.resolve(node.config.sync.keyFile));
      const p2p = listen.p2p;
      // Registered once: a process that loses the role and takes it again makes a second service.
      const witnessCount = witnessCounter(metrics);
      const runner = new SyncRoleRunner({
        // Of the processes sharing the store, the one holding the role runs sync (sync-role.ts).
        role: node.store.syncRole?.() ?? soleSyncRole(),
        createService: () =>
          createSyncService(
            { listen: p2p, privateKey: key.privateKey, ...node.config.sync, exempt: node.config.clientLimits.exempt },
            {
              store: node.store,
              policy,
              ingest: node.ingest,
              logger: node.logger.child({ component: 'sync' }),
              metrics,
              transparency: {
                log: node.log,
                signer: () => node.checkpointSigner(),
                witness: () => node.witness(),
                evidence: node.witnessFiles,
                count: witnessCount,
              },
            },
          ),
        logger: node.logger.child({ component: 'sync-role' }),
        metrics,
        changed: () => {
          addresses.p2p = runner.addresses ?? null;
          if (written) void writeAddresses().catch((error: unknown) => node.logger.error({ err: error }, 'writing addresses.json failed'));
        },
      });
      await runner.start();
      syncRole = runner;
      addresses.p2p = runner.addresses ?? null;
      stops.push(() => runner.stop());
    }
    if (listen.hkp !== 'off') {
      const adminComponents = {
        issuerKey: () => node.issuerKey(),
        reloadPolicy: () => node.reloadPolicy(),
        sync,
        backup: (out: Writable, options: { includePassphrase: boolean }) => writeBackup(node.dataDir, node.config, snapshotOf(node.store), out, options),
        ...(revocation && { certificateAuthority: adminAuthority(node, revocation) }),
        trust: trustEditor(node),
      };
      // The local operator's token (admin.token): the CLI reaches this listener's admin API with it.
      const localToken = await LocalOperatorToken.create(node.dataDir.adminTokenFile);
      stops.push(() => localToken.remove());
      // The `hkp:` config section tunes the listener and both plugins on it.
      const { resultLimit, writesRequireAuth, ...listener } = node.config.hkp;
      const hkp: HttpServer = createHttpServer(
        httpInit({
          ...parseHostPort(listen.hkp),
          ...(tls && { tls }),
          ...listener,
          exempt: node.config.clientLimits.exempt,
          nodeInfo: { name: node.config.name, role: node.config.role, version: VERSION },
        }),
        { store: node.store, policy, ingest: node.ingest, logger: node.logger.child({ component: 'hkp' }), authenticator, localToken, metrics },
        [
          hkpPlugin({ resultLimit, writesRequireAuth }),
          apiPlugin({ resultLimit, writesRequireAuth }, { statusSections: async () => ({ peers: sync()?.peers() ?? [], ...(syncRole && { syncRole: syncRole.status() }) }), verdicts, log: { log: node.log, signer: () => node.checkpointSigner() } }),
          adminPlugin(adminComponents),
          consolePlugin({ ...adminComponents, node: { name: node.config.name, role: node.config.role }, verdicts }),
          ...(revocation ? [pkixPlugin({ crl: () => crlOf(revocation), ocsp: (request) => revocation.ocsp.respond(request) })] : []),
        ],
      );
      addresses.hkp = (await hkp.start()).url;
      statusBase ??= ownStatusBase(addresses.hkp);
      cacheSources.push(['hkp', () => hkp.caches()]);
      stops.push(() => hkp.stop());
    }
    if (listen.ldap !== 'off') {
      const ldap: LdapServer = createLdapServer(
        {
          ...parseHostPort(listen.ldap),
          ...(tls && { tls }),
          ...node.config.ldap,
          exempt: node.config.clientLimits.exempt,
          nodeInfo: { name: node.config.name, version: VERSION },
        },
        { store: node.store, policy, ingest: node.ingest, logger: node.logger.child({ component: 'ldap' }), authenticator, metrics, verdicts },
      );
      addresses.ldap = (await ldap.start()).url;
      cacheSources.push(['ldap', () => ldap.caches()]);
      stops.push(() => ldap.stop());
    }
    if (est) {
      const running = est;
      addresses.est = (await running.start()).url;
      cacheSources.push(['est', () => running.caches()]);
      stops.push(() => running.stop());
    }
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
  await writeAddresses();
  written = true;
  return {
    get addresses() {
      return boundNow();
    },
    get sync() {
      return sync();
    },
    async stop() {
      for (const stop of stops.reverse()) await stop().catch((error: unknown) => node.logger.error({ err: error }, 'stopping a listener failed'));
    },
  };
}
