// Generates the fixed test vectors in this directory. Run ONCE; the outputs are committed
// and test/interop/vectors.test.ts checks them. Re-running makes new keys (and so new
// fingerprints), which is why it refuses to overwrite without --force:
//
//   npx tsx test/vectors/make-vectors.ts                   # first time
//   npx tsx test/vectors/make-vectors.ts --update-digests  # canonical form changed on purpose
//   npx tsx test/vectors/make-vectors.ts --force           # regenerate everything (new keys)
//
// expected.json holds two kinds of facts. Facts about the inputs (fingerprints, signature
// ids, dates, notations, statement) never change. The `canonical` block — digest and size
// of the canonical bytes the record model makes of each good vector — changes whenever the
// canonical encoding does (which also changes every stored record's digest on every node);
// `--update-digests` recomputes only that block from the unchanged vector files.
//
// Packet surgery (flipped byte, repeated packet, truncation, compression, oversize) is
// done here by hand, on new-format packet frames (RFC 4880 §4.2.2), without the record
// model's own framing helpers, so that the vectors do not share code with what they test.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import {
  armor,
  armorPrivateKey,
  certify,
  codeStatement,
  generateIdentity,
  IssuerKeyring,
  type KeyRecord,
  parseCodeRecord,
  parseKeyRecord,
  signCode,
} from '../../ics/record/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const force = process.argv.includes('--force');
const updateDigests = process.argv.includes('--update-digests');
const expectedFile = join(here, 'expected.json');

/** Digest and size of the canonical form of each good vector, as the record model now makes it. */
async function canonicalForms() {
  const read = (name: string) => readFileSync(join(here, name), 'utf8');
  const manufacturer = (await parseKeyRecord(read('manufacturer.asc'))).record;
  const integrator = (await parseKeyRecord(read('integrator.asc'))).record;
  const issuers = await IssuerKeyring.fromRecords([manufacturer, integrator]);
  const device = (await parseKeyRecord(read('device.asc'), { issuers })).record;
  const firmware = (await parseCodeRecord(read('firmware.code.asc'), { issuers })).record;
  const form = (r: { digest: string; bytes: Uint8Array }) => ({ digest: r.digest, bytes: r.bytes.length });
  return {
    comment:
      'Derived: sha256 and length of the canonical record bytes. Update with --update-digests when the canonical form changes on purpose.',
    'manufacturer.asc': form(manufacturer),
    'integrator.asc': form(integrator),
    'device.asc': form(device),
    'firmware.code.asc': form(firmware),
  };
}

if (updateDigests) {
  const expected = JSON.parse(readFileSync(expectedFile, 'utf8')) as Record<string, unknown>;
  const before = JSON.stringify(expected.canonical);
  expected.canonical = await canonicalForms();
  writeFileSync(expectedFile, `${JSON.stringify(expected, null, 2)}\n`);
  console.log(before === JSON.stringify(expected.canonical) ? 'canonical digests unchanged' : 'canonical digests updated');
  process.exit(0);
}

if (existsSync(expectedFile) && !force) {
  console.error('test/vectors/expected.json exists: the vectors are fixed. Pass --update-digests or --force (see the top of this file).');
  process.exit(1);
}

// Fixed, past dates: vectors must not depend on when the tests run.
const KEYS_CREATED = new Date('2024-01-01T00:00:00Z');
const MANUFACTURER_CERT = new Date('2024-01-02T00:00:00Z');
const INTEGRATOR_CERT = new Date('2024-01-03T00:00:00Z');
const ROGUE_CERT = new Date('2024-01-04T00:00:00Z');
const CODE_SIGNED = new Date('2024-01-05T00:00:00Z');

const USER_IDS = {
  manufacturer: 'urn:cm4it:org:acme.example',
  integrator: 'urn:cm4it:org:integrator.example',
  rogue: 'urn:cm4it:org:rogue.example',
  device: 'urn:cm4it:device:acme.example:cam-3:SN0001',
} as const;

const MANUFACTURER_STATEMENT = {
  role: 'manufacturer',
  status: 'in-use',
  metadata: { model: 'cam-3', serial: 'SN0001', 'hw-version': '2' },
} as const;
const INTEGRATOR_STATEMENT = { role: 'integrator', allow: ['video-streaming'], deny: ['video-recording'] } as const;
const ROGUE_STATEMENT = { role: 'manufacturer', status: 'in-use' } as const;

// --- minimal packet framing, independent of ics/record/packets.ts -------------------------

interface Frame {
  tag: number;
  /** Offset of the header in the buffer. */
  start: number;
  header: number;
  body: Buffer;
}

/** Splits new-format packets (the only format the record model writes). */
function frames(bytes: Buffer): Frame[] {
  const out: Frame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const ctb = bytes[pos] as number;
    if ((ctb & 0xc0) !== 0xc0) throw new Error(`offset ${pos}: not a new-format packet`);
    const first = bytes[pos + 1] as number;
    let length: number;
    let header: number;
    if (first < 192) [length, header] = [first, 2];
    else if (first < 224) [length, header] = [((first - 192) << 8) + (bytes[pos + 2] as number) + 192, 3];
    else if (first === 255) [length, header] = [bytes.readUInt32BE(pos + 2), 6];
    else throw new Error(`offset ${pos}: partial length`);
    out.push({ tag: ctb & 0x3f, start: pos, header, body: bytes.subarray(pos + header, pos + header + length) });
    pos += header + length;
  }
  return out;
}

