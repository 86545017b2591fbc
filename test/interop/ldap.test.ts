// Interoperability of the LDAP front end with real clients: OpenLDAP's ldapsearch (Debian
// `ldap-utils`) over the ICS object class with compound filters and paging, and GnuPG 2.2's
// dirmngr (`gpg --keyserver ldap://…`) receiving, searching and sending keys (with a bind DN
// and password), against a node on an ephemeral port. Results are compared with what the
// store holds for the same records: the bytes HKP and the JSON API serve. Each gpg run has
// its own throwaway GNUPGHOME; its agent and dirmngr are killed afterwards.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { armor, armorPrivateKey, filterSignatures, type KeyRecord, parseKeyRecord, reviveRecord } from '../../ics/record/index.ts';
import { BASE, KEYS, type LdapTestNode, PASSWORDS, RECORDS, run, startLdap, userDn } from '../ldap/helpers.ts';
import { requireTool } from '../helpers/tools.ts';

const LDAPSEARCH = process.env.ICS_TEST_LDAPSEARCH ?? 'ldapsearch';
const GPG = process.env.ICS_TEST_GPG ?? 'gpg';
const GPGCONF = process.env.ICS_TEST_GPGCONF ?? 'gpgconf';

type LdifEntry = Map<string, string[]>;

/** Parses ldapsearch's LDIF (RFC 2849: folded lines, `::` base64 values); attribute names lower-cased. */
function parseLdif(text: string): LdifEntry[] {
  const unfolded = text.replace(/\n /g, '');
  const entries: LdifEntry[] = [];
  let current: LdifEntry | undefined;
  for (const line of unfolded.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line.trim() === '') {
      if (current) entries.push(current);
      current = undefined;
      continue;
    }
    const m = /^([^:]+)(::?) ?(.*)$/.exec(line);
    if (!m) continue;
    const [, name, sep, raw] = m;
    const value = sep === '::' ? Buffer.from(raw as string, 'base64').toString('utf8') : (raw as string);
    current ??= new Map();
    const key = (name as string).toLowerCase();
    current.set(key, [...(current.get(key) ?? []), value]);
  }
  if (current) entries.push(current);
  return entries;
}

const first = (e: LdifEntry, name: string) => e.get(name.toLowerCase())?.[0];

/** A throwaway GnuPG home; `dispose` kills its agent and dirmngr and removes it. */
class GnuPG {
  private constructor(readonly home: string) {}

  static async create(): Promise<GnuPG> {
    const home = await mkdtemp(join(tmpdir(), 'ics-gpg-ldap-'));
    await chmod(home, 0o700);
    return new GnuPG(home);
  }

  run(args: readonly string[], input?: string) {
    return run(GPG, ['--homedir', this.home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
      input,
      env: { GNUPGHOME: this.home, LANGUAGE: 'C' },
    });
  }

