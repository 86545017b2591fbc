// C2SP signed notes (signed-note.md) with Ed25519 signatures, and the checkpoints of C2SP
// tlog-checkpoint carried in them: the text, a blank line, then one line per signature,
// "— <name> <base64(key hash ‖ signature)>". A key is named and hashed as the spec says
// (SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), first 4 bytes), and a verifier key is written
// "<name>+<key hash hex>+<base64(0x01 ‖ public key)>". Checked against C2SP's example
// (test/tlog/note.test.ts).
import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { IcsError } from '../errors.ts';

const ED25519 = 0x01;
const DASH = '\u2014';
/** Notes and signatures larger than this are refused unread (a checkpoint is ~200 bytes). */
export const MAX_NOTE_BYTES = 16 * 1024;
const MAX_SIGNATURES = 100;

/** The raw 32-byte Ed25519 public key of a key object. */
export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new IcsError('KEY_UNUSABLE', 'a signed note needs an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

function checkName(name: string): void {
  if (name === '' || /[\s+]/u.test(name)) throw new IcsError('BAD_REQUEST', `a note signer's name has no spaces or '+': ${JSON.stringify(name)}`);
}

export function keyHash(name: string, publicKey: Uint8Array): Buffer {
  return createHash('sha256').update(`${name}\n`).update(Uint8Array.of(ED25519)).update(publicKey).digest().subarray(0, 4);
}

export interface NoteVerifier {
  readonly name: string;
  readonly hash: Buffer;
  readonly key: KeyObject;
}

/** "<name>+<hash>+<base64 key>" for an Ed25519 public key. */
export function verifierKey(name: string, publicKey: Uint8Array): string {
  checkName(name);
  return `${name}+${keyHash(name, publicKey).toString('hex')}+${Buffer.concat([Uint8Array.of(ED25519), publicKey]).toString('base64')}`;
}

export function parseVerifierKey(text: string): NoteVerifier {
  // The base64 key may itself hold '+': the name ends at the first '+', the hash is 8 hex digits.
  const match = /^([^\s+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(text.trim());
  const bad = (why: string) => new IcsError('BAD_REQUEST', `not a verifier key (${why}): ${JSON.stringify(text.slice(0, 80))}`);
  if (!match) throw bad('name+hash+key expected');
  const [, name, hashHex, keyB64] = match as unknown as [string, string, string, string];
  const bytes = Buffer.from(keyB64, 'base64');
  if (bytes.length !== 33 || bytes[0] !== ED25519) throw bad('only Ed25519 keys are supported');
  const raw = bytes.subarray(1);
  const hash = keyHash(name, raw);
  if (hash.toString('hex') !== hashHex) throw bad('its hash does not match its name and key');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  return { name, hash, key };
}

/** `text` (ending in a newline) signed by `name` with `privateKey`: the whole note. */
export function signNote(text: string, name: string, privateKey: KeyObject): string {
  checkName(name);
  if (!text.endsWith('\n') || text.includes('\n\n')) throw new IcsError('INTERNAL', 'a note text ends with a newline and holds no blank line');
  const signature = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n${signatureLine(name, rawPublicKey(privateKey), signature)}`;
}

export function signatureLine(name: string, publicKey: Uint8Array, signature: Uint8Array): string {
  return `${DASH} ${name} ${Buffer.concat([keyHash(name, publicKey), signature]).toString('base64')}\n`;
}

export interface NoteSignature {
  readonly name: string;
  readonly hash: Buffer;
  readonly signature: Buffer;
  readonly line: string;
}

/** A note's text and signature lines, unverified; BAD_REQUEST when it is not a note. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (Buffer.byteLength(note) > MAX_NOTE_BYTES) throw new IcsError('LIMIT_EXCEEDED', `a note is at most ${MAX_NOTE_BYTES} bytes`);
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new IcsError('BAD_REQUEST', 'not a signed note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new IcsError('LIMIT_EXCEEDED', `a note carries at most ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    const bytes = match ? Buffer.from(match[2] as string, 'base64') : Buffer.alloc(0);
    if (!match || bytes.length < 5) throw new IcsError('BAD_REQUEST', `not a signature line: ${JSON.stringify(line.slice(0, 80))}`);
    return { name: match[1] as string, hash: bytes.subarray(0, 4), signature: bytes.subarray(4), line: `${line}\n` };
  });
  return { text, signatures };
}

/** The note's text when `verifier` signed it; BAD_REQUEST when it did not (or the note is malformed). */
export function verifyNote(note: string, verifier: NoteVerifier): string {
  const { text, signatures } = parseNote(note);
  const mine = signatures.filter((s) => s.name === verifier.name && s.hash.equals(verifier.hash));
  if (!mine.some((s) => s.signature.length === 64 && verify(null, Buffer.from(text, 'utf8'), verifier.key, s.signature))) {
    throw new IcsError('BAD_REQUEST', `the note carries no valid signature by ${verifier.name}`);
  }
  return text;
}

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Buffer;
}

/** The checkpoint body (C2SP tlog-checkpoint): origin, size and root, each on its line. */
export function checkpointText(c: Checkpoint): string {
  if (/[\n]/.test(c.origin) || c.origin === '') throw new IcsError('INTERNAL', 'a checkpoint origin is one non-empty line');
  return `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const [origin, sizeText, rootText] = text.split('\n');
  const size = /^(0|[1-9][0-9]{0,15})$/.test(sizeText ?? '') ? Number(sizeText) : Number.NaN;
  const root = Buffer.from(rootText ?? '', 'base64');
  if (!origin || !Number.isSafeInteger(size) || root.length !== 32 || root.toString('base64') !== rootText) {
    throw new IcsError('BAD_REQUEST', 'not a checkpoint (origin, tree size, base64 root hash)');
  }
  return { origin, size, root };
}
