// The fixed test vectors in test/vectors/ (made once by make-vectors.ts, see its README):
// every good vector parses to the id and digest recorded in expected.json, every bad one
// is refused with its error code. All dates are fixed and in the past, and `now` is
// pinned, so nothing here depends on when the tests run.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { IcsError, type IcsErrorCode } from '../../ics/errors.ts';
import {
  type CodeRecord,
  certify,
  evaluateVerdict,
  IssuerKeyring,
  type KeyRecord,
  type Notation,
  parseCodeRecord,
  parseKeyRecord,
  parseRecord,
  readPrivateKey,
  SigType,
} from '../../ics/record/index.ts';

const dir = new URL('../vectors/', import.meta.url);
const bytes = (name: string): Buffer => readFileSync(fileURLToPath(new URL(name, dir)));
const text = (name: string): string => bytes(name).toString('utf8');

interface ExpectedKey {
  fingerprint: string;
  keyId: string;
  algorithmName: string;
  userId: string;
}
interface ExpectedSignature {
  issuer: string;
  type?: number;
  created: string;
  sigId: string;
  notations: Notation[];
}
interface Expected {
  created: Record<string, string>;
  issuers: { manufacturer: ExpectedKey; integrator: ExpectedKey };
  rogue: { fingerprint: string; keyId: string };
  device: ExpectedKey & { kind: string; certifications: ExpectedSignature[] };
  secretKey: { fingerprint: string };
  badSignature: { issuer: string };
  duplicateSignature: { issuer: string };
  truncated: { bytes: number; of: number };
  compressed: { inflatedBytes: number };
  oversized: { bytes: number };
  firmware: {
    id: string;
    statement: CodeRecord['statement'];
    artifactSha256: string;
    signatures: ExpectedSignature[];
  };
  /** Derived from the files by the current record model; see make-vectors.ts --update-digests. */
  canonical: Record<'manufacturer.asc' | 'integrator.asc' | 'device.asc' | 'firmware.code.asc', { digest: string; bytes: number }>;
}

const expected = JSON.parse(text('expected.json')) as Expected;
/** After every date in the vectors; fixed so that results never depend on the clock. */
const NOW = new Date('2025-01-01T00:00:00Z');
const MiB = 1024 * 1024;
const CANONICAL_CHANGED =
  'canonical record bytes differ from test/vectors/expected.json: the canonical form changed, which changes the digest of ' +
  'every stored record on every node. If that is deliberate, run `npx tsx test/vectors/make-vectors.ts --update-digests`.';
/** The canonical digest of a good vector, with the hint above when it differs. */
function assertCanonical(record: { digest: string; bytes: Uint8Array }, file: keyof Expected['canonical']): void {
  const e = expected.canonical[file];
  assert.equal(record.digest, e.digest, `${file}: ${CANONICAL_CHANGED}`);
  assert.equal(record.bytes.length, e.bytes, `${file}: ${CANONICAL_CHANGED}`);
}