/** New-format header + body (§4.2.2.1–3). */
function frame(tag: number, body: Uint8Array): Buffer {
  const n = body.length;
  let header: Buffer;
  if (n < 192) header = Buffer.from([0xc0 | tag, n]);
  else if (n < 8384) header = Buffer.from([0xc0 | tag, ((n - 192) >> 8) + 192, (n - 192) & 0xff]);
  else {
    header = Buffer.alloc(6);
    header[0] = 0xc0 | tag;
    header[1] = 0xff;
    header.writeUInt32BE(n, 2);
  }
  return Buffer.concat([header, body]);
}

/**
 * Offsets (in a v4 signature body, §5.2.3) of the signature value's MPIs: after version,
 * type, algorithms, hashed and unhashed areas and the 2-byte hash prefix.
 */
function signatureMpis(body: Buffer): Array<{ start: number; length: number }> {
  if (body[0] !== 4) throw new Error('v4 signature expected');
  let pos = 4;
  pos += 2 + body.readUInt16BE(pos); // hashed subpackets
  pos += 2 + body.readUInt16BE(pos); // unhashed subpackets
  pos += 2; // left 16 bits of the hash
  const mpis: Array<{ start: number; length: number }> = [];
  while (pos < body.length) {
    const bits = body.readUInt16BE(pos);
    const length = Math.ceil(bits / 8);
    mpis.push({ start: pos + 2, length });
    pos += 2 + length;
  }
  if (pos !== body.length) throw new Error('signature MPIs overrun the packet');
  return mpis;
}

// --- keys and records ---------------------------------------------------------------------

const manufacturer = await generateIdentity({ userId: USER_IDS.manufacturer, algorithm: 'ed25519', created: KEYS_CREATED });
const integrator = await generateIdentity({ userId: USER_IDS.integrator, algorithm: 'p256', created: KEYS_CREATED });
const rogue = await generateIdentity({ userId: USER_IDS.rogue, algorithm: 'ed25519', created: KEYS_CREATED });
const device = await generateIdentity({ userId: USER_IDS.device, algorithm: 'ed25519', created: KEYS_CREATED });

let record: KeyRecord = await certify(device.record, manufacturer.privateKey, MANUFACTURER_STATEMENT, { created: MANUFACTURER_CERT });
record = await certify(record, integrator.privateKey, INTEGRATOR_STATEMENT, { created: INTEGRATOR_CERT });
const withRogue = await certify(record, rogue.privateKey, ROGUE_STATEMENT, { created: ROGUE_CERT });

const deviceBytes = Buffer.from(record.bytes);
const deviceFrames = frames(deviceBytes);
const certFrame = (issuer: string): Frame => {
  const sig = record.userIds[0]?.signatures.find((s) => s.issuer === issuer && !s.self);
  if (!sig) throw new Error(`no certification by ${issuer}`);
  const found = deviceFrames.find((f) => Buffer.from(sig.packet).equals(deviceBytes.subarray(f.start, f.start + f.header + f.body.length)));
  if (!found) throw new Error('certification packet not found in the record bytes');
  return found;
};
const manufacturerCert = certFrame(manufacturer.record.id);
const integratorCert = certFrame(integrator.record.id);
const rebuild = (replace: (f: Frame) => Buffer[]) => Buffer.concat(deviceFrames.flatMap((f) => replace(f)));
const original = (f: Frame) => deviceBytes.subarray(f.start, f.start + f.header + f.body.length);

// bad-signature: one byte in the middle of the manufacturer certification's last MPI
// (the signature's s value) flipped; lengths and framing unchanged.
const badBody = Buffer.from(manufacturerCert.body);
const sValue = signatureMpis(badBody).at(-1);
if (!sValue || sValue.length < 16) throw new Error('unexpected signature value');
const flippedAt = sValue.start + Math.floor(sValue.length / 2);
badBody[flippedAt] = (badBody[flippedAt] as number) ^ 0xff;
const badSignature = rebuild((f) => [f === manufacturerCert ? frame(f.tag, badBody) : original(f)]);

// duplicate-signature: the integrator certification packet twice in a row.
const duplicate = rebuild((f) => (f === integratorCert ? [original(f), original(f)] : [original(f)]));

// truncated: the binary record cut in the middle of the integrator certification's body.
const truncatedAt = integratorCert.start + integratorCert.header + Math.floor(integratorCert.body.length / 2);
const truncated = deviceBytes.subarray(0, truncatedAt);

// compressed: the whole device record inside a ZIP (RFC 1951) compressed data packet
// (tag 8, §5.6): a compressed key block, which `gpg --import` unpacks and accepts.
const compressed = frame(8, Buffer.concat([Buffer.from([1]), deflateRawSync(deviceBytes, { level: 9 })]));

