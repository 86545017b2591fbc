// What `ics serve` does (its definition is in node-commands.ts): the one command that loads
// the whole node, front ends included.
import { parseHostPort } from '../net/address.ts';
import { DataDir, type IcsNode, loadConfig, openNode, type RunningServices, startServices } from '../node/index.ts';
import { keyLocation } from '../node/issuer-key.ts';
import { issuerKeyPath } from '../policy/index.ts';
import { init } from './node-actions.ts';
import type { GlobalOptions } from './options.ts';
import { formatServeSummary, type ServeSummary } from './summary.ts';

/** How often a serving node logs its store figures (debug level). */
const HEARTBEAT_MS = 60_000;

export interface ServeFlags extends GlobalOptions {
  init?: string;
  hkp?: string;
  ldap?: string;
  p2p?: string;
  est?: string;
  allowTestKeys?: boolean;
}

function summaryOf(node: IcsNode, services: RunningServices, records: number): ServeSummary {
  const ownKey = node.dataDir.resolve(node.config.issuer.publicKey);
  const policy = node.policy.policy;
  return {
    name: node.config.name,
    role: node.config.role,
    dataDir: node.dataDir.root,
    ...services.addresses,
    records,
    domains: node.policy.domainNames(),
    issuers: policy.trust.issuers.map((e) => ({
      name: e.name,
      fingerprint: e.fingerprint,
      roles: e.roles,
      own: e.key !== undefined && issuerKeyPath(policy, e.key) === ownKey,
    })),
    issuerKey: keyLocation(node.config.issuer.secretKey),
  };
}

export async function serve(flags: ServeFlags): Promise<void> {
  const dir = new DataDir(flags.data);
  if (flags.init && !(await dir.isInitialised())) {
    await init({ data: flags.data, role: flags.init });
  }
  for (const value of [flags.hkp, flags.ldap, flags.est]) if (value && value !== 'off') parseHostPort(value);
  await loadConfig(dir.configFile);
  // Stop signals are taken from here on, before the node opens anything: one that comes while
  // it starts (a long first start, a supervisor that stops it the moment it says it is ready)
  // stops it cleanly once it has started, instead of killing it half-way. A second one kills.
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  // A policy trusting a published test key is refused here and on every SIGHUP reload.
  // ICS_LOG_LEVEL overrides config.yaml's log.level, as for every other command.
  const logLevel = process.env.ICS_LOG_LEVEL;
  const node = await openNode(flags.data, { testKeys: flags.allowTestKeys ? 'allow' : 'refuse', ...(logLevel && { logLevel }) });
  let services: RunningServices;
  try {
    services = await startServices(node, { hkp: flags.hkp, ldap: flags.ldap, p2p: flags.p2p, est: flags.est });
  } catch (error) {
    await node.close();
    throw error;
  }
  const stats = await node.store.stats();
  node.logger.info(
    { data: dir.root, role: node.config.role, records: stats.records, domains: node.policy.domainNames(), addresses: services.addresses },
    'ics node ready',
  );
  if (process.stdout.isTTY) process.stdout.write(formatServeSummary(summaryOf(node, services, stats.records)));
  process.on('SIGUSR2', () => {
    services.sync
      ?.syncNow()
      .then((report) => node.logger.info({ report }, 'sync now: done'))
      .catch((error: unknown) => node.logger.error({ err: error }, 'sync now failed'));
  });
  // Signal handlers do not keep the event loop alive; this heartbeat does (and logs).
  const heartbeat = setInterval(() => {
    node.store.stats().then(
      (s) => node.logger.debug({ records: s.records, lastSeq: s.lastSeq }, 'heartbeat'),
      (error: unknown) => node.logger.error({ err: error }, 'store stats failed'),
    );
  }, HEARTBEAT_MS);
  // `on`, not `once`: after a first reload, a second SIGHUP would otherwise kill the node.
  const reload = () => {
    node.reloadPolicy().catch((error: unknown) => node.logger.error({ err: error }, 'policy reload failed; keeping the old policy'));
  };
  process.on('SIGHUP', reload);
  const signal = await stopSignal;
  node.logger.info({ signal }, 'stopping');
  clearInterval(heartbeat);
  // A reload that comes while the node stops has nothing left to reload.
  process.removeListener('SIGHUP', reload);
  process.on('SIGHUP', () => undefined);
  await services.stop();
  await node.close();
}
