// Generates the signing-subkey and issuer-revocation vectors (subkey-*.asc,
// issuer-revoked.asc) with real GnuPG, then derives the variants by packet surgery and,
// for bindings whose hashed area must change, by re-signing with the primary key through
// openpgp.js. The secret key lives only in a temporary GNUPGHOME that is removed at the
// end, so no private key is published. Run ONCE; refuses to overwrite without --force:
//
//   npx tsx test/vectors/make-subkey-vectors.ts
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as openpgp from 'openpgp';
import { armor } from '../../ics/record/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const outputs = ['subkey-signer.asc', 'subkey-no-backsig.asc', 'subkey-bad-backsig.asc', 'subkey-hashed-backsig.asc', 'subkey-hashed-bad-backsig.asc', 'issuer-revoked.asc'];
if (!process.argv.includes('--force') && outputs.some((f) => existsSync(join(here, f)))) {
  console.error('vectors exist; pass --force to make new keys');
  process.exit(1);
}

const home = mkdtempSync(join(tmpdir(), 'ics-vectors-'));
// --gen-revoke refuses --batch; it reads its answers from --command-fd instead.
const gpg = (args: string[], input?: string) =>
  execFileSync('gpg', ['--homedir', home, '--no-tty', ...(input === undefined ? ['--batch'] : []), '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });

try {
  // Primary Ed25519 (certify only) at 2024-01-01, signing Ed25519 subkey a minute later.
  gpg(['--faked-system-time', '20240101T000000', '--quick-gen-key', 'urn:cm4it:org:subkey-signer.example', 'ed25519', 'cert', 'never']);
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(['--with-colons', '--list-keys']).toString())?.[1] as string;
  gpg(['--faked-system-time', '20240101T000100', '--quick-add-key', fpr, 'ed25519', 'sign', 'never']);
  const exported = new Uint8Array(gpg(['--export', fpr]));
  const packets = frames(exported);
  const binding = packets.at(-1) as Frame;
  if (binding.tag !== 2) throw new Error('expected the subkey binding last');

  // GnuPG puts the back-signature (subpacket 32) in the binding's UNHASHED area.
  const { hashed, unhashed, tail } = splitSignature(binding.body);
  const sub32 = subpackets(unhashed).find((s) => s.type === 32);
  if (!sub32) throw new Error('gpg made no back-signature');
  const withoutBacksig = Buffer.concat([hashed, u16(unhashed.length - sub32.raw.length), removeRange(unhashed, sub32)]);
  const corrupted = Buffer.from(unhashed);
  const flip = sub32.offset + sub32.raw.length - 5; // inside the embedded signature's s
  corrupted[flip] = (corrupted[flip] as number) ^ 0xff;
  const head = packets.slice(0, -1).map((p) => p.raw);
  // With a CRC line: GnuPG 2.2 misreads armor without one when the data needs no padding.
  const armorKey = (parts: Uint8Array[]) => armor('publicKey', Buffer.concat(parts));

  writeFileSync(join(here, 'subkey-signer.asc'), armorKey([exported]));
  writeFileSync(join(here, 'subkey-no-backsig.asc'), armorKey([...head, frame(2, Buffer.concat([withoutBacksig, tail]))]));
  writeFileSync(join(here, 'subkey-bad-backsig.asc'), armorKey([...head, frame(2, Buffer.concat([hashed, u16(corrupted.length), corrupted, tail]))]));

  // Bindings with the back-signature in the HASHED area, signed anew by the primary key.
  const secret = await openpgp.readPrivateKey({ binaryKey: new Uint8Array(gpg(['--export-secret-keys', fpr])) });
  const backsig = new openpgp.SignaturePacket();
  await backsig.read(sub32.raw.subarray(sub32.headerLength + 1));
  const badBacksig = new openpgp.SignaturePacket();
  await badBacksig.read(corrupted.subarray(sub32.offset + sub32.headerLength + 1, sub32.offset + sub32.raw.length));
  const subkeyPacket = secret.subkeys[0]?.keyPacket as openpgp.SecretSubkeyPacket;
  const hashedBinding = async (embedded: openpgp.SignaturePacket) => {
    const sig = new openpgp.SignaturePacket();
    sig.signatureType = openpgp.enums.signature.subkeyBinding;
    sig.publicKeyAlgorithm = secret.keyPacket.algorithm;
    sig.hashAlgorithm = openpgp.enums.hash.sha256;
    sig.keyFlags = Uint8Array.of(openpgp.enums.keyFlags.signData);
    sig.embeddedSignature = embedded;
    const at = new Date('2024-01-01T00:02:00Z');
    await (sig as unknown as { sign(k: unknown, d: unknown, t: Date, x: boolean, c: unknown): Promise<void> }).sign(
      secret.keyPacket,
      { key: secret.keyPacket, bind: subkeyPacket },
      at,
      false,
      { ...openpgp.config, nonDeterministicSignaturesViaNotation: false },
    );
    return frame(2, sig.write());
  };
  const subkeyFrame = packets.at(-2)?.raw as Uint8Array;
  const primaryParts = packets.slice(0, -2).map((p) => p.raw);
  writeFileSync(join(here, 'subkey-hashed-backsig.asc'), armorKey([...primaryParts, subkeyFrame, await hashedBinding(backsig)]));
  writeFileSync(join(here, 'subkey-hashed-bad-backsig.asc'), armorKey([...primaryParts, subkeyFrame, await hashedBinding(badBacksig)]));

  // Key revocation by gpg on 2024-06-01; menu answer 1 is "Key has been compromised" (code 2).
  gpg(
    ['--command-fd', '0', '--faked-system-time', '20240601T000000', '--output', join(home, 'rev.asc'), '--gen-revoke', fpr],
    'y\n1\nkey leaked\n\ny\n',
  );
  gpg(['--import', join(home, 'rev.asc')]);
  writeFileSync(join(here, 'issuer-revoked.asc'), gpg(['--armor', '--export', fpr]));
  console.log(`made ${outputs.join(', ')} for key ${fpr}`);
} finally {
  rmSync(home, { recursive: true, force: true });
}

interface Frame {
  tag: number;
  body: Uint8Array;
  raw: Uint8Array;
}

/** Packet frames, old or new format (RFC 4880 §4.2), as gpg writes them. */
function frames(bytes: Uint8Array): Frame[] {
  const out: Frame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const ctb = bytes[pos] as number;
    let tag: number;
    let length: number;
    let header: number;
    if (ctb & 0x40) {
      tag = ctb & 0x3f;
      const first = bytes[pos + 1] as number;
      if (first < 192) [length, header] = [first, 2];
      else if (first < 224) [length, header] = [((first - 192) << 8) + (bytes[pos + 2] as number) + 192, 3];
      else [length, header] = [Buffer.from(bytes.subarray(pos + 2, pos + 6)).readUInt32BE(0), 6];
    } else {
      tag = (ctb >> 2) & 0x0f;
      const type = ctb & 3;
      header = 1 + (1 << type);
      length = type === 0 ? (bytes[pos + 1] as number) : type === 1 ? Buffer.from(bytes.subarray(pos + 1, pos + 3)).readUInt16BE(0) : Buffer.from(bytes.subarray(pos + 1, pos + 5)).readUInt32BE(0);
    }
    out.push({ tag, body: bytes.subarray(pos + header, pos + header + length), raw: bytes.subarray(pos, pos + header + length) });
    pos += header + length;
  }
  return out;
}

