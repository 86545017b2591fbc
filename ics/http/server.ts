// createHttpServer: one HTTP(S) listener (DESIGN §5, §9) serving the plugins it is given —
// the node's HKP listener has the HKP and JSON API plugins; another listener (EST on its own
// mutual-TLS port) is another call with its own address, TLS and plugins. Binds where
// configured, serves until stop().
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { IcsError } from '../errors.ts';
import { BulkLane } from '../net/bulk-lane.ts';
import { formatHostPort } from '../net/address.ts';
import { Access } from './access.ts';
import { buildApp } from './app.ts';
import type { HttpContext } from './context.ts';
import { checkHttpInit } from './init.ts';
import { peerCertificates } from './peer-certificates.ts';
import { STOP_GRACE_MS } from './limits.ts';
import { HttpMetrics } from './metrics.ts';
import { RecordCache } from './record-cache.ts';
import { BodyDecoder } from './submission-body.ts';
import type { HttpAddress, HttpComponents, HttpInit, HttpPlugin, HttpServer } from './types.ts';
import { WriteGate } from './write-gate.ts';
import { isLoopback } from '../net/address.ts';


export function createHttpServer(init: HttpInit, components: HttpComponents, plugins: readonly HttpPlugin[]): HttpServer {
  checkHttpInit(init);
  const logger = components.logger;
  const metrics = new HttpMetrics(components.metrics?.registry ?? new Registry(), components.store, init.nodeInfo);
  const access = new Access(components.authenticator, components.localToken);
  const cache = new RecordCache();
  let app: FastifyInstance | undefined;
  let address: HttpAddress | undefined;
  let unwatch: (() => void) | undefined;
  let unwatchWrites: (() => void) | undefined;
  let decoder: BodyDecoder | undefined;

  return {
    caches: () => cache.figures(),
    async start() {
      if (app && address) return address;
      const ctx: HttpContext = {
        init,
        components,
        logger,
        access,
        cache,
        metrics,
        writes: new WriteGate(),
        decoder: (decoder = new BodyDecoder()),
        bulk: new BulkLane(),
        startedAt: new Date(),
        peerCertificates,
      };
      const instance = await buildApp(ctx, plugins);
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
      address = { url: `${scheme}://${formatHostPort(bound.address, bound.port)}`, host: bound.address, port: bound.port };
      logger.info({ url: address.url, tls: init.tls !== undefined, plugins: plugins.map((p) => p.name) }, `${init.listener} listening`);
      if (!init.tls && init.allowInsecureAuth && !isLoopback(bound.address) && components.authenticator) {
        logger.warn(
          { url: address.url },
          `${init.listener}: allowInsecureAuth on a non-loopback address: basic-auth passwords cross the network in clear; configure tls`,
        );
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
      logger.info(`${init.listener} stopped`);
    },
  };
}
