// Secure defaults: no shipped policy and no fresh data directory trusts a key whose secret
// key is in this repository, and the shipped deny list names every such key.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { initDataDir, NODE_ROLES } from '../../ics/node/index.ts';
import { assertNoTestKeys, loadPolicy, openPolicy, policyFromObject, publishedTestKeys, trustedTestKeys } from '../../ics/policy/index.ts';
import { exampleFingerprint } from './example-policies.ts';
import { fileErrors, rejection } from './helpers.ts';

// Split so that this file is not itself a match (nor trips a secret-key hook).
const BEGIN = `-----BEGIN PGP ${'PRIVATE KEY BLOCK'}-----`;
const END = `-----END PGP ${'PRIVATE KEY BLOCK'}-----`;

interface FoundKey {
  fingerprint: string;
  file: string;
}

/** Every private key (primary and subkeys) in an armored private key block of a tracked file. */
async function privateKeysInRepository(): Promise<{ keys: FoundKey[]; unreadable: string[] }> {
  const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean);
  const keys: FoundKey[] = [];
  const unreadable: string[] = [];
  for (const file of files) {
    // Tracked but deleted in the working tree (a move not yet committed): nothing to read.
    const text = await readFile(file, 'latin1').catch(() => undefined);
    if (text === undefined || !text.includes(BEGIN)) continue;
    let from = text.indexOf(BEGIN);
    while (from !== -1) {
      const to = text.indexOf(END, from);
      if (to === -1) {
        unreadable.push(`${file}: block without an end line`);
        break;
      }
      const block = text.slice(from, to + END.length);
      try {
        for (const key of await openpgp.readPrivateKeys({ armoredKeys: block })) {
          for (const k of [key, ...key.getSubkeys()]) keys.push({ fingerprint: k.getFingerprint(), file });
        }
      } catch (error) {
        unreadable.push(`${file}: ${(error as Error).message}`);
      }
      from = text.indexOf(BEGIN, to);
    }
  }
  return { keys, unreadable };
}

describe('policy/test-keys: published test keys', function () {
  this.timeout(60_000);
  let found: FoundKey[];

  before(async () => {
    const scan = await privateKeysInRepository();
    // A block the scan cannot read could hide a key: make it readable or remove it.
    assert.deepEqual(scan.unreadable, []);
    found = scan.keys;
  });

  it('the deny list names every private key in the repository, where it is', () => {
    // The fixtures' four example issuers and the three test vectors at least.
    assert.ok(found.length >= 7, `only ${found.length} private keys found: is the scan broken?`);
    const denied = new Map(publishedTestKeys().map((k) => [k.fingerprint, k]));
    const missing = found.filter((k) => !denied.has(k.fingerprint));
    assert.deepEqual(missing, [], 'add these to ics/policy/test-keys.deny.json');
    for (const key of found) {
      const entry = denied.get(key.fingerprint);
      assert.equal(entry?.secretKey, key.file, `${key.fingerprint}: the deny list says its secret key is elsewhere`);
    }
  });

  it('every deny-list entry is a well-formed, lower-case fingerprint, listed once', () => {
    const keys = publishedTestKeys();
    for (const k of keys) assert.match(k.fingerprint, /^[0-9a-f]{40}$/);
    assert.equal(new Set(keys.map((k) => k.fingerprint)).size, keys.length);
    assert.ok(Object.isFrozen(keys) && Object.isFrozen(keys[0]));
  });

  it('no shipped policy names one, in trust or anywhere in its text', async () => {
    const files = await readdir('policies', { recursive: true });
    assert.ok(files.some((f) => f.endsWith('.yaml')));
    for (const file of files) {
      const path = join('policies', file);
      const text = (await readFile(path, 'utf8').catch(() => '')).toLowerCase();
      for (const key of found) assert.ok(!text.includes(key.fingerprint), `${path} names ${key.fingerprint} (${key.file})`);
      if (!/\.(ya?ml|json)$/.test(file)) continue;
      const policy = await loadPolicy(path);
      assert.deepEqual(trustedTestKeys(policy), [], path);
      assertNoTestKeys(policy);
    }
  });

  it('a fresh data directory of every role trusts only the node’s own key', async () => {
    const work = await mkdtemp(join(tmpdir(), 'ics-test-keys-'));
    try {
      for (const role of NODE_ROLES) {
        const init = await initDataDir(join(work, role), { role, passphrase: 'fresh-node-passphrase' });
        const engine = await openPolicy(join(work, role, 'policy.yaml'));
        assert.deepEqual(
          engine.policy.trust.issuers.map((i) => [i.fingerprint, i.key]),
          [[init.issuerFingerprint, 'keys/issuer.asc']],
          role,
        );
        assertNoTestKeys(engine.policy);
        // No issuer keys copied in beside the node's own.
        assert.deepEqual((await readdir(join(work, role, 'keys'))).sort(), ['issuer.asc', 'issuer.secret.asc'], role);
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('assertNoTestKeys names each offending issuer, its fingerprint and where its secret key is', async () => {
    const acme = await exampleFingerprint('acme-manufacturer');
    const vector = publishedTestKeys().find((k) => k.secretKey === 'test/vectors/secret-key.asc');
    assert.ok(vector);
    const policy = policyFromObject(
      {
        version: 1,
        trust: {
          issuers: [
            // Upper case on purpose: fingerprints match whatever case the file uses.
            { name: 'acme', fingerprint: acme.toUpperCase(), roles: ['manufacturer'] },
            { name: 'own', fingerprint: 'ab'.repeat(20), roles: ['owner'] },
            { name: 'device', fingerprint: vector.fingerprint, roles: ['owner'] },
          ],
        },
        domains: [{ name: 'all', read: 'public' }],
      },
      'node/policy.yaml',
    );
    assert.deepEqual(
      trustedTestKeys(policy).map((k) => [k.path, k.issuer, k.fingerprint]),
      [
        ['/trust/issuers/0', 'acme', acme],
        ['/trust/issuers/2', 'device', vector.fingerprint],
      ],
    );
    const error = await rejection(async () => assertNoTestKeys(policy), 'CONFIG_INVALID');
    assert.deepEqual(fileErrors(error).map((e) => [e.file, e.path]), [
      ['node/policy.yaml', '/trust/issuers/0'],
      ['node/policy.yaml', '/trust/issuers/2'],
    ]);
    for (const text of [acme, vector.fingerprint, 'test/policy/fixtures/keys/acme-manufacturer.secret.asc', '"device"']) {
      assert.ok(error.message.includes(text), `message lacks ${text}: ${error.message}`);
    }
    assert.ok(error.message.includes('its secret key is published; use --allow-test-keys only for tests and demos'));
    assert.ok(!error.message.includes('abab'), 'an issuer that is not a test key is not named');
  });
});
