// createHkpServer: the HKP keyserver and ICS JSON API on one HTTP(S) listener (DESIGN §5).
// Binds where configured (127.0.0.1 by default in the node config), serves until stop().
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { IcsError } from '../errors.ts';
import { BulkLane } from '../net/bulk-lane.ts';
import { AddressSet } from '../net/clients.ts';
import { Access } from './access.ts';
import { buildApp } from './app.ts';
import { type HkpContext, WriteGate } from './context.ts';
import { STOP_GRACE_MS } from './limits.ts';
import { HkpMetrics } from './metrics.ts';
import { BodyDecoder } from './submission-body.ts';
import { Finder, RecordCache } from './search.ts';
import type { HkpAddress, HkpComponents, HkpInit, HkpServer } from './types.ts';
import { VerdictCache } from './verdicts.ts';

function checkInit(init: HkpInit): void {
  const problems: string[] = [];
  if (typeof init.host !== 'string' || init.host.length === 0) problems.push('host must be a non-empty string');
  if (!Number.isInteger(init.port) || init.port < 0 || init.port > 65535) problems.push('port must be an integer 0..65535');
  if (!Number.isInteger(init.maxBodyBytes) || init.maxBodyBytes < 1024) problems.push('maxBodyBytes must be an integer ≥ 1024');
  if (!Number.isInteger(init.requestTimeoutSeconds) || init.requestTimeoutSeconds < 1) problems.push('requestTimeoutSeconds must be an integer ≥ 1');
  if (!Number.isInteger(init.resultLimit) || init.resultLimit < 1) problems.push('resultLimit must be an integer ≥ 1');
  if (init.tls && (!init.tls.cert || !init.tls.key)) problems.push('tls needs both cert and key');
  for (const key of ['maxConnections', 'maxConnectionsPerAddress', 'requestsPerMinute'] as const) {
    const value = init[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) problems.push(`${key} must be an integer ≥ 1`);
  }
  if (init.exempt !== undefined) new AddressSet(init.exempt); // throws CONFIG_INVALID naming the bad entry
  if (problems.length > 0) throw new IcsError('CONFIG_INVALID', `hkp: ${problems.join('; ')}`, { details: { errors: problems } });
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

export function createHkpServer(init: HkpInit, components: HkpComponents): HkpServer {
  checkInit(init);
  const logger = components.logger;
  const metrics = new HkpMetrics(components.metrics?.registry ?? new Registry(), components.store, init.nodeInfo);
  const access = new Access(components.authenticator);
  const cache = new RecordCache();
  const verdicts = new VerdictCache(cache);
  let app: FastifyInstance | undefined;
  let address: HkpAddress | undefined;
  let unwatch: (() => void) | undefined;
  let unwatchWrites: (() => void) | undefined;
  let decoder: BodyDecoder | undefined;

  return {
    async start() {
      if (app && address) return address;
      const ctx: HkpContext = {
        init,
        components,
        logger,
        access,
        cache,
        finder: new Finder(components.store, access, cache),
        verdicts,
        metrics,
        writes: new WriteGate(),
        decoder: (decoder = new BodyDecoder()),
        bulk: new BulkLane(),
        startedAt: new Date(),
      };
      const instance = await buildApp(ctx);
      try {
        await instance.listen({ host: init.host, port: init.port });
      } catch (cause) {
        await instance.close().catch(() => undefined);
        throw new IcsError('UNAVAILABLE', `cannot listen on ${init.host}:${init.port}: ${(cause as Error).message}`, { cause });
      }
      app = instance;
      unwatch = metrics.watch(components.store);
      unwatchWrites = metrics.watchWrites(ctx.writes);
      const bound = instance.server.address() as AddressInfo;
      const scheme = init.tls ? 'https' : 'http';
      const hostPart = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
      address = { url: `${scheme}://${hostPart}:${bound.port}`, host: bound.address, port: bound.port };
      logger.info({ url: address.url, tls: init.tls !== undefined, writesRequireAuth: init.writesRequireAuth }, 'hkp listening');
      if (!init.tls && init.allowInsecureAuth === true && !isLoopback(bound.address) && components.authenticator) {
        logger.warn({ url: address.url }, 'hkp: allowInsecureAuth on a non-loopback address: basic-auth passwords cross the network in clear; configure tls');
      }
      return address;
    },

    async stop() {
      const instance = app;
      app = undefined;
      address = undefined;
      unwatch?.();
      unwatch = undefined;
      unwatchWrites?.();
      unwatchWrites = undefined;
      if (!instance) return;
      // In-progress requests get STOP_GRACE_MS to finish; then every connection is closed.
      const timer = setTimeout(() => (instance.server as { closeAllConnections?: () => void }).closeAllConnections?.(), STOP_GRACE_MS);
      timer.unref();
      try {
        await instance.close();
      } finally {
        clearTimeout(timer);
        await decoder?.close();
        decoder = undefined;
      }
      logger.info('hkp stopped');
    },
  };
}