/** New-format frame. */
function frame(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const len = n < 192 ? [n] : n < 8384 ? [((n - 192) >> 8) + 192, (n - 192) & 0xff] : [255, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return Buffer.concat([Uint8Array.of(0xc0 | tag, ...len), body]);
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}

function splitSignature(body: Uint8Array) {
  const hashedLength = (body[4] as number) * 256 + (body[5] as number);
  const hashed = body.subarray(0, 6 + hashedLength);
  const unhashedLength = (body[6 + hashedLength] as number) * 256 + (body[7 + hashedLength] as number);
  const unhashed = body.subarray(8 + hashedLength, 8 + hashedLength + unhashedLength);
  return { hashed, unhashed, tail: body.subarray(8 + hashedLength + unhashedLength) };
}

interface Sub {
  type: number;
  offset: number;
  headerLength: number;
  raw: Uint8Array;
}

function subpackets(area: Uint8Array): Sub[] {
  const out: Sub[] = [];
  let pos = 0;
  while (pos < area.length) {
    const first = area[pos] as number;
    const [length, headerLength] = first < 192 ? [first, 1] : first < 255 ? [((first - 192) << 8) + (area[pos + 1] as number) + 192, 2] : [Buffer.from(area.subarray(pos + 1, pos + 5)).readUInt32BE(0), 5];
    out.push({ type: (area[pos + headerLength] as number) & 0x7f, offset: pos, headerLength, raw: area.subarray(pos, pos + headerLength + length) });
    pos += headerLength + length;
  }
  return out;
}

function removeRange(area: Uint8Array, sub: Sub): Uint8Array {
  return Buffer.concat([area.subarray(0, sub.offset), area.subarray(sub.offset + sub.raw.length)]);
}
