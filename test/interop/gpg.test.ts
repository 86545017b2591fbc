// Interoperability with GnuPG 2.2: records made here import and check good in gpg, and
// certifications (and certification revocations) made by gpg parse, merge and count
// here. Every test runs gpg in its own throwaway home directory, removed afterwards
// (with its gpg-agent). The suite is skipped only when gpg is not installed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  armor,
  certify,
  codeStatement,
  evaluateVerdict,
  generateIdentity,
  IssuerKeyring,
  type KeyRecord,
  mergeRecords,
  type NewIdentity,
  parseKeyRecord,
  revokeCertification,
  SigType,
  signCode,
  type VerdictPolicy,
} from '../../ics/record/index.ts';
import { GnuPG, requireGpg, signatureRecords, withGnuPG } from '../helpers/gpg.ts';

/** Human-readable `--list-sigs --list-options show-notations`: notations per issuer key id. */
function notationsByKeyId(listing: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of listing.split('\n')) {
    const sig = /^(?:sig|rev)\S*\s+(?:\S+\s+)*?([0-9A-F]{16})\s/.exec(line);
    if (sig?.[1]) {
      current = [];
      out.set(sig[1].toLowerCase(), current);
      continue;
    }
    const notation = /^\s+Signature notation: (.*)$/.exec(line);
    if (notation?.[1] && current) current.push(notation[1]);
  }
  return out;
}

const day = 24 * 3600 * 1000;
/** Past dates: gpg refuses signatures older than their key, and we refuse future ones. */
const KEYS_CREATED = new Date(Date.now() - 30 * day);
const at = (days: number) => new Date(KEYS_CREATED.getTime() + days * day);
const keyId = (fingerprint: string) => fingerprint.slice(-16);
const sigIds = (record: KeyRecord) =>
  new Set(
    [...record.keySignatures, ...record.userIds.flatMap((u) => u.signatures), ...record.subkeys.flatMap((s) => s.signatures)].map(
      (s) => s.sigId,
    ),
  );

