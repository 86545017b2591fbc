// Making records and statements: new device keys, third-party certifications with cm4it
// notations (countersign, endorse, set status are one operation), certification
// revocations, and code signatures. Everything made here is returned through
// `parseRecord`, so a created record is verified exactly like a received one.
import * as openpgp from 'openpgp';
import { IcsError, isIcsError } from '../errors.ts';
import { literalBody } from './canonical.ts';
import { IssuerKeyring } from './issuers.ts';
import { verifyingKey } from './keys.ts';
import { mergeRecords } from './merge.ts';
import { notationsFor, type StatementInput } from './notations.ts';
import { binaryLiteral, signWithConfig } from './openpgp-internals.ts';
import { framePacket, PacketTag, scanPackets } from './packets.ts';
import { parseCodeRecord, parseKeyRecord } from './parse.ts';
import { type OpenPgpSigner, type SignatureContent, type SignatureTarget, writeSignature } from './signer.ts';
import { canonicalStatement } from './statement.ts';
import { type CodeRecord, type CodeStatement, type KeyRecord, SigType } from './types.ts';

/**
 * Who signs: a private key in memory (openpgp.js signs), or a signing function — a key in a
 * PKCS#11 token, through the project's own writer (signer.ts).
 */
export type Issuer = openpgp.PrivateKey | OpenPgpSigner;

function isSigner(issuer: Issuer): issuer is OpenPgpSigner {
  return 'sign' in issuer && typeof (issuer as OpenPgpSigner).sign === 'function' && 'keyBody' in issuer;
}

/** The issuer's v4 fingerprint, lower-case hex. */
export function issuerFingerprint(issuer: Issuer): string {
  return isSigner(issuer) ? issuer.fingerprint : issuer.getFingerprint().toLowerCase();
}

export type KeyAlgorithm = 'ed25519' | 'p256';

/** v4 keys GnuPG 2.2 reads: EdDSA (legacy Ed25519, algorithm 22) or ECDSA P-256. */
const CURVES: Record<KeyAlgorithm, 'ed25519Legacy' | 'nistP256'> = { ed25519: 'ed25519Legacy', p256: 'nistP256' };
/** openpgp.js would otherwise add a random salt notation to every v4 signature. */
const SIGN_CONFIG = { ...openpgp.config, nonDeterministicSignaturesViaNotation: false };

export interface NewIdentity {
  record: KeyRecord;
  /** The new private key, decrypted; callers protect it at rest (`armorPrivateKey`). */
  privateKey: openpgp.PrivateKey;
}

/** Creates a key with one user ID (a cm4it URN for devices) and its self-certification. */
export async function generateIdentity(options: { userId: string; algorithm?: KeyAlgorithm; created?: Date }): Promise<NewIdentity> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: CURVES[options.algorithm ?? 'ed25519'],
    userIDs: [{ name: options.userId }],
    subkeys: [],
    date: options.created ?? new Date(),
    format: 'object',
    config: SIGN_CONFIG,
  });
  const { record } = await parseKeyRecord(privateKey.toPublic().write());
  if (record.userIds[0]?.userId !== options.userId) throw new IcsError('INTERNAL', 'generated user ID differs from the requested one');
  return { record, privateKey };
}

/**
 * The key record of a key held by a signing function (a token's key): its public key packet,
 * the user ID, and a positive self-certification the signer makes.
 */
export async function signerIdentity(signer: OpenPgpSigner, userId: string, created: Date): Promise<KeyRecord> {
  const name = new TextEncoder().encode(userId);
  const selfCertification = await writeSignature(signer, { type: SigType.certPositive, created, selfCertification: true }, { keyBody: signer.keyBody, userId: name });
  const bytes = Buffer.concat([framePacket(PacketTag.publicKey, signer.keyBody), framePacket(PacketTag.userId, name), selfCertification]);
  const { record } = await parseKeyRecord(bytes);
  if (record.id !== signer.fingerprint || record.userIds[0]?.userId !== userId) throw new IcsError('INTERNAL', 'the key made elsewhere does not read back as itself');
  return record;
}

/** Armors a private key, encrypted with `passphrase` when one is given. */
export async function armorPrivateKey(key: openpgp.PrivateKey, passphrase?: string): Promise<string> {
  if (!passphrase) return key.armor();
  const encrypted = await openpgp.encryptKey({ privateKey: key, passphrase });
  return encrypted.armor();
}

