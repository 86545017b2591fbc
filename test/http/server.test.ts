// The component's life and its failure answers: ephemeral port on 127.0.0.1, HTTPS with a
// configured certificate, start/stop/start, a taken port, invalid tuning, policy reloads
// seen at once, fixed text for 5xx with the detail in the log only, 503 when the store is
// unavailable or too many submissions are in progress.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { isIcsError } from '../../ics/errors.ts';
import { HTTP_LIMITS } from '../../ics/http/index.ts';
import type { BatchOutcome } from '../../ics/ingest/index.ts';
import { armor } from '../../ics/record/index.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import type { RecordStore } from '../../ics/store/types.ts';
import { requireTool } from '../helpers/tools.ts';
import { acmeDeviceId, device, policyFixture, testEngine } from '../policy/helpers.ts';
import { createHkpServer, DEFAULT_INIT, keytextForm, silent, startNode } from '../hkp/helpers.ts';

const exec = promisify(execFile);

/** The store, except that reading a record fails with an error no client should see. */
function brokenStore(store: RecordStore): RecordStore {
  const methods = ['get', 'getMany', 'findByKeyId', 'findByFingerprint', 'findByToken', 'listDomain', 'listKind', 'syncRange', 'changesSince', 'history', 'write', 'subscribe', 'stats', 'close'] as const;
  const wrapper = Object.fromEntries(methods.map((m) => [m, (store[m] as (...a: unknown[]) => unknown).bind(store)])) as unknown as RecordStore;
  return {
    ...wrapper,
    get: async () => {
      throw new Error('disk on fire at /var/lib/secret-path');
    },
  };
}