describe('interop/gpg (GnuPG 2.2)', function () {
  this.timeout(120_000);

  let manufacturer: NewIdentity;
  let integrator: NewIdentity;
  let device: NewIdentity;
  /** Device with a manufacturer certification (status + metadata) and an integrator one (deny). */
  let certified: KeyRecord;

  before(async function () {
    requireGpg();
    manufacturer = await generateIdentity({ userId: 'urn:cm4it:org:acme.example', algorithm: 'p256', created: KEYS_CREATED });
    integrator = await generateIdentity({ userId: 'urn:cm4it:org:integrator.example', algorithm: 'ed25519', created: KEYS_CREATED });
    device = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:cam-3:SN000042', created: KEYS_CREATED });
    certified = await certify(
      device.record,
      manufacturer.privateKey,
      { role: 'manufacturer', status: 'in-use', metadata: { model: 'cam-3', serial: 'SN000042' } },
      { created: at(1) },
    );
    certified = await certify(certified, integrator.privateKey, { role: 'integrator', deny: ['video-recording'] }, { created: at(2) });
  });

  describe('a device record made here, imported by gpg', () => {
    it('lists both third-party certifications by their key ids', async () => {
      await withGnuPG(async (gpg) => {
        await gpg.import(armor('publicKey', manufacturer.record.bytes), armor('publicKey', integrator.record.bytes));
        await gpg.import(armor('publicKey', certified.bytes));
        const sigs = signatureRecords(await gpg.colons(['--list-sigs', certified.id.toUpperCase()]));
        assert.deepEqual(
          sigs.map((s) => [s.kind, s.keyId, s.class]),
          [
            ['sig', keyId(device.record.id), '13x'],
            ['sig', keyId(manufacturer.record.id), '10x'],
            ['sig', keyId(integrator.record.id), '10x'],
          ],
        );
        assert.deepEqual(
          sigs.map((s) => s.created),
          [KEYS_CREATED, at(1), at(2)].map((d) => Math.floor(d.getTime() / 1000)),
        );
      });
    });

    it('shows our notations on the right certifications', async () => {
      await withGnuPG(async (gpg) => {
        await gpg.import(armor('publicKey', manufacturer.record.bytes), armor('publicKey', integrator.record.bytes));
        await gpg.import(armor('publicKey', certified.bytes));
        const listing = await gpg.text(['--list-sigs', '--list-options', 'show-notations', certified.id.toUpperCase()]);
        const notations = notationsByKeyId(listing);
        assert.deepEqual([...(notations.get(keyId(manufacturer.record.id)) ?? [])].sort(), [
          'model@cm4it.org=cam-3',
          'role@cm4it.org=manufacturer',
          'serial@cm4it.org=SN000042',
          'status@cm4it.org=in-use',
        ]);
        assert.deepEqual([...(notations.get(keyId(integrator.record.id)) ?? [])].sort(), [
          'deny@cm4it.org=video-recording',
          'role@cm4it.org=integrator',
        ]);
        assert.deepEqual(notations.get(keyId(device.record.id)), [], 'the self-signature carries no notation');
      });
    });

    it('checks every signature good (sig!)', async () => {
      await withGnuPG(async (gpg) => {
        await gpg.import(armor('publicKey', manufacturer.record.bytes), armor('publicKey', integrator.record.bytes));
        await gpg.import(armor('publicKey', certified.bytes));
        const listing = await gpg.text(['--check-sigs', certified.id.toUpperCase()]);
        const sigLines = listing.split('\n').filter((l) => /^(sig|rev)/.test(l));
        assert.equal(sigLines.length, 3, listing);
        for (const line of sigLines) assert.match(line, /^sig!/, listing);
        const colon = signatureRecords(await gpg.colons(['--check-sigs', certified.id.toUpperCase()]));
        assert.deepEqual(
          colon.map((s) => s.validity),
          ['!', '!', '!'],
        );
      });
    });

    it('sees a certification revocation made here (rev!, class 30x)', async () => {
      const revoked = await revokeCertification(certified, integrator.privateKey, { created: at(3), reason: 'contract ended' });
      await withGnuPG(async (gpg) => {
        await gpg.import(armor('publicKey', manufacturer.record.bytes), armor('publicKey', integrator.record.bytes));
        await gpg.import(armor('publicKey', revoked.bytes));
        const sigs = signatureRecords(await gpg.colons(['--check-sigs', revoked.id.toUpperCase()]));
        const revocations = sigs.filter((s) => s.kind === 'rev');
        assert.equal(revocations.length, 1);
        assert.equal(revocations[0]?.keyId, keyId(integrator.record.id));
        assert.match(revocations[0]?.class ?? '', /^30x/);
        assert.ok(
          sigs.every((s) => s.validity === '!'),
          JSON.stringify(sigs),
        );
      });
    });

    it('verifies a code record made here (old-style signed message, notations shown)', async () => {
      const statement = codeStatement('acme-cam-fw', '3.2.1', { sha256: createHash('sha256').update('firmware').digest('hex') });
      let code = await signCode(statement, manufacturer.privateKey, { role: 'developer', status: 'released' }, { created: at(1) });
      code = await signCode(statement, integrator.privateKey, { role: 'integrator' }, { created: at(2), record: code });
      await withGnuPG(async (gpg) => {
        await gpg.import(armor('publicKey', manufacturer.record.bytes), armor('publicKey', integrator.record.bytes));
        const file = join(gpg.home, 'firmware.code.asc');
        await writeFile(file, armor('message', code.bytes));
        const status = await gpg.text(['--status-fd', '1', '--verify', file]);
        const valid = [...status.matchAll(/^\[GNUPG:\] VALIDSIG ([0-9A-F]{40}) /gm)].map((m) => (m[1] as string).toLowerCase());
        assert.deepEqual(valid.sort(), [manufacturer.record.id, integrator.record.id].sort(), status);
        assert.doesNotMatch(status, /BADSIG|ERRSIG/);
        assert.match(status, /^\[GNUPG:\] NOTATION_NAME status@cm4it\.org\n.*\n\[GNUPG:\] NOTATION_DATA released$/m);
        // What gpg reads as the signed data is the canonical statement, byte for byte.
        const plain = await gpg.run(['--output', '-', '--decrypt', file]);
        assert.ok(plain.stdout.equals(Buffer.from(code.canonical)));
      });
    });
  });

  for (const algorithm of ['ed25519', 'rsa3072'] as const) {
    describe(`a certification made by gpg with an ${algorithm} integrator key`, () => {
      let gpg: GnuPG;
      let gpgIntegrator: KeyRecord;
      /** Our copy: the device with the manufacturer's certification only, given to gpg. */
      let ours: KeyRecord;
      /** gpg's export after its integrator signed. */
      let fromGpg: KeyRecord;
      let merged: KeyRecord;
      let ring: IssuerKeyring;
      let policy: VerdictPolicy;

      before(async function () {
        requireGpg();
        gpg = await GnuPG.create();
        const fingerprint = await gpg.generateKey('urn:cm4it:org:integrator.example', algorithm);
        ours = await certify(device.record, manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: at(1) });
        await gpg.import(armor('publicKey', manufacturer.record.bytes), armor('publicKey', ours.bytes));
        await gpg.run([
          '--local-user',
          fingerprint.toUpperCase(),
          '--cert-notation',
          'role@cm4it.org=integrator',
          '--quick-sign-key',
          ours.id.toUpperCase(),
        ]);
        const parsed = await parseKeyRecord(await gpg.export(fingerprint));
        gpgIntegrator = parsed.record;
        assert.equal(gpgIntegrator.id, fingerprint);
        ring = await IssuerKeyring.fromRecords([manufacturer.record, gpgIntegrator]);
        policy = {
          issuers: [
            { fingerprint: manufacturer.record.id, roles: ['manufacturer'] },
            { fingerprint: gpgIntegrator.id, roles: ['integrator'] },
          ],
          requiredRoles: ['manufacturer', 'integrator'],
        };
      });

      after(async () => {
        await gpg?.dispose();
      });

      it('gpg exports its integrator key in a form we accept', () => {
        assert.equal(gpgIntegrator.kind, 'org');
        assert.equal(gpgIntegrator.primaryKey.algorithmName, algorithm);
        assert.equal(gpgIntegrator.userIds[0]?.userId, 'urn:cm4it:org:integrator.example');
      });

      it('parses the gpg certification with its notation', async () => {
        const { record, dropped } = await parseKeyRecord(await gpg.export(ours.id), { issuers: ring });
        fromGpg = record;
        assert.deepEqual(dropped, []);
        assert.equal(record.id, ours.id);
        const third = (record.userIds[0]?.signatures ?? []).filter((s) => !s.self);
        const byGpg = third.filter((s) => s.issuer === gpgIntegrator.id);
        assert.equal(byGpg.length, 1);
        assert.equal(byGpg[0]?.type, SigType.certGeneric);
        assert.deepEqual(byGpg[0]?.notations, [{ name: 'role@cm4it.org', value: 'integrator' }]);
        // The manufacturer's certification went through gpg unchanged.
        const ourCert = (ours.userIds[0]?.signatures ?? []).find((s) => s.issuer === manufacturer.record.id);
        assert.ok(ourCert);
        assert.ok(third.some((s) => s.sigId === ourCert.sigId));
      });

      it('merges with our copy (which meanwhile gained a statement) without losing a signature', async () => {
        assert.ok(fromGpg, 'depends on the previous test');
        const local = await certify(
          ours,
          manufacturer.privateKey,
          { role: 'manufacturer', status: 'in-use', metadata: { 'fw-version': '3.2.1' } },
          { created: at(4) },
        );
        merged = mergeRecords(local, fromGpg);
        assert.deepEqual(sigIds(merged), new Set([...sigIds(local), ...sigIds(fromGpg)]));
        assert.equal(sigIds(merged).size, 4); // self, two by the manufacturer, one by gpg
        assert.equal(mergeRecords(fromGpg, local).digest, merged.digest);
        const reparsed = await parseKeyRecord(armor('publicKey', merged.bytes), { issuers: ring });
        assert.equal(reparsed.record.digest, merged.digest);
      });

      it('counts the gpg integrator in the verdict', () => {
        assert.ok(merged, 'depends on the previous test');
        const verdict = evaluateVerdict(merged, policy);
        assert.equal(verdict.trusted, true, JSON.stringify(verdict.reasons));
        assert.equal(verdict.status, 'in-use');
        assert.ok(verdict.roles.some((r) => r.role === 'integrator' && r.issuer === gpgIntegrator.id));
        assert.ok(verdict.roles.some((r) => r.role === 'manufacturer' && r.issuer === manufacturer.record.id));
      });

      it('the merged record, exported here, checks good in a fresh gpg', async () => {
        assert.ok(merged, 'depends on the previous tests');
        await withGnuPG(async (fresh) => {
          await fresh.import(armor('publicKey', manufacturer.record.bytes), await gpg.export(gpgIntegrator.id));
          await fresh.import(armor('publicKey', merged.bytes));
          const sigs = signatureRecords(await fresh.colons(['--check-sigs', merged.id.toUpperCase()]));
          assert.equal(sigs.length, 4);
          assert.ok(
            sigs.every((s) => s.validity === '!'),
            JSON.stringify(sigs),
          );
          assert.deepEqual(
            sigs.map((s) => s.keyId).sort(),
            [keyId(device.record.id), keyId(manufacturer.record.id), keyId(manufacturer.record.id), keyId(gpgIntegrator.id)].sort(),
          );
        });
      });

      it('a certification revocation made by gpg (--quick-revoke-sig) withdraws the statement', async () => {
        assert.ok(merged, 'depends on the previous tests');
        await gpg.run(['--quick-revoke-sig', ours.id.toUpperCase(), gpgIntegrator.id.toUpperCase()]);
        const { record, dropped } = await parseKeyRecord(await gpg.export(ours.id), { issuers: ring });
        assert.deepEqual(dropped, []);
        const revocations = (record.userIds[0]?.signatures ?? []).filter((s) => s.type === SigType.certRevocation);
        assert.deepEqual(
          revocations.map((s) => s.issuer),
          [gpgIntegrator.id],
        );
        const all = mergeRecords(merged, record);
        const verdict = evaluateVerdict(all, policy);
        assert.equal(verdict.trusted, false);
        assert.ok(verdict.reasons.some((r) => r.code === 'CERTIFICATION_REVOKED' && r.issuer === gpgIntegrator.id));
        assert.ok(verdict.reasons.some((r) => r.code === 'ROLE_MISSING' && r.severity === 'fail'));
        assert.ok(!verdict.roles.some((r) => r.role === 'integrator'));
      });
    });
  }

  describe('other kinds of gpg certification', () => {
    let gpg: GnuPG;
    let signer: KeyRecord;
    let ring: IssuerKeyring;

    before(async function () {
      requireGpg();
      gpg = await GnuPG.create();
      const fingerprint = await gpg.generateKey('urn:cm4it:org:maintainer.example', 'ed25519');
      signer = (await parseKeyRecord(await gpg.export(fingerprint))).record;
      ring = await IssuerKeyring.fromRecords([manufacturer.record, signer]);
    });

    after(async () => {
      await gpg?.dispose();
    });

    const certifiedBy = (s: KeyRecord) => (r: KeyRecord) => (r.userIds[0]?.signatures ?? []).filter((sig) => sig.issuer === s.id);
    const policy = (): VerdictPolicy => ({
      issuers: [
        { fingerprint: manufacturer.record.id, roles: ['manufacturer'] },
        { fingerprint: signer.id, roles: ['maintainer'] },
      ],
      requiredRoles: ['manufacturer', 'maintainer'],
    });

    it('a positive certification (--default-cert-level 3, class 0x13) counts like a generic one', async () => {
      const ours = await certify(device.record, manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: at(1) });
      await gpg.import(armor('publicKey', ours.bytes));
      await gpg.run([
        '--local-user',
        signer.id.toUpperCase(),
        '--default-cert-level',
        '3',
        '--cert-notation',
        'role@cm4it.org=maintainer',
        '--quick-sign-key',
        ours.id.toUpperCase(),
      ]);
      const { record, dropped } = await parseKeyRecord(await gpg.export(ours.id), { issuers: ring });
      assert.deepEqual(dropped, []);
      const sigs = certifiedBy(signer)(record);
      assert.deepEqual(
        sigs.map((s) => s.type),
        [SigType.certPositive],
      );
      assert.deepEqual(sigs[0]?.notations, [{ name: 'role@cm4it.org', value: 'maintainer' }]);
      assert.equal(evaluateVerdict(record, policy()).trusted, true);
    });

    // RFC 4880 §5.2.3.11: a local (non-exportable) certification is meant for its maker's
    // own keyring only; "implementations [that] do not represent the interest of a single
    // user (for example, a key server) … always trim local certifications from any key
    // they handle". An ICS is such a server: it must neither keep, replicate nor count one.
    it('a local certification (--quick-lsign-key) exported with export-local-sigs is not kept', async () => {
      const other = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:cam-3:SN000043', created: KEYS_CREATED });
      const ours = await certify(other.record, manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: at(1) });
      await gpg.import(armor('publicKey', ours.bytes));
      await gpg.run([
        '--local-user',
        signer.id.toUpperCase(),
        '--cert-notation',
        'role@cm4it.org=maintainer',
        '--quick-lsign-key',
        ours.id.toUpperCase(),
      ]);
      const exported = (await gpg.run(['--export', '--export-options', 'export-local-sigs', ours.id.toUpperCase()])).stdout;
      const { record, dropped } = await parseKeyRecord(exported, { issuers: ring });
      assert.deepEqual(certifiedBy(signer)(record), [], 'the local certification must not be part of the record');
      assert.ok(
        dropped.some((d) => d.issuer === signer.id),
        'and it is reported as dropped',
      );
      assert.equal(evaluateVerdict(record, policy()).trusted, false);
    });
  });

  describe('the fixed vectors in test/vectors/, seen by gpg', () => {
    const vector = (name: string) => readFile(fileURLToPath(new URL(`../vectors/${name}`, import.meta.url)));
    let fingerprints: { device: string; manufacturer: string };

    before(async () => {
      const expected = JSON.parse((await vector('expected.json')).toString('utf8')) as {
        device: { fingerprint: string };
        issuers: { manufacturer: { fingerprint: string } };
      };
      fingerprints = { device: expected.device.fingerprint, manufacturer: expected.issuers.manufacturer.fingerprint };
    });

    it("device.asc checks good; bad-signature.asc has exactly one bad signature, the manufacturer's", async () => {
      for (const [name, bad] of [
        ['device.asc', []],
        ['bad-signature.asc', [keyId(fingerprints.manufacturer)]],
      ] as const) {
        await withGnuPG(async (gpg) => {
          await gpg.import(await vector('manufacturer.asc'), await vector('integrator.asc'), await vector(name));
          const sigs = signatureRecords(await gpg.colons(['--check-sigs', fingerprints.device.toUpperCase()]));
          assert.equal(sigs.length, 3, name);
          assert.deepEqual(
            sigs.filter((s) => s.validity === '-').map((s) => s.keyId),
            [...bad],
            name,
          );
          assert.equal(sigs.filter((s) => s.validity === '!').length, 3 - bad.length, name);
        });
      }
    });

    it('compressed.bin is a key block gpg unpacks and imports (which we refuse on purpose)', async () => {
      await withGnuPG(async (gpg) => {
        await gpg.import(await vector('compressed.bin'));
        const keys = await gpg.colons(['--list-keys'], ['fpr']);
        assert.deepEqual(
          keys.map((f) => (f[9] ?? '').toLowerCase()),
          [fingerprints.device],
        );
      });
    });
  });
});