  async ok(args: readonly string[], input?: string): Promise<string> {
    const r = await this.run(args, input);
    assert.equal(r.code, 0, `gpg ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  }

  async dispose(): Promise<void> {
    await run(GPGCONF, ['--homedir', this.home, '--kill', 'all']).catch(() => undefined);
    await rm(this.home, { recursive: true, force: true });
  }
}

async function withGnuPG<T>(body: (gpg: GnuPG) => Promise<T>): Promise<T> {
  const gpg = await GnuPG.create();
  try {
    return await body(gpg);
  } finally {
    await gpg.dispose();
  }
}

describe('interop/ldap (ldapsearch, GnuPG dirmngr)', function () {
  this.timeout(120_000);
  let node: LdapTestNode;

  before(async () => {
    node = await startLdap();
  });
  after(() => node?.stop());

  describe('ldapsearch', () => {
    before(() => requireTool(LDAPSEARCH, 'ldap-utils'));

    const ldapsearch = (args: readonly string[]) => run(LDAPSEARCH, ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', node.url, ...args]);

    it('reads the root DSE and the server info', async () => {
      const root = await ldapsearch(['-b', '', '-s', 'base', 'namingContexts']);
      assert.equal(root.code, 0, root.stderr);
      assert.deepEqual(parseLdif(root.stdout)[0]?.get('namingcontexts'), [BASE]);
      const info = await ldapsearch(['-b', `cn=pgpServerInfo,${BASE}`, '-s', 'base']);
      assert.equal(first(parseLdif(info.stdout)[0] as LdifEntry, 'pgpBaseKeySpaceDN'), KEYS);
    });

    it('filters the ICS object class with a compound filter, as the store and policy say', async () => {
      const filter = '(&(objectClass=icsRecord)(icsKind=device)(|(icsStatus=stolen)(icsEndorsedBy=*))(!(icsDomain=system)))';
      const r = await ldapsearch(['-b', RECORDS, '-s', 'one', filter, 'icsId', 'icsStatus', 'icsTrusted']);
      assert.equal(r.code, 0, r.stderr);
      const got = parseLdif(r.stdout).map((e) => first(e, 'icsId')).sort();
      // Expected from the store and the policy directly.
      const expected: string[] = [];
      for (const id of await node.store.listDomain('devices', { limit: 100 })) {
        const stored = await node.store.get(id);
        const record = await reviveRecord((stored as { bytes: Uint8Array }).bytes);
        const verdict = node.engine.verdict(record);
        if (record.kind === 'device' && (verdict.status === 'stolen' || verdict.endorsements.length > 0) && !stored?.domains.includes('system')) expected.push(id);
      }
      assert.deepEqual(got, expected.sort());
      assert.equal(got.length, 2);
    });

    it('pages through every record a bound user may read (-E pr=2/noprompt)', async () => {
      const r = await ldapsearch(['-D', userDn('bob'), '-w', PASSWORDS.bob, '-E', 'pr=2/noprompt', '-b', RECORDS, '-s', 'one', '(objectClass=icsRecord)', 'icsId']);
      assert.equal(r.code, 0, r.stderr);
      const got = parseLdif(r.stdout).map((e) => first(e, 'icsId')).sort();
      const readable = node.engine.readableDomains({ kind: 'user', name: 'bob' });
      const expected = new Set<string>();
      for (const d of readable) for (const id of await node.store.listDomain(d, { limit: 100 })) expected.add(id);
      assert.deepEqual(got, [...expected].sort());
      const pages = (await run(LDAPSEARCH, ['-x', '-H', node.url, '-D', userDn('bob'), '-w', PASSWORDS.bob, '-E', 'pr=2/noprompt', '-b', RECORDS, '-s', 'one', 'icsId'])).stdout;
      assert.ok((pages.match(/^pagedresults: cookie=/gm) ?? []).length >= 3, 'several pages');
    });

    it('exits with the LDAP result code: sizeLimitExceeded, noSuchObject, invalidCredentials', async () => {
      assert.equal((await ldapsearch(['-z', '2', '-b', RECORDS, '-s', 'one', 'icsId'])).code, 4);
      assert.equal((await ldapsearch(['-b', `icsId=${node.records.systemOnly.id},${RECORDS}`, '-s', 'base'])).code, 32, 'private to anonymous readers');
      assert.equal((await ldapsearch(['-D', userDn('bob'), '-w', 'wrong', '-b', '', '-s', 'base'])).code, 49);
    });

    it("finds a key by GnuPG's fingerprint filter and returns the stored key", async () => {
      const record = node.records.acme[0] as KeyRecord;
      const fpr = record.id.toUpperCase();
      const r = await ldapsearch(['-b', KEYS, `(|(gpgFingerprint=${fpr})(gpgSubFingerprint=${fpr}))`, 'pgpKey', 'pgpCertID']);
      assert.equal(r.code, 0, r.stderr);
      const [entry] = parseLdif(r.stdout);
      const { record: parsed } = await parseKeyRecord(first(entry as LdifEntry, 'pgpKey') as string, { issuers: node.engine.issuerRing() });
      assert.equal(parsed.digest, (await node.store.get(record.id))?.digest);
    });
  });

  describe('gpg --keyserver ldap://', () => {
    before(() => {
      requireTool(GPG, 'gnupg');
      requireTool('dirmngr', 'dirmngr');
    });

    const keyserver = () => node.url;
    const writerUrl = (user: 'alice' | 'bob', password: string) =>
      `${node.url}/????bindname=${userDn(user).replaceAll(',', '%2c')},password=${password}`;

    it('--recv-keys by fingerprint and by key id imports the key the store holds', async () => {
      const record = node.records.acme[2] as KeyRecord;
      await withGnuPG(async (gpg) => {
        await gpg.ok(['--keyserver', keyserver(), '--keyserver-options', 'no-self-sigs-only', '--recv-keys', record.id.toUpperCase()]);
        const exported = await gpg.ok(['--armor', '--export', record.id.toUpperCase()]);
        const { record: theirs } = await parseKeyRecord(exported, { issuers: node.engine.issuerRing() });
        assert.equal(theirs.id, record.id);
        const stored = (await reviveRecord((await node.store.get(record.id))?.bytes as Uint8Array)) as KeyRecord;
        assert.deepEqual(
          theirs.userIds.flatMap((u) => u.signatures.map((s) => s.sigId)).sort(),
          stored.userIds.flatMap((u) => u.signatures.map((s) => s.sigId)).sort(),
          'every signature the store holds reached gpg',
        );
      });
      await withGnuPG(async (gpg) => {
        await gpg.ok(['--keyserver', keyserver(), '--recv-keys', record.id.slice(-16).toUpperCase()]);
        const listing = await gpg.ok(['--with-colons', '--list-keys', record.id.toUpperCase()]);
        assert.match(listing, new RegExp(`^fpr:+${record.id.toUpperCase()}:`, 'm'));
      });
    });

    it('--search-keys lists the matching keys with their user IDs', async () => {
      const record = node.records.acme[1] as KeyRecord;
      const userId = record.userIds[0]?.userId as string;
      await withGnuPG(async (gpg) => {
        const out = await gpg.ok(['--keyserver', keyserver(), '--with-colons', '--search-keys', userId]);
        const pubs = out.split('\n').filter((l) => l.startsWith('pub:'));
        assert.equal(pubs.length, 1, out);
        assert.equal(pubs[0]?.split(':')[1], record.id.toUpperCase());
        assert.ok(out.split('\n').some((l) => l.startsWith('uid:') && decodeURIComponent(l.split(':')[1] as string) === userId));
        const none = await gpg.ok(['--keyserver', keyserver(), '--with-colons', '--search-keys', 'urn:cm4it:device:nobody.example:none']);
        assert.equal(none.split('\n').filter((l) => l.startsWith('pub:')).length, 0);
      });
    });

    it('--send-keys with a bind DN and password merges a countersignature and loses nothing held', async () => {
      const device = node.records.systemOnly;
      const before = (await reviveRecord((await node.store.get(device.id))?.bytes as Uint8Array)) as KeyRecord;
      const integrator = node.f.integrator.record;
      await withGnuPG(async (gpg) => {
        // The maintainer's copy holds only the self-signature; it adds a status statement.
        await gpg.ok(['--import'], await armorPrivateKey(node.f.integrator.privateKey));
        await gpg.ok(['--import'], armor('publicKey', filterSignatures(device, (s) => s.self).bytes));
        await gpg.ok([
          '--local-user', integrator.id.toUpperCase(),
          '--cert-notation', 'role@cm4it.org=maintainer',
          '--cert-notation', 'status@cm4it.org=stolen',
          '--quick-sign-key', device.id.toUpperCase(),
        ]);
        const anonymous = await gpg.run(['--keyserver', keyserver(), '--send-keys', device.id.toUpperCase()]);
        assert.notEqual(anonymous.code, 0, 'anonymous writes are refused');
        const reader = await gpg.run(['--keyserver', writerUrl('bob', PASSWORDS.bob), '--send-keys', device.id.toUpperCase()]);
        assert.notEqual(reader.code, 0, 'a user who may only read cannot write');
        const wrong = await gpg.run(['--keyserver', writerUrl('alice', 'wrong'), '--send-keys', device.id.toUpperCase()]);
        assert.notEqual(wrong.code, 0, 'a wrong password is refused');
        assert.equal((await node.store.history(device.id)).length, 1, 'nothing stored by the refused sends');
        await gpg.ok(['--keyserver', writerUrl('alice', PASSWORDS.alice), '--send-keys', device.id.toUpperCase()]);
      });
      const after = (await reviveRecord((await node.store.get(device.id))?.bytes as Uint8Array)) as KeyRecord;
      const sigIds = (r: KeyRecord) => r.userIds.flatMap((u) => u.signatures.map((s) => s.sigId));
      assert.equal(sigIds(after).length, sigIds(before).length + 1);
      assert.ok(sigIds(before).every((id) => sigIds(after).includes(id)), 'the integrator certification gpg did not have is kept');
      assert.equal(node.engine.verdict(after).status, 'stolen');
      assert.equal((await node.store.history(device.id)).at(-1)?.source, 'ldap');
    });
  });
});
