// The fastify application of one listener: the node:http(s) server with the timeouts that
// cut off slow clients, strict schema validation (ajv coerces nothing), the caller (basic
// auth) and metrics hooks, one error handler (problems as JSON, or as a plugin declares for
// its paths), the landing page, /metrics, and the plugins, each in its own scope.
import { constants } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerFactory, type onResponseHookHandler } from 'fastify';
import { IcsError } from '../errors.ts';
import { AddressSet, addressKey, ClientMetrics, clientAddress, ConnectionGuard, FailureLimiter, MAX_TRACKED_ADDRESSES, ThrottledWarning } from '../net/clients.ts';
import { isLoopback } from '../net/address.ts';
import { Access, AuthenticationRequired } from './access.ts';
import { callerOf, type HttpContext } from './context.ts';
import { readsEveryDomain } from './figures.ts';
import { AUTH_FAILURES_PER_MINUTE, KEEP_ALIVE_TIMEOUT_MS, MAX_HEADER_BYTES, MAX_PARAM_LENGTH } from './limits.ts';
import { type HttpProblem, jsonProblem, type ProblemWriter, toProblem } from './problems.ts';
import { noInputSchema } from './schemas.ts';
import type { HttpPlugin, HttpTls } from './types.ts';

/**
 * Connections over the caps per client address and in all are closed as they arrive
 * (ConnectionGuard). node's own timeouts do the cutting off: a request whose headers and body have not all
 * arrived within `requestTimeoutSeconds` is answered 408 and its connection closed, and a
 * connection idle that long in the middle of a request or response is destroyed (not while
 * a handler works: see buildApp). The
 * checking interval is node's 30 s by default, far coarser than the timeout; it is tied to it.
 */
function serverFactory(ctx: HttpContext): FastifyServerFactory {
  return (handler) => {
    const timeoutMs = ctx.init.requestTimeoutSeconds * 1000;
    const options = {
      requestTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeoutMs / 4))),
      maxHeaderSize: MAX_HEADER_BYTES,
      noDelay: true,
    };
    const tls = ctx.init.tls;
    const server = tls ? https.createServer({ ...options, cert: tls.cert, key: tls.key, ...clientCertificates(tls) }, handler) : http.createServer(options, handler);
    server.setTimeout(timeoutMs);
    const limits = {
      maxConnections: ctx.init.maxConnections,
      maxConnectionsPerAddress: ctx.init.maxConnectionsPerAddress,
      exempt: new AddressSet(ctx.init.exempt),
    };
    new ConnectionGuard(ctx.init.listener, limits, ClientMetrics.of(ctx.metrics.registry), ctx.logger).attach(server);
    return server as http.Server;
  };
}

/**
 * Mutual TLS that never fails the handshake for the client's certificate (absent, unknown
 * issuer, expired): the plugin judges it and answers with a reason. No session resumption:
 * a resumed session carries no peer chain, and the chain is what the plugin judges.
 */
function clientCertificates(tls: HttpTls): https.ServerOptions {
  if (!tls.requestCert) return {};
  return {
    requestCert: true,
    rejectUnauthorized: false,
    secureOptions: constants.SSL_OP_NO_TICKET,
    ...(tls.clientCAs !== undefined && { ca: tls.clientCAs as string | Buffer | Array<string | Buffer> }),
  };
}

/** The one way problems are answered: by the writer of the plugin whose path prefix matches, else JSON. */
function problemSender(plugins: readonly HttpPlugin[]) {
  const writers = plugins.flatMap((p): Array<{ prefix: string; write: ProblemWriter }> => (p.problems ? [p.problems] : []));
  return (request: FastifyRequest, reply: FastifyReply, problem: HttpProblem): FastifyReply => {
    reply.code(problem.status);
    if (problem.headers) reply.headers(problem.headers);
    const write = writers.find((w) => request.url.startsWith(w.prefix))?.write ?? jsonProblem;
    return write(reply, problem);
  };
}

