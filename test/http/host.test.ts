// The host apart from HKP and the JSON API: a second listener serving only the plugins it
// is given (as an EST listener will), each plugin's problems answered as it declares, the
// landing page made of what the plugins offer, and the defaults the node's config shares.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Registry } from 'prom-client';
import { DEFAULT_API_INIT } from '../../ics/api/index.ts';
import { IcsError } from '../../ics/errors.ts';
import { DEFAULT_HKP_INIT } from '../../ics/hkp/index.ts';
import { createHttpServer, DEFAULT_HTTP_INIT, type HttpPlugin, type HttpServer, httpInit, textProblem } from '../../ics/http/index.ts';
import { silent, startNode, type TestNode } from '../hkp/helpers.ts';

/** A plugin that answers one route, fails another, and has its problems written as text. */
const echoPlugin: HttpPlugin = {
  name: 'echo',
  problems: { prefix: '/echo/', write: textProblem },
  landing: '<p>echo: <code>/echo/hello</code></p>\n',
  async register(scope, host) {
    scope.get('/echo/hello', async () => ({ hello: host.init.nodeInfo.name }));
    scope.get('/echo/missing', async () => {
      throw new IcsError('NOT_FOUND', 'nothing here');
    });
  },
};

/** Another listener on the keyserver's store, with its own name, plugins and settings. */
function listenerBeside(keyserver: TestNode, name: string, plugins: HttpPlugin[], changes: Parameters<typeof httpInit>[0] = {}): HttpServer {
  return createHttpServer(
    httpInit({ ...changes, nodeInfo: { name, role: 'default', version: '0.0.0-test' } }),
    { store: keyserver.store, policy: () => keyserver.engine, ingest: keyserver.ingest, logger: silent, metrics: { registry: new Registry() } },
    plugins,
  );
}

describe('http: host', () => {
  let keyserver: TestNode;
  let second: HttpServer;
  let url: string;

  before(async () => {
    keyserver = await startNode();
    // Another listener on the same store, with its own address, name and plugins.
    second = listenerBeside(keyserver, 'second-listener', [echoPlugin]);
    ({ url } = await second.start());
  });

  after(async () => {
    await second.stop();
    await keyserver.close();
  });

  it('a second listener serves its own plugin beside the keyserver, and only that', async () => {
    assert.notEqual(url, keyserver.url);
    const hello = await fetch(`${url}/echo/hello`);
    assert.equal(hello.status, 200);
    assert.deepEqual(await hello.json(), { hello: 'second-listener' });
    for (const path of ['/pks/lookup?op=stats', '/ics/v1/status']) {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 404, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND', path);
    }
    assert.equal((await keyserver.fetch('/pks/lookup?op=stats&options=mr')).status, 200);
    assert.equal((await keyserver.fetch('/echo/hello')).status, 404);
  });

  it('answers problems under a plugin’s prefix as the plugin declares, elsewhere as JSON', async () => {
    const missing = await fetch(`${url}/echo/missing`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await missing.text(), 'NOT_FOUND: nothing here\n');
    const unknown = await fetch(`${url}/echo/unknown`);
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /^NOT_FOUND: no such endpoint: GET \/echo\/unknown\n$/);
    const elsewhere = await fetch(`${url}/other`);
    assert.equal(elsewhere.status, 404);
    assert.equal(((await elsewhere.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  it('the landing page lists what the listener’s plugins offer', async () => {
    const page = await (await fetch(`${url}/`)).text();
    assert.ok(page.includes('<p>echo: <code>/echo/hello</code></p>'), page);
    assert.ok(!page.includes('/pks/lookup'), page);
    const keyserverPage = await (await keyserver.fetch('/')).text();
    assert.ok(keyserverPage.includes('action="/pks/lookup"') && keyserverPage.includes('/ics/v1/status'), keyserverPage);
  });

  it('the host’s and plugins’ defaults are the node config’s `hkp:` defaults', () => {
    const schema = createRequire(import.meta.url)('../../schemas/config.schema.json') as {
      properties: { hkp: { properties: Record<string, { default: unknown }> } };
    };
    const configDefaults = Object.fromEntries(Object.entries(schema.properties.hkp.properties).map(([name, p]) => [name, p.default]));
    const ours: Record<string, unknown> = { ...DEFAULT_HTTP_INIT, ...DEFAULT_HKP_INIT };
    for (const [name, value] of Object.entries(configDefaults)) assert.deepEqual(ours[name], value, name);
    assert.deepEqual(DEFAULT_API_INIT, DEFAULT_HKP_INIT);
  });
});

describe('http: a handler that works longer than the idle timeout', () => {
  let keyserver: TestNode;
  let host: HttpServer;
  let url: string;
  /** A plugin whose answer takes 2.5 s of server-side waiting, with the client silent meanwhile. */
  const slowPlugin: HttpPlugin = {
    name: 'slow',
    async register(scope) {
      scope.get('/slow', async () => {
        await new Promise((resolve) => setTimeout(resolve, 2500));
        return { done: true };
      });
    },
  };

  before(async () => {
    keyserver = await startNode();
    host = listenerBeside(keyserver, 'slow', [slowPlugin], { requestTimeoutSeconds: 1 });
    ({ url } = await host.start());
  });

  after(async () => {
    await host.stop();
    await keyserver.close();
  });

  it('keeps the connection: the idle timeout guards receiving and sending, not the server at work', async () => {
    // A large submission waiting for the bulk lane is such a handler; its connection was
    // destroyed after requestTimeoutSeconds ("other side closed"), the work done for nothing.
    const res = await fetch(`${url}/slow`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { done: true });
  });
});
