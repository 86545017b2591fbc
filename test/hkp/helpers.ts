// Fixtures for the HTTP front-end tests: the node's HKP listener (the HTTP host with the HKP
// and JSON API plugins) on an ephemeral loopback port over an in-memory store, the test policy
// (test/policy/helpers.ts) and the real ingest path.
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { type ApiComponents, type ApiInit, apiPlugin, DEFAULT_API_INIT } from '../../ics/api/index.ts';
import type { Authenticator } from '../../ics/auth/index.ts';
import { DEFAULT_HKP_INIT, type HkpInit, hkpPlugin } from '../../ics/hkp/index.ts';
import { createHttpServer, DEFAULT_HTTP_INIT, type HttpComponents, type HttpInit, type HttpServer } from '../../ics/http/index.ts';
import { Ingest } from '../../ics/ingest/index.ts';
import { PolicyEngine, policyFromObject } from '../../ics/policy/index.ts';
import type { KeyRecord } from '../../ics/record/index.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import type { RecordStore } from '../../ics/store/types.ts';
import { type PolicyFixture, policyFixture, testEngine } from '../policy/helpers.ts';

export const silent = pino({ level: 'silent' });

export interface TestNode {
  readonly f: PolicyFixture;
  readonly url: string;
  readonly port: number;
  readonly store: RecordStore;
  engine: PolicyEngine;
  readonly ingest: Ingest;
  readonly server: HttpServer;
  readonly registry: Registry;
  /** fetch relative to the server. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** The HKP listener's settings as the `hkp:` config section gives them: the host's and both plugins'. */
export type HkpServerInit = HttpInit & HkpInit & ApiInit;

/** The defaults, except basic auth over loopback HTTP and a recognisable node. */
export const DEFAULT_INIT: HkpServerInit = {
  ...DEFAULT_HTTP_INIT,
  ...DEFAULT_HKP_INIT,
  ...DEFAULT_API_INIT,
  // Loopback tests send basic auth over plain HTTP; the refusal itself is tested with it off.
  allowInsecureAuth: true,
  nodeInfo: { name: 'test-node', role: 'default', version: '0.0.0-test' },
};

/** The node's HKP listener, wired as ics/node/services.ts wires it. */
export function createHkpServer(init: HkpServerInit, components: HttpComponents & ApiComponents): HttpServer {
  const { resultLimit, writesRequireAuth, ...listener } = init;
  const plugins = { resultLimit, writesRequireAuth };
  return createHttpServer(listener, components, [hkpPlugin(plugins), apiPlugin(plugins, components)]);
}

export async function startNode(
  options: { init?: Partial<HkpServerInit>; engine?: PolicyEngine; authenticator?: Authenticator; store?: RecordStore; logger?: Logger; components?: ApiComponents } = {},
): Promise<TestNode> {
  const f = await policyFixture();
  const store = options.store ?? (await createMemoryStore());
  const node = { engine: options.engine ?? (await testEngine(f)) };
  const ingest = new Ingest({}, { store, policy: { issuerRing: () => node.engine.issuerRing(), admit: (r) => node.engine.admit(r) }, logger: silent });
  const registry = new Registry();
  const server = createHkpServer(
    { ...DEFAULT_INIT, ...options.init },
    { store, policy: () => node.engine, ingest, logger: options.logger ?? silent, authenticator: options.authenticator, metrics: { registry }, ...options.components },
  );
  const address = await server.start();
  return Object.assign(node, {
    f,
    url: address.url,
    port: address.port,
    store,
    ingest,
    server,
    registry,
    fetch: (path: string, init?: RequestInit) => fetch(`${address.url}${path}`, init),
    async close() {
      await server.stop();
      await store.close();
    },
  });
}

/** A logger at `level` that keeps every line it writes, parsed, for tests to inspect. */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
  return { logger: pino({ level }, destination), lines };
}

/** A form-encoded /pks/add body, as GnuPG's dirmngr sends it. */
export function keytextForm(armored: string): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `keytext=${encodeURIComponent(armored)}`,
  };
}

/** Basic-auth header value. */
export function basic(name: string, password: string): string {
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
}

/** A fixed-table authenticator (the node's scrypt one is tested in test/node). */
export function tableAuthenticator(users: Record<string, { password: string; write: boolean; groups?: string[] }>): Authenticator {
  return {
    async authenticate(name, password) {
      const user = users[name];
      if (!user || user.password !== password) return undefined;
      return { principal: { kind: 'user', name, groups: user.groups ?? [] }, write: user.write, role: user.write ? 'operator' : 'viewer' };
    },
  };
}

/**
 * A public keyserver like policies/default.yaml: every key with a valid self-signature in
 * the public domain `public-keys`; certifications kept from the fixture's trusted issuers.
 */
export async function publicEngine(f: PolicyFixture, extraIssuers: readonly KeyRecord[] = []): Promise<PolicyEngine> {
  const policy = policyFromObject(
    {
      version: 1,
      trust: {
        issuers: [
          { name: 'acme', fingerprint: f.manufacturer.record.id, roles: ['manufacturer'] },
          { name: 'integrator', fingerprint: f.integrator.record.id, roles: ['integrator', 'maintainer'] },
          ...extraIssuers.map((r, i) => ({ name: `extra-${i}`, fingerprint: r.id, roles: ['integrator', 'maintainer'] })),
        ],
      },
      domains: [{ name: 'public-keys', select: { kinds: ['device', 'gateway', 'service', 'org', 'key'] }, accept: { requireRoles: [] }, read: 'public' }],
      sync: { peers: [] },
    },
    'public-test-policy.yaml',
  );
  return PolicyEngine.create(policy, [f.manufacturer.record, f.integrator.record, ...extraIssuers]);
}