/** The page at `/`: what each plugin offers. */
function landingPage(plugins: readonly HttpPlugin[]): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>CM4IT identity certificate server</title></head>
<body><h1>CM4IT identity certificate server</h1>
${plugins.map((p) => p.landing ?? '').join('')}</body></html>
`;
}

export async function buildApp(ctx: HttpContext, plugins: readonly HttpPlugin[]): Promise<FastifyInstance> {
  const app = Fastify({
    serverFactory: serverFactory(ctx),
    bodyLimit: ctx.init.maxBodyBytes,
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true, useDefaults: false } },
  });
  app.decorateRequest('caller', null);
  // The socket's idle timeout (serverFactory) cuts off a client that stalls while sending its
  // request or reading the answer. Once the request is in, the wait is the server's (a large
  // submission queued for the bulk lane, a slow disk): the timeout is off until the answer
  // is sent, then on again for the sending and the keep-alive that follows.
  const idleTimeoutMs = ctx.init.requestTimeoutSeconds * 1000;
  app.addHook('preHandler', (request, _reply, done) => {
    request.raw.socket?.setTimeout(0);
    done();
  });
  app.addHook('onSend', (request, _reply, payload, done) => {
    request.raw.socket?.setTimeout(idleTimeoutMs);
    done(null, payload);
  });
  // Requests per client address (@fastify/rate-limit, a fixed window per address; IPv6 per /56,
  // its default, so that one site cannot dodge the limit by rotating addresses): beyond the
  // rate, 429 with Retry-After through the error handler, counted and logged (throttled).
  // It is the first onRequest hook of the whole server (unknown URLs included), so that a
  // flood is refused before any other work — before credentials are checked above all.
  const exempt = new AddressSet(ctx.init.exempt);
  const clientMetrics = ClientMetrics.of(ctx.metrics.registry);
  const limited = clientMetrics.limited;
  const limitedLog = new ThrottledWarning(ctx.logger, 'request refused: rate limit exceeded');
  const perMinute = ctx.init.requestsPerMinute;
  const listener = ctx.init.listener;
  await app.register(rateLimit, {
    global: false,
    max: perMinute,
    timeWindow: 60_000,
    cache: MAX_TRACKED_ADDRESSES,
    allowList: (request) => exempt.has(request.ip),
    onExceeded: (request) => {
      limited.inc({ listener });
      limitedLog.warn({ listener, client: clientAddress(request.ip), limit: `${perMinute}/min` });
    },
    errorResponseBuilder: (_request, context) =>
      new IcsError('RATE_LIMITED', `more than ${context.max} requests a minute from this address; retry in ${context.after}`, {
        details: { retryAfter: Math.max(1, Math.ceil(context.ttl / 1000)) },
      }),
  });
  app.addHook('onRequest', app.rateLimit());
  // Credentials are checked only where they are sent (and only when the node has users);
  // sent in the clear they are refused unchecked, so that a guess never gets an answer.
  // Credentials not known good cost a scrypt check: at most AUTH_FAILURES_PER_MINUTE may
  // fail per client address (IPv6 per /56); past that, 429 unchecked until the minute ends.
  const failures = new FailureLimiter(AUTH_FAILURES_PER_MINUTE, 60_000, exempt);
  const throttledLog = new ThrottledWarning(ctx.logger, 'request refused: too many failed authentications');
  const insecure = ctx.init.tls === undefined && ctx.init.allowInsecureAuth !== true;
  if (ctx.access.authenticates || insecure) {
    app.addHook('onRequest', (request, _reply, done) => {
      const header = request.headers.authorization;
      if (header === undefined) {
        done();
        return;
      }
      // The local operator's token travels over loopback only, where nobody else listens.
      if (insecure && !(Access.isBearer(header) && isLoopback(request.socket.remoteAddress))) {
        done(new IcsError('BAD_REQUEST', 'credentials are not accepted over plain HTTP: use HTTPS (configure tls)'));
        return;
      }
      if (!ctx.access.authenticates) {
        done();
        return;
      }
      const known = ctx.access.known(header);
      if (known) {
        request.caller = known;
        done();
        return;
      }
      const attempt = failures.reserve(request.ip);
      if ('retryAfter' in attempt) {
        clientMetrics.authThrottled.inc({ listener });
        throttledLog.warn({ listener, client: addressKey(request.ip), limit: `${AUTH_FAILURES_PER_MINUTE} failures/min` });
        done(
          new IcsError('RATE_LIMITED', `more than ${AUTH_FAILURES_PER_MINUTE} failed authentications a minute from this address; retry in ${attempt.retryAfter} s`, {
            details: { retryAfter: attempt.retryAfter },
          }),
        );
        return;
      }
      ctx.access.caller(header).then(
        (caller) => {
          failures.release(attempt.key);
          request.caller = caller;
          done();
        },
        (error: Error) => {
          if (error instanceof AuthenticationRequired) clientMetrics.authFailures.inc({ listener });
          else failures.release(attempt.key);
          done(error);
        },
      );
    });
  }

  // Each route gets its own onResponse hook holding its metrics slot: nothing is looked up
  // or hashed per request (see metrics.ts).
  app.addHook('onRoute', (route) => {
    const methods = ([] as string[]).concat(route.method);
    const slots = new Map(methods.map((m) => [m, ctx.metrics.http.slot(route.url, m)]));
    const record: onResponseHookHandler = (request, reply, done) => {
      (slots.get(request.method) ?? ctx.metrics.http.slot(route.url, request.method)).record(reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    route.onResponse = route.onResponse ? [...([] as onResponseHookHandler[]).concat(route.onResponse), record] : [record];
  });

  const sendProblem = problemSender(plugins);
  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error);
    ctx.metrics.rejections.inc({ code: problem.code });
    const where = { method: request.method, route: request.routeOptions.url ?? request.url.split('?')[0], status: problem.status, code: problem.code };
    // Our faults at error with the stack; a client's asking for what this server does not do
    // (501) at warn, without one (a client may need updating, nothing here failed); other
    // client errors at debug.
    if (problem.fault === 'server') ctx.logger.error({ ...where, err: error }, 'request failed');
    else if (problem.status >= 500) ctx.logger.warn({ ...where, reason: problem.message }, 'request refused');
    else ctx.logger.debug({ ...where, reason: problem.message }, 'request refused');
    return sendProblem(request, reply, problem);
  });

  app.setNotFoundHandler({}, (request, reply) => {
    ctx.metrics.rejections.inc({ code: 'NOT_FOUND' });
    ctx.metrics.http.slot('unmatched', request.method).record(404, reply.elapsedTime / 1000);
    return sendProblem(request, reply, { status: 404, code: 'NOT_FOUND', fault: 'client', message: `no such endpoint: ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}` });
  });

  const landing = landingPage(plugins);
  app.get('/', { schema: noInputSchema }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(landing));

  app.get('/metrics', { schema: noInputSchema }, async (request, reply) => {
    // Figures of every domain, private ones included: unless the operator says so, only for
    // a user who may read every domain (Prometheus sends basic_auth with each scrape).
    if (ctx.init.metrics !== 'public') {
      const { principal } = callerOf(request);
      if (principal.kind === 'anonymous') throw new AuthenticationRequired('/metrics needs credentials (HTTP basic auth), or hkp.metrics: public');
      if (!readsEveryDomain(ctx.components.policy(), principal)) {
        throw new IcsError('POLICY_REJECTED', '/metrics counts the records of every domain: only for a user who may read every domain');
      }
    }
    const registry = ctx.metrics.registry;
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  // The OpenAPI document of every JSON route, made from the same schemas the routes are
  // validated with (@fastify/swagger collects them as the plugins register), so integrators can
  // generate clients. Pages (the console), HKP's text answers and /metrics are left out.
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: `ICS node ${ctx.init.nodeInfo.name}`, version: ctx.init.nodeInfo.version, description: 'JSON API and admin API of a CM4IT identity certificate server' },
      components: {
        securitySchemes: {
          basic: { type: 'http', scheme: 'basic', description: 'a local user (ics user add), over HTTPS' },
          localOperator: { type: 'http', scheme: 'bearer', description: "the local operator's token (admin.token in the data directory), from loopback" },
        },
      },
    },
    hideUntagged: false,
    transform: ({ schema, url }) => ({ schema: (OPENAPI_PREFIXES.some((prefix) => url.startsWith(prefix)) ? schema : { ...schema, hide: true }) as never, url }),
  });
  app.get('/ics/v1/openapi.json', { schema: { hide: true, querystring: noInputSchema.querystring } }, async () => app.swagger());

  for (const plugin of plugins) await app.register(async (scope) => plugin.register(scope, ctx));
  return app;
}

/** Paths the OpenAPI document describes: the JSON API and the admin API. */
const OPENAPI_PREFIXES = ['/ics/v1/'];