// oversized: the device record plus a user attribute (photo ID, tag 17, §5.12) holding a
// 1 MiB "JPEG". Everything else is well-formed, so only the size limit can refuse it.
const imageHeader = Buffer.from([0x10, 0x00, 0x01, 0x01, ...new Array<number>(12).fill(0)]);
const image = Buffer.concat([Buffer.from([1]), imageHeader, Buffer.alloc(1024 * 1024, 0xa5)]);
const subpacketLength = Buffer.alloc(5);
subpacketLength[0] = 0xff;
subpacketLength.writeUInt32BE(image.length, 1);
const oversized = Buffer.concat([deviceBytes, frame(17, Buffer.concat([subpacketLength, image]))]);

// Code record: a firmware statement signed by the manufacturer (as developer) and the integrator.
const firmware = Buffer.from('cm4it test vector firmware 3.2.1\n', 'utf8');
const statement = codeStatement('acme-cam-fw', '3.2.1', { sha256: createHash('sha256').update(firmware).digest('hex') });
let code = await signCode(statement, manufacturer.privateKey, { role: 'developer', status: 'released' }, { created: CODE_SIGNED });
code = await signCode(statement, integrator.privateKey, { role: 'integrator' }, { created: CODE_SIGNED, record: code });

// --- write --------------------------------------------------------------------------------

mkdirSync(here, { recursive: true });
const write = (name: string, data: string | Uint8Array) => writeFileSync(join(here, name), data);
write('manufacturer.asc', armor('publicKey', manufacturer.record.bytes));
write('integrator.asc', armor('publicKey', integrator.record.bytes));
write('manufacturer.secret.asc', await armorPrivateKey(manufacturer.privateKey));
write('integrator.secret.asc', await armorPrivateKey(integrator.privateKey));
write('device.asc', armor('publicKey', deviceBytes));
write('bad-signature.asc', armor('publicKey', badSignature));
write('duplicate-signature.asc', armor('publicKey', duplicate));
write('unknown-issuer.asc', armor('publicKey', withRogue.bytes));
write('oversized.asc', armor('publicKey', oversized));
write('truncated.bin', truncated);
write('compressed.bin', compressed);
write('secret-key.asc', await armorPrivateKey(device.privateKey));
write('firmware.code.asc', armor('message', code.bytes));

const keyInfo = (r: KeyRecord) => ({
  fingerprint: r.id,
  keyId: r.primaryKey.keyId,
  algorithmName: r.primaryKey.algorithmName,
  userId: r.userIds[0]?.userId,
});

const expected = {
  comment: 'Written by make-vectors.ts together with the vectors; see README.md.',
  created: {
    keys: KEYS_CREATED.toISOString(),
    manufacturerCertification: MANUFACTURER_CERT.toISOString(),
    integratorCertification: INTEGRATOR_CERT.toISOString(),
    rogueCertification: ROGUE_CERT.toISOString(),
    codeSignatures: CODE_SIGNED.toISOString(),
  },
  issuers: { manufacturer: keyInfo(manufacturer.record), integrator: keyInfo(integrator.record) },
  /** Not in the issuer set: the certifier in unknown-issuer.asc. */
  rogue: { fingerprint: rogue.record.id, keyId: rogue.record.primaryKey.keyId },
  device: {
    ...keyInfo(record),
    kind: record.kind,
    certifications: record.userIds[0]?.signatures
      .filter((s) => !s.self)
      .map((s) => ({ issuer: s.issuer, type: s.type, created: s.created.toISOString(), sigId: s.sigId, notations: s.notations })),
  },
  /** The device's own key (its private half is secret-key.asc). */
  secretKey: { fingerprint: device.record.id },
  badSignature: { issuer: manufacturer.record.id, flippedByteOffsetInBody: flippedAt },
  duplicateSignature: { issuer: integrator.record.id },
  truncated: { bytes: truncated.length, of: deviceBytes.length },
  compressed: { inflatedBytes: deviceBytes.length },
  oversized: { bytes: oversized.length },
  firmware: {
    id: code.id,
    statement,
    artifactSha256: statement.subject.digest.sha256,
    signatures: code.signatures.map((s) => ({
      issuer: s.issuer,
      created: s.created.toISOString(),
      sigId: s.sigId,
      notations: s.notations,
    })),
  },
  outcomes: {
    'device.asc': 'ok',
    'unknown-issuer.asc': 'ok, rogue certification dropped as UNKNOWN_ISSUER',
    'duplicate-signature.asc': 'ok, one copy of the integrator certification',
    'firmware.code.asc': 'ok',
    'bad-signature.asc': 'SIGNATURE_INVALID',
    'oversized.asc': 'LIMIT_EXCEEDED',
    'truncated.bin': 'RECORD_MALFORMED',
    'compressed.bin': 'PACKET_NOT_ALLOWED',
    'secret-key.asc': 'PACKET_NOT_ALLOWED',
  },
};
write('expected.json', `${JSON.stringify({ ...expected, canonical: await canonicalForms() }, null, 2)}\n`);
console.log(`wrote test vectors to ${here}`);