describe('hkp: server', () => {
  it('binds 127.0.0.1 on an ephemeral port; start is idempotent; stop, then start again', async () => {
    const node = await startNode();
    try {
      assert.match(node.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(node.port > 0);
      const again = await node.server.start();
      assert.equal(again.port, node.port);
      await node.server.stop();
      await assert.rejects(fetch(`${node.url}/ics/v1/status`));
      const restarted = await node.server.start();
      assert.equal((await fetch(`${restarted.url}/ics/v1/status`)).status, 200);
    } finally {
      await node.close();
    }
  });

  it('a taken port is UNAVAILABLE; invalid tuning is CONFIG_INVALID', async () => {
    const node = await startNode();
    try {
      const store = await createMemoryStore();
      const engine = await testEngine(node.f);
      const components = { store, policy: () => engine, ingest: node.ingest, logger: silent };
      const second = createHkpServer({ ...DEFAULT_INIT, port: node.port }, components);
      await assert.rejects(second.start(), (e: unknown) => isIcsError(e, 'UNAVAILABLE'));
      for (const bad of [{ port: 70000 }, { maxBodyBytes: 10 }, { requestTimeoutSeconds: 0 }, { resultLimit: 0 }, { host: '' }]) {
        assert.throws(() => createHkpServer({ ...DEFAULT_INIT, ...bad }, components), (e: unknown) => isIcsError(e, 'CONFIG_INVALID'));
      }
      await store.close();
    } finally {
      await node.close();
    }
  });

  it('serves HTTPS (HKPS) with the configured certificate and key', async () => {
    requireTool('openssl', 'openssl');
    const dir = await mkdtemp(join(tmpdir(), 'ics-tls-'));
    try {
      await exec('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ]);
      const cert = await readFile(join(dir, 'cert.pem'));
      const node = await startNode({ init: { tls: { cert, key: await readFile(join(dir, 'key.pem')) } } });
      try {
        assert.match(node.url, /^https:\/\/127\.0\.0\.1:\d+$/);
        const body = await new Promise<string>((resolve, reject) => {
          httpsGet(`${node.url}/ics/v1/status`, { ca: cert }, (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve(text));
          }).on('error', reject);
        });
        assert.equal((JSON.parse(body) as { http: { tls: boolean } }).http.tls, true);
      } finally {
        await node.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the policy on every request: a reload that closes a domain applies at once', async () => {
    const node = await startNode();
    try {
      const record = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
      await node.ingest.submit(record.bytes, { source: 'cli' });
      assert.equal((await node.fetch(`/ics/v1/verify/${record.id}`)).status, 200);
      node.engine = await testEngine(node.f, (d) => {
        d.devices.read = { authenticated: true };
      });
      assert.equal((await node.fetch(`/ics/v1/verify/${record.id}`)).status, 404);
    } finally {
      await node.close();
    }
  });

  describe('server-side failures', () => {
    it('5xx: fixed text to the client, the whole error in the log at error level', async () => {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const logger = pino({ level: 'debug' }, sink);
      const node = await startNode();
      const broken = brokenStore(node.store);
      const engine = node.engine;
      const server = createHkpServer(DEFAULT_INIT, { store: broken, policy: () => engine, ingest: node.ingest, logger });
      try {
        const { url } = await server.start();
        const api = await fetch(`${url}/ics/v1/verify/${'a'.repeat(40)}`);
        assert.equal(api.status, 500);
        const body = (await api.json()) as { error: { code: string; message: string } };
        assert.deepEqual(body.error, { code: 'INTERNAL', message: 'internal error' });
        const hkp = await fetch(`${url}/pks/lookup?op=get&search=0x${'a'.repeat(40)}`);
        assert.equal(hkp.status, 500);
        assert.equal(await hkp.text(), 'INTERNAL: internal error\n');
        const logged = lines.map((l) => JSON.parse(l) as { level: number; err?: { message: string } }).filter((l) => l.level === 50);
        assert.equal(logged.length, 2);
        assert.ok(logged.every((l) => l.err?.message.includes('disk on fire')));
      } finally {
        await server.stop();
        await node.close();
      }
    });

    it('a closed store: 503 with Retry-After and a fixed text', async () => {
      const node = await startNode();
      await node.store.close();
      try {
        const res = await node.fetch(`/ics/v1/verify/${'b'.repeat(40)}`);
        assert.equal(res.status, 503);
        assert.ok(res.headers.get('retry-after'));
        const body = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'UNAVAILABLE');
        assert.ok(!body.error.message.includes('closed'));
      } finally {
        await node.server.stop();
      }
    });

    it('submissions beyond the gate wait in a queue; beyond the queue: 503, then served again', async () => {
      const f = await policyFixture();
      const store = await createMemoryStore();
      const engine = await testEngine(f);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const empty: BatchOutcome = { results: [], counts: { inserted: 0, updated: 0, unchanged: 0, rejected: 0 } };
      let entered = 0;
      const stuck = {
        submit: async () => {
          throw new Error('unused');
        },
        submitBatch: async () => {
          entered++;
          await gate;
          return empty;
        },
      };
      const registry = new Registry();
      const gauge = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
      // One client sends every held submission at once: the per-address connection cap is lifted.
      const init = { ...DEFAULT_INIT, maxConnections: 1024, maxConnectionsPerAddress: 1024 };
      const server = createHkpServer(init, { store, policy: () => engine, ingest: stuck, logger: silent, metrics: { registry } });
      const { url } = await server.start();
      try {
        const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
        const form = keytextForm(armor('publicKey', record.bytes));
        const held = HTTP_LIMITS.MAX_CONCURRENT_WRITES + HTTP_LIMITS.MAX_QUEUED_WRITES;
        const pending = Array.from({ length: held }, () => fetch(`${url}/pks/add`, form));
        // Until every held submission is in the gate or its queue (the gauges /metrics shows).
        while ((await gauge('ics_hkp_submissions_waiting')) < HTTP_LIMITS.MAX_QUEUED_WRITES || entered < HTTP_LIMITS.MAX_CONCURRENT_WRITES) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(await gauge('ics_hkp_submissions_in_progress'), HTTP_LIMITS.MAX_CONCURRENT_WRITES);
        assert.equal(entered, HTTP_LIMITS.MAX_CONCURRENT_WRITES, 'only the gate’s worth is ingested at once');
        const refused = await fetch(`${url}/pks/add`, form);
        assert.equal(refused.status, 503);
        assert.equal(refused.headers.get('retry-after'), '5');
        release();
        const answers = await Promise.all(pending);
        assert.equal(entered, held, 'the queued ones were ingested in turn');
        assert.equal(await gauge('ics_hkp_submissions_waiting'), 0);
        assert.ok(answers.every((a) => a.status === 422), 'the held submissions completed (an empty batch is 422)');
        assert.equal((await fetch(`${url}/pks/add`, form)).status, 422);
      } finally {
        await server.stop();
        await store.close();
      }
    });
  });
});