/** Reads an armored private key, decrypting it with `passphrase` when it is protected. */
export async function readPrivateKey(armored: string, passphrase?: string): Promise<openpgp.PrivateKey> {
  try {
    const key = await openpgp.readPrivateKey({ armoredKey: armored });
    if (key.isDecrypted()) return key;
    if (!passphrase) throw new IcsError('KEY_UNUSABLE', 'private key is passphrase-protected and no passphrase was given');
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch (cause) {
    if (cause instanceof IcsError) throw cause;
    throw new IcsError('KEY_UNUSABLE', 'private key cannot be read or decrypted', { cause });
  }
}

async function ringOf(issuer: Issuer): Promise<IssuerKeyring> {
  const ring = new IssuerKeyring();
  if (isSigner(issuer)) {
    const packet = new openpgp.PublicKeyPacket();
    await packet.read(issuer.keyBody);
    ring.add(verifyingKey(packet));
  } else {
    ring.add(verifyingKey(issuer.toPublic().keyPacket as openpgp.PublicKeyPacket));
  }
  return ring;
}

function hashFor(issuer: openpgp.PrivateKey): number {
  const bits = (issuer.keyPacket.publicParams as { oid?: { getName(): string } }).oid?.getName();
  return bits === 'nistP384' ? openpgp.enums.hash.sha384 : bits === 'nistP521' ? openpgp.enums.hash.sha512 : openpgp.enums.hash.sha256;
}

function newSignature(issuer: openpgp.PrivateKey, type: number, input: { notations?: StatementInput; expiresInSeconds?: number }) {
  if (!issuer.isDecrypted()) throw new IcsError('KEY_UNUSABLE', 'issuer key is not decrypted');
  const sig = new openpgp.SignaturePacket();
  sig.signatureType = type;
  sig.publicKeyAlgorithm = issuer.keyPacket.algorithm;
  sig.hashAlgorithm = hashFor(issuer);
  if (input.notations) {
    const encoder = new TextEncoder();
    (sig as unknown as { rawNotations: unknown[] }).rawNotations = notationsFor(input.notations).map((n) => ({
      name: n.name,
      value: encoder.encode(n.value),
      humanReadable: true,
      critical: false,
    }));
  }
  if (input.expiresInSeconds !== undefined) {
    if (!(input.expiresInSeconds > 0)) throw new IcsError('BAD_REQUEST', 'expiry must be a positive number of seconds');
    sig.signatureExpirationTime = Math.floor(input.expiresInSeconds);
    sig.signatureNeverExpires = false;
  }
  return sig;
}

async function keyAndUserId(record: KeyRecord, userId: string | undefined) {
  const binding = userId === undefined ? record.userIds[0] : record.userIds.find((u) => u.userId === userId);
  if (!binding) throw new IcsError('NOT_FOUND', `record ${record.id} has no user ID ${JSON.stringify(userId)}`);
  const [keyRaw] = scanPackets(record.primaryKey.packet, { maxPackets: 1 });
  const [uidRaw] = scanPackets(binding.packet, { maxPackets: 1 });
  const key = new openpgp.PublicKeyPacket();
  await key.read((keyRaw as { body: Uint8Array }).body);
  const uid = new openpgp.UserIDPacket();
  uid.read((uidRaw as { body: Uint8Array }).body);
  return { binding, key, uid };
}

export interface CertifyOptions {
  /** The user ID to certify; the record's first one by default. */
  userId?: string;
  created?: Date;
  /** Seconds after creation when the certification stops counting. */
  expiresInSeconds?: number;
}

/**
 * Adds a third-party certification (type 0x10) by `issuer` over the record's user ID,
 * carrying the statement as notations; returns the merged record.
 */
export async function certify(
  record: KeyRecord,
  issuer: Issuer,
  statement: StatementInput,
  options: CertifyOptions = {},
): Promise<KeyRecord> {
  if (isSigner(issuer)) {
    const content = { type: SigType.certGeneric, created: options.created ?? new Date(), notations: notationsFor(statement), expiresInSeconds: options.expiresInSeconds };
    return attachWritten(record, issuer, content, options.userId);
  }
  const sig = newSignature(issuer, SigType.certGeneric, { notations: statement, expiresInSeconds: options.expiresInSeconds });
  return attach(record, issuer, sig, options);
}

/** Withdraws `issuer`'s earlier certifications of the user ID (type 0x30, RFC 4880 §5.2.1). */
export async function revokeCertification(
  record: KeyRecord,
  issuer: Issuer,
  options: { userId?: string; created?: Date; reason?: string } = {},
): Promise<KeyRecord> {
  if (isSigner(issuer)) {
    const content = { type: SigType.certRevocation, created: options.created ?? new Date(), revocation: { code: openpgp.enums.reasonForRevocation.noReason, reason: options.reason ?? '' } };
    return attachWritten(record, issuer, content, options.userId);
  }
  const sig = newSignature(issuer, SigType.certRevocation, {});
  sig.reasonForRevocationFlag = openpgp.enums.reasonForRevocation.noReason;
  sig.reasonForRevocationString = options.reason ?? '';
  return attach(record, issuer, sig, options);
}

async function attach(
  record: KeyRecord,
  issuer: openpgp.PrivateKey,
  sig: openpgp.SignaturePacket,
  options: { userId?: string; created?: Date },
): Promise<KeyRecord> {
  const { binding, key, uid } = await keyAndUserId(record, options.userId);
  await signWithConfig(
    sig,
    issuer.keyPacket as openpgp.SecretKeyPacket,
    { userID: uid, key },
    options.created ?? new Date(),
    false,
    SIGN_CONFIG,
  );
  return mergeSignature(record, binding, issuer, framePacket(PacketTag.signature, sig.write()));
}

/** `attach` for a signing function: the signature written by signer.ts. */
async function attachWritten(record: KeyRecord, signer: OpenPgpSigner, content: SignatureContent, userId: string | undefined): Promise<KeyRecord> {
  const { binding, key, uid } = await keyAndUserId(record, userId);
  const target: SignatureTarget = { keyBody: key.write(), userId: uid.write() };
  return mergeSignature(record, binding, signer, await writeSignature(signer, content, target));
}

/** Reads the user ID with its self-signatures and the new signature back as a record (verifying it) and merges it. */
async function mergeSignature(record: KeyRecord, binding: KeyRecord['userIds'][number], issuer: Issuer, signature: Uint8Array): Promise<KeyRecord> {
  const selfSigs = binding.signatures.filter((s) => s.self).map((s) => s.packet);
  const bytes = Buffer.concat([record.primaryKey.packet, binding.packet, ...selfSigs, signature]);
  const { record: signed } = await parseKeyRecord(bytes, { issuers: await ringOf(issuer) }).catch((error: unknown) => {
    throw isIcsError(error, 'SIGNATURE_INVALID') ? notVerifying(issuer) : error;
  });
  const fingerprint = issuerFingerprint(issuer);
  if (!signed.userIds.some((u) => u.signatures.some((s) => !s.self && s.issuer === fingerprint))) throw notVerifying(issuer);
  return mergeRecords(record, signed);
}

/** A signing function whose key is not the public key it names (a token object swapped, a wrong label). */
function notVerifying(issuer: Issuer): IcsError {
  const where = isSigner(issuer) ? ` (${issuer.location})` : '';
  return new IcsError('KEY_UNUSABLE', `the signature made with the key of ${issuerFingerprint(issuer)}${where} does not verify with that public key`);
}

/** A detached signature (type 0x00) over the statement's RFC 8785 bytes, with notations. */
export async function signStatement(
  statement: CodeStatement,
  issuer: Issuer,
  input: StatementInput,
  options: { created?: Date; expiresInSeconds?: number } = {},
): Promise<Uint8Array> {
  const canonical = canonicalStatement(statement);
  if (isSigner(issuer)) {
    const content = { type: SigType.binary, created: options.created ?? new Date(), notations: notationsFor(input), expiresInSeconds: options.expiresInSeconds };
    return writeSignature(issuer, content, { data: canonical });
  }
  const sig = newSignature(issuer, SigType.binary, { notations: input, expiresInSeconds: options.expiresInSeconds });
  await signWithConfig(
    sig,
    issuer.keyPacket as openpgp.SecretKeyPacket,
    binaryLiteral(canonical),
    options.created ?? new Date(),
    true,
    SIGN_CONFIG,
  );
  return framePacket(PacketTag.signature, sig.write());
}

/** Encodes a statement with (unverified) signature packets as code-record bytes. */
export function codeRecordBytes(statement: CodeStatement, signatures: readonly Uint8Array[] = []): Uint8Array {
  return Buffer.concat([...signatures, framePacket(PacketTag.literalData, literalBody(canonicalStatement(statement)))]);
}

/** Signs a statement and returns the code record (merged with `record` when given). */
export async function signCode(
  statement: CodeStatement,
  issuer: Issuer,
  input: StatementInput,
  options: { created?: Date; expiresInSeconds?: number; record?: CodeRecord } = {},
): Promise<CodeRecord> {
  const sig = await signStatement(statement, issuer, input, options);
  const { record } = await parseCodeRecord(codeRecordBytes(statement, [sig]), { issuers: await ringOf(issuer) }).catch((error: unknown) => {
    throw isIcsError(error, 'SIGNATURE_INVALID') ? notVerifying(issuer) : error;
  });
  if (!record.signatures.some((s) => s.issuer === issuerFingerprint(issuer))) throw notVerifying(issuer);
  return options.record ? mergeRecords(options.record, record) : record;
}