async function rejectsWith(promise: Promise<unknown>, code: IcsErrorCode): Promise<IcsError> {
  let caught: IcsError | undefined;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof IcsError, `expected IcsError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    caught = error;
    return true;
  });
  return caught as IcsError;
}

const thirdParty = (record: KeyRecord) => (record.userIds[0]?.signatures ?? []).filter((s) => !s.self);

describe('interop/vectors (fixed files in test/vectors/)', () => {
  let manufacturer: KeyRecord;
  let integrator: KeyRecord;
  let ring: IssuerKeyring;
  const parse = (input: Uint8Array | string) => parseRecord(input, { issuers: ring, now: NOW });

  before(async () => {
    manufacturer = (await parseKeyRecord(text('manufacturer.asc'), { now: NOW })).record;
    integrator = (await parseKeyRecord(text('integrator.asc'), { now: NOW })).record;
    ring = await IssuerKeyring.fromRecords([manufacturer, integrator]);
  });

  describe('issuer keys', () => {
    it('manufacturer.asc is the Ed25519 manufacturer key of expected.json', () => {
      const e = expected.issuers.manufacturer;
      assert.equal(manufacturer.id, e.fingerprint);
      assert.equal(manufacturer.primaryKey.keyId, e.keyId);
      assert.equal(manufacturer.primaryKey.algorithmName, 'ed25519');
      assert.equal(manufacturer.kind, 'org');
      assert.equal(manufacturer.userIds[0]?.userId, e.userId);
      assertCanonical(manufacturer, 'manufacturer.asc');
    });

    it('integrator.asc is the P-256 integrator key of expected.json', () => {
      const e = expected.issuers.integrator;
      assert.equal(integrator.id, e.fingerprint);
      assert.equal(integrator.primaryKey.algorithmName, 'nistP256');
      assert.equal(integrator.kind, 'org');
      assert.equal(integrator.userIds[0]?.userId, e.userId);
      assertCanonical(integrator, 'integrator.asc');
    });

    it('the *.secret.asc test keys are the private halves and can still certify', async () => {
      const device = (await parseKeyRecord(text('device.asc'), { now: NOW })).record; // no ring: only the self-signature
      assert.equal(thirdParty(device).length, 0);
      for (const [name, pub] of [
        ['manufacturer', manufacturer],
        ['integrator', integrator],
      ] as const) {
        const key = await readPrivateKey(text(`${name}.secret.asc`));
        assert.equal(key.getFingerprint(), pub.id);
        assert.ok(key.isDecrypted());
        const created = new Date('2024-06-01T00:00:00Z');
        const signed = await certify(device, key, { role: name }, { created });
        const reparsed = (await parseKeyRecord(signed.bytes, { issuers: ring, now: NOW })).record;
        assert.equal(reparsed.digest, signed.digest);
        assert.deepEqual(
          thirdParty(reparsed).map((s) => [s.issuer, s.created.toISOString()]),
          [[pub.id, created.toISOString()]],
        );
      }
    });
  });

  describe('good records', () => {
    it('device.asc parses to the expected id, digest and certifications', async () => {
      const { record, dropped } = await parseKeyRecord(text('device.asc'), { issuers: ring, now: NOW });
      const e = expected.device;
      assert.deepEqual(dropped, []);
      assert.equal(record.id, e.fingerprint);
      assert.equal(record.kind, 'device');
      assert.equal(record.userIds.length, 1);
      assert.equal(record.userIds[0]?.userId, e.userId);
      assertCanonical(record, 'device.asc');
      assert.equal(createHash('sha256').update(record.bytes).digest('hex'), record.digest);
      assert.deepEqual(
        thirdParty(record).map((s) => ({
          issuer: s.issuer,
          type: s.type,
          created: s.created.toISOString(),
          sigId: s.sigId,
          notations: s.notations,
        })),
        e.certifications,
      );
    });

    it('device.asc: its canonical bytes parse back to themselves', async () => {
      const { record } = await parseKeyRecord(text('device.asc'), { issuers: ring, now: NOW });
      const again = await parse(record.bytes);
      assert.equal(again.record.digest, record.digest);
      assert.ok(Buffer.from(again.record.bytes).equals(Buffer.from(record.bytes)));
    });

    it('device.asc is trusted under a policy naming both issuers', async () => {
      const { record } = await parseKeyRecord(text('device.asc'), { issuers: ring, now: NOW });
      const verdict = evaluateVerdict(record, {
        issuers: [
          { fingerprint: manufacturer.id, roles: ['manufacturer'] },
          { fingerprint: integrator.id, roles: ['integrator'] },
        ],
        requiredRoles: ['manufacturer', 'integrator'],
        now: NOW,
      });
      assert.equal(verdict.trusted, true, JSON.stringify(verdict.reasons));
      assert.equal(verdict.status, 'in-use');
      assert.deepEqual(verdict.roles.map((r) => [r.role, r.issuer]).sort(), [
        ['integrator', integrator.id],
        ['manufacturer', manufacturer.id],
      ]);
      assert.deepEqual(verdict.authorizations, { allow: ['video-streaming'], deny: ['video-recording'] });
      assert.deepEqual(verdict.metadata, { model: 'cam-3', serial: 'SN0001', 'hw-version': '2' });
    });

    it('device.asc without the issuer keys keeps only the self-signature', async () => {
      const { record, dropped } = await parseKeyRecord(text('device.asc'), { now: NOW });
      assert.equal(thirdParty(record).length, 0);
      assert.deepEqual(
        dropped.map((d) => [d.reason, d.issuer, d.type]).sort(),
        [
          ['UNKNOWN_ISSUER', integrator.id, SigType.certGeneric],
          ['UNKNOWN_ISSUER', manufacturer.id, SigType.certGeneric],
        ].sort(),
      );
    });

    it('unknown-issuer.asc: the certification by a key outside the issuer set is dropped as UNKNOWN_ISSUER', async () => {
      const { record, dropped } = await parseKeyRecord(text('unknown-issuer.asc'), { issuers: ring, now: NOW });
      assert.equal(record.id, expected.device.fingerprint);
      assert.deepEqual(
        dropped.map((d) => ({ reason: d.reason, issuer: d.issuer, type: d.type })),
        [{ reason: 'UNKNOWN_ISSUER', issuer: expected.rogue.fingerprint, type: SigType.certGeneric }],
      );
      // What is left is exactly the device record: the dropped signature leaves no trace.
      assertCanonical(record, 'device.asc');
    });

    it('duplicate-signature.asc: the repeated certification is kept once', async () => {
      const { record } = await parseKeyRecord(text('duplicate-signature.asc'), { issuers: ring, now: NOW });
      const copies = thirdParty(record).filter((s) => s.issuer === expected.duplicateSignature.issuer);
      assert.equal(copies.length, 1);
      assertCanonical(record, 'device.asc');
    });

    it('firmware.code.asc parses to the expected code record and is trusted', async () => {
      const { record, dropped } = await parseCodeRecord(text('firmware.code.asc'), { issuers: ring, now: NOW });
      const e = expected.firmware;
      assert.deepEqual(dropped, []);
      assert.equal(record.id, e.id);
      assertCanonical(record, 'firmware.code.asc');
      assert.deepEqual(record.statement, e.statement);
      assert.equal(record.statement.subject.digest.sha256, e.artifactSha256);
      assert.equal(`sha256:${createHash('sha256').update(record.canonical).digest('hex')}`, e.id);
      assert.deepEqual(
        record.signatures.map((s) => ({ issuer: s.issuer, created: s.created.toISOString(), sigId: s.sigId, notations: s.notations })),
        e.signatures,
      );
      const verdict = evaluateVerdict(record, {
        issuers: [
          { fingerprint: manufacturer.id, roles: ['developer'] },
          { fingerprint: integrator.id, roles: ['integrator'] },
        ],
        requiredRoles: ['developer', 'integrator'],
        now: NOW,
      });
      assert.equal(verdict.trusted, true, JSON.stringify(verdict.reasons));
      assert.equal(verdict.status, 'released');
      assert.equal(verdict.kind, 'code');
    });

    it('firmware.code.asc is not a key record', async () => {
      await rejectsWith(parseKeyRecord(text('firmware.code.asc'), { issuers: ring, now: NOW }), 'RECORD_MALFORMED');
    });
  });

  describe('bad records', () => {
    it('bad-signature.asc: SIGNATURE_INVALID', async () => {
      const error = await rejectsWith(parse(text('bad-signature.asc')), 'SIGNATURE_INVALID');
      assert.equal(error.details?.issuer, expected.badSignature.issuer);
    });

    it('bad-signature.asc differs from device.asc only inside one signature value', async () => {
      const good = (await parseKeyRecord(text('device.asc'), { now: NOW })).record.bytes;
      // Without the issuer ring the tampered certification is dropped unverified, so the
      // rest of the record must come out identical to the good one.
      const { record, dropped } = await parseKeyRecord(text('bad-signature.asc'), { now: NOW });
      assert.ok(Buffer.from(record.bytes).equals(Buffer.from(good)));
      assert.deepEqual(
        dropped.map((d) => d.reason),
        ['UNKNOWN_ISSUER', 'UNKNOWN_ISSUER'],
      );
    });

    it('oversized.asc (over 1 MiB): LIMIT_EXCEEDED', async () => {
      assert.ok(bytes('oversized.asc').length > MiB);
      assert.ok(expected.oversized.bytes > MiB);
      const error = await rejectsWith(parse(text('oversized.asc')), 'LIMIT_EXCEEDED');
      assert.equal(error.details?.limit, 'maxRecordBytes');
      await rejectsWith(parse(bytes('oversized.asc')), 'LIMIT_EXCEEDED');
    });

    it('truncated.bin (cut mid-packet): RECORD_MALFORMED', async () => {
      const input = bytes('truncated.bin');
      assert.equal(input.length, expected.truncated.bytes);
      assert.ok(input.length < expected.truncated.of);
      await rejectsWith(parse(input), 'RECORD_MALFORMED');
    });

    it('compressed.bin (compressed data packet): PACKET_NOT_ALLOWED', async () => {
      const input = bytes('compressed.bin');
      assert.equal((input[0] as number) & 0x3f, 8, 'first packet is tag 8');
      // What it holds is the whole device record (ZIP, RFC 1951): refused before inflating.
      const header = (input[1] as number) < 192 ? 2 : 3; // new-format one- or two-octet length
      assert.equal(input[header], 1, 'ZIP');
      assert.equal(inflateRawSync(input.subarray(header + 1)).length, expected.compressed.inflatedBytes);
      await rejectsWith(parse(input), 'PACKET_NOT_ALLOWED');
    });

    it('secret-key.asc (private key block): PACKET_NOT_ALLOWED', async () => {
      await rejectsWith(parse(text('secret-key.asc')), 'PACKET_NOT_ALLOWED');
      await rejectsWith(parseKeyRecord(bytes('secret-key.asc'), { issuers: ring, now: NOW }), 'PACKET_NOT_ALLOWED');
      // It really is a private key: the device key's own.
      const key = await readPrivateKey(text('secret-key.asc'));
      assert.equal(key.getFingerprint(), expected.secretKey.fingerprint);
      assert.equal(expected.secretKey.fingerprint, expected.device.fingerprint);
    });
  });
});
