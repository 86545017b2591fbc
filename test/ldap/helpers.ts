// Fixtures for the LDAP tests: an LDAP server over an in-memory store holding records in each
// domain of the test policy, users to bind as, and a throwaway TLS certificate.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { Ingest } from '../../ics/ingest/index.ts';
import { createLdapServer, type LdapInit, ldapInit } from '../../ics/ldap/index.ts';
import { type Authenticator, createAuthenticator, hashPassword } from '../../ics/auth/index.ts';
import type { PolicyEngine } from '../../ics/policy/index.ts';
import { armor, certify, type CodeRecord, type KeyRecord } from '../../ics/record/index.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import type { RecordStore } from '../../ics/store/types.ts';
import { requireTool } from '../helpers/tools.ts';
import { acmeDeviceId, device, firmware, minutesAgo, PEER_B, type PolicyFixture, policyFixture, siteDeviceId, testEngine } from '../policy/helpers.ts';

export const BASE = 'dc=ics,dc=example';
export const KEYS = `ou=PGP Keys,${BASE}`;
export const RECORDS = `ou=records,${BASE}`;
export const userDn = (name: string) => `cn=${name},ou=users,${BASE}`;
export const PASSWORDS = { alice: 'alice-secret', bob: 'bob-secret' } as const;

export interface Records {
  /** Public (`devices`): in use, stolen, in use and endorsed by the certifier. */
  acme: KeyRecord[];
  /** In `devices` and `system` (manufacturer and integrator). */
  site: KeyRecord;
  /** In `system` only (integrator): authenticated readers only. */
  systemOnly: KeyRecord;
  /** In `firmware`: authenticated readers only (the test policy is edited so). */
  code: CodeRecord;
}

let users: Promise<Array<{ name: string; passwordHash: string; write: boolean }>> | undefined;

/** alice may write; bob may only read. Hashed once per run (scrypt is slow on purpose). */
function testUsers() {
  users ??= (async () => [
    { name: 'alice', passwordHash: await hashPassword(PASSWORDS.alice), write: true },
    { name: 'bob', passwordHash: await hashPassword(PASSWORDS.bob), write: false },
  ])();
  return users;
}

let shared: Promise<{ f: PolicyFixture; engine: PolicyEngine; records: Records }> | undefined;

/** The policy fixture, the engine, and the records (made once per run). */
export function ldapFixture() {
  shared ??= (async () => {
    const f = await policyFixture();
    const engine = await testEngine(f, (draft) => {
      draft.firmware.read = { peers: [PEER_B], authenticated: true };
    });
    const acme = [
      await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]),
      await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'stolen' }]),
      await certify(
        await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]),
        f.certifier.privateKey,
        { role: 'certifier', metadata: { scheme: 'etsi-en-303-645' } },
        { created: minutesAgo(30) },
      ),
    ];
    const site = await device(siteDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    const systemOnly = await device(siteDeviceId(), [{ issuer: f.integrator, role: 'integrator' }]);
    const code = await firmware(f, 'acme-cam-fw', { endorsed: true });
    return { f, engine, records: { acme, site, systemOnly, code } };
  })();
  return shared;
}

export interface LdapTestNode {
  f: PolicyFixture;
  engine: PolicyEngine;
  records: Records;
  store: RecordStore;
  ingest: Ingest;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  init?: Partial<LdapInit>;
  /** Wraps the store the server reads (to count or slow down calls). */
  wrap?: (store: RecordStore) => RecordStore;
  /** Leave the store empty. */
  empty?: boolean;
  /** The metrics registry the server counts in. */
  registry?: Registry;
  /** The policy (the fixture's by default; records are ingested under it). */
  engine?: PolicyEngine;
  /** Users to bind as instead of alice and bob. */
  users?: Array<{ name: string; passwordHash: string; write: boolean; groups?: string[] }>;
  /** Wraps the authenticator the server checks binds with (to count checks). */
  wrapAuthenticator?: (authenticator: Authenticator) => Authenticator;
}

export const silent = pino({ level: 'silent' });

/** A node with the fixture records and an LDAP server on an ephemeral port. */
export async function startLdap(options: StartOptions = {}): Promise<LdapTestNode> {
  const fixture = await ldapFixture();
  const { f, records } = fixture;
  const engine = options.engine ?? fixture.engine;
  const store = await createMemoryStore();
  const ingest = new Ingest({}, { store, policy: engine, logger: silent });
  if (!options.empty) {
    for (const r of [...records.acme, records.site, records.systemOnly]) await ingest.submit(armor('publicKey', r.bytes), { source: 'cli' });
    await ingest.submit(armor('message', records.code.bytes), { source: 'cli' });
  }
  const wrapAuthenticator = options.wrapAuthenticator ?? ((a: Authenticator) => a);
  const server = createLdapServer(
    ldapInit({ baseDn: BASE, allowInsecureBind: true, sizeLimit: 100, nodeInfo: { name: 'test-node', version: '0.1.0-test' }, ...options.init }),
    {
      store: options.wrap ? options.wrap(store) : store,
      policy: () => engine,
      ingest,
      logger: silent,
      authenticator: wrapAuthenticator(createAuthenticator(options.users ?? (await testUsers()))),
      ...(options.registry && { metrics: { registry: options.registry } }),
    },
  );
  const address = await server.start();
  return {
    f,
    engine,
    records,
    store,
    ingest,
    port: address.port,
    url: address.url,
    async stop() {
      await server.stop();
      await store.close();
    },
  };
}

/** Runs a program, resolving with its exit code and output (never rejecting on a non-zero exit). */
export function run(file: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C', ...options.env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : undefined) : 0;
        if (code === undefined) reject(error);
        else resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input);
  });
}

let certificate: Promise<{ cert: string; key: string }> | undefined;

/** A self-signed certificate for localhost / 127.0.0.1, made once by openssl (the test fails without it). */
export function testCertificate(): Promise<{ cert: string; key: string }> {
  requireTool('openssl', 'openssl');
  certificate ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ics-ldap-tls-'));
    try {
      const { code, stderr } = await run('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ]);
      if (code !== 0) throw new Error(`openssl req failed (${code}): ${stderr}`);
      return { cert: await readFile(join(dir, 'cert.pem'), 'utf8'), key: await readFile(join(dir, 'key.pem'), 'utf8') };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return certificate;
}
