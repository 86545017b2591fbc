// The one entry point from untrusted bytes to a verified record (STYLE "Records").
// Order of work: size limits, armor, frame scan with allow-list and packet count, packet
// parse, structural checks, then every kept signature verified cryptographically. A
// caller gets a fully verified record or an IcsError; never a half-checked object.
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as openpgp from 'openpgp';
import { IcsError } from '../errors.ts';
import { dearmor } from './armor.ts';
import { assembleCodeRecord, assembleKeyRecord, unionSignatures } from './canonical.ts';
import { IssuerKeyring } from './issuers.ts';
import { describeKey } from './key-facts.ts';
import { type VerifyingKey, verifyingKey } from './keys.ts';
import { DEFAULT_LIMITS, type RecordLimits } from './limits.ts';
import { framePacket, isSkippedPacket, PacketTag, type RawPacket, scanPackets } from './packets.ts';
import {
  canonicalSignatureBody,
  keyHashPrefix,
  readSignature,
  readSignatureHead,
  type SignatureFields,
  userIdHashPrefix,
} from './signature.ts';
import { readCanonicalStatement } from './statement.ts';
import {
  type CodeRecord,
  type DroppedSignature,
  type DropReason,
  type IdentityRecord,
  KEY_FLAG_SIGN,
  type KeyRecord,
  type Notation,
  type ParseResult,
  type PublicKeyInfo,
  SigType,
  type VerifiedSignature,
} from './types.ts';
import { verifySignature } from './verify.ts';

export interface ParseOptions {
  /** Keys whose third-party signatures can be verified; others are dropped. */
  issuers?: IssuerKeyring;
  limits?: RecordLimits;
  /** Reference time: signatures created after `now` + skew are dropped. */
  now?: Date;
  /** Tolerated clock difference between nodes, seconds. */
  clockSkewSeconds?: number;
  /**
   * Awaited between slices of PACKETS_PER_TURN packets; one turn of the event loop when absent.
   * A caller that parses untrusted bulk (a large submission) passes one that waits longer.
   */
  pace?: () => Promise<unknown>;
}

const DEFAULT_CLOCK_SKEW_SECONDS = 600;
/** Notations this product understands, so they may be marked critical (RFC 4880 §5.2.3.16). */
const KNOWN_NOTATION_DOMAIN = '@cm4it.org';
/** openpgp.js must neither skip nor tolerate anything: every packet is accounted for here. */
const STRICT_CONFIG = { ...openpgp.config, ignoreUnsupportedPackets: false, ignoreMalformedPackets: false };
/**
 * Packets handled between two turns of the event loop: a record near the packet cap is
 * parsed in slices of ~1 ms, so that lookups interleave with a large (or hostile) upload.
 */
const PACKETS_PER_TURN = 256;
const CERTIFICATIONS: ReadonlySet<number> = new Set([SigType.certGeneric, SigType.certPersona, SigType.certCasual, SigType.certPositive]);

type SigTarget = { kind: 'key' } | { kind: 'uid'; index: number } | { kind: 'subkey'; index: number } | { kind: 'code' };

interface PendingSignature {
  packet: SignatureFields;
  target: SigTarget;
  /** Keys to verify with; empty when reviving stored bytes. */
  issuer: VerifyingKey[];
  /** Set when reviving: the issuer recorded in the stored signature. */
  storedIssuer?: string;
  self: boolean;
  index: number;
  /** sha256 of the hashed part and the signature value: equal for copies of one signature. */
  sigId: string;
}

/** Parses and verifies a device/service/organisation key or a code record. */
export async function parseRecord(input: Uint8Array | string, options: ParseOptions = {}): Promise<ParseResult> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  return parsePackets(await dearmor(input, limits), options, limits, false);
}

/**
 * Rebuilds a record from canonical bytes that this node verified and stored earlier,
 * without repeating the cryptography. MUST NOT be given bytes from anywhere else: the
 * issuer of each signature is taken from its (unsigned) canonical unhashed area.
 */
export async function reviveRecord(bytes: Uint8Array): Promise<IdentityRecord> {
  const limits = { ...DEFAULT_LIMITS, maxRecordBytes: Number.MAX_SAFE_INTEGER, maxPackets: Number.MAX_SAFE_INTEGER };
  return (await parsePackets(bytes, { clockSkewSeconds: Number.POSITIVE_INFINITY }, limits, true)).record;
}

async function parsePackets(bytes: Uint8Array, options: ParseOptions, limits: RecordLimits, revive: boolean): Promise<ParseResult> {
  const packets = scanPackets(bytes, limits).filter((p) => !isSkippedPacket(p.tag));
  const first = packets[0];
  if (!first) throw new IcsError('RECORD_MALFORMED', 'no OpenPGP packets in input');
  if (first.tag === PacketTag.publicKey) return parseKeyPackets(packets, options, limits, revive);
  if (first.tag === PacketTag.signature || first.tag === PacketTag.literalData) {
    return parseCodePackets(packets, options, limits, revive);
  }
  throw notAllowed(first);
}

export async function parseKeyRecord(input: Uint8Array | string, options: ParseOptions = {}): Promise<ParseResult<KeyRecord>> {
  const result = await parseRecord(input, options);
  if (result.record.type !== 'key') throw new IcsError('RECORD_MALFORMED', 'expected a public key, got a code record');
  return result as ParseResult<KeyRecord>;
}

export async function parseCodeRecord(input: Uint8Array | string, options: ParseOptions = {}): Promise<ParseResult<CodeRecord>> {
  const result = await parseRecord(input, options);
  if (result.record.type !== 'code') throw new IcsError('RECORD_MALFORMED', 'expected a code record, got a public key');
  return result as ParseResult<CodeRecord>;
}

function notAllowed(packet: RawPacket): IcsError {
  const what =
    packet.tag === PacketTag.secretKey || packet.tag === PacketTag.secretSubkey
      ? 'secret key material is never accepted'
      : packet.tag === PacketTag.compressedData
        ? 'compressed data is not accepted'
        : `packet type ${packet.tag} is not allowed here`;
  return new IcsError('PACKET_NOT_ALLOWED', `packet ${packet.index}: ${what}`, { details: { tag: packet.tag } });
}

async function readPacket<T extends { read(bytes: Uint8Array, config?: unknown): unknown }>(packet: T, raw: RawPacket): Promise<T> {
  try {
    await packet.read(raw.body, STRICT_CONFIG);
  } catch (cause) {
    throw new IcsError('RECORD_MALFORMED', `packet ${raw.index}: ${(cause as Error).message}`, { cause });
  }
  return packet;
}

function readSignatureAt(raw: RawPacket): SignatureFields {
  try {
    return readSignature(raw.body);
  } catch (cause) {
    const reason = cause instanceof IcsError ? cause.message : String(cause);
    throw new IcsError('RECORD_MALFORMED', `packet ${raw.index}: ${reason}`, { cause });
  }
}

/** Collects dropped signatures and the signatures to verify, for one record. */
class SignatureTriage {
  readonly dropped: DroppedSignature[] = [];
  readonly pending: PendingSignature[] = [];
  readonly #notAfter: number;
  /** Signature ids seen and signatures counted per (target, issuer), before any verification. */
  readonly #seen = new Set<string>();
  readonly #perSigner = new Map<string, number>();
  /** Copies of signatures refused unread, so that each is reported once. */
  readonly #seenUnread = new Set<string>();

  constructor(
    private readonly issuers: IssuerKeyring,
    private readonly limits: RecordLimits,
    private readonly selfKey: VerifyingKey | undefined,
    options: ParseOptions,
    /** Reviving bytes this node verified before: structure only, no cryptography. */
    readonly revive = false,
  ) {
    const now = (options.now ?? new Date()).getTime();
    this.#notAfter = now + (options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS) * 1000;
  }

  /** Records a signature as dropped; returns false so that `consider` can return it. */
  drop(packet: SignatureFields, reason: DropReason, detail: string): false {
    this.dropped.push({ reason, issuer: issuerName(packet), type: packet.type, detail });
    return false;
  }

  /**
   * Refuses a third-party signature from its issuer subpackets alone, before it is read:
   * one by an issuer this node does not know (the flood of CVE-2019-13050), or one that only
   * the key itself may make. True when refused; false leaves it to `consider`, which repeats
   * these checks on the full reading (and reports malformed packets, never skipped here).
   */
  refuseUnread(raw: RawPacket, target: SigTarget, allowedTypes: ReadonlySet<number>): boolean {
    if (this.revive) return false;
    const head = readSignatureHead(raw.body);
    if (!head || !allowedTypes.has(head.type)) return false;
    const { issuerFingerprint: fingerprint, issuerKeyId: keyId } = head;
    const selfKey = this.selfKey;
    if (selfKey && (fingerprint === selfKey.fingerprint || (!fingerprint && keyId === selfKey.fingerprint.slice(-16)))) return false;
    const issuer = fingerprint ?? keyId;
    const thirdPartyAllowed =
      target.kind === 'code' || (target.kind === 'uid' && (CERTIFICATIONS.has(head.type) || head.type === SigType.certRevocation));
    if (!thirdPartyAllowed) {
      const copy = `${targetKeyOf(target)} ${head.copyKey}`;
      if (this.#seenUnread.has(copy)) return true;
      this.#seenUnread.add(copy);
      this.dropped.push({ reason: 'NOT_ALLOWED', issuer, type: head.type, detail: 'only the key itself may make this signature' });
      return true;
    }
    if (this.issuers.candidates(fingerprint, keyId).length > 0) return false;
    const copy = `${targetKeyOf(target)} ${head.copyKey}`;
    if (this.#seenUnread.has(copy)) return true;
    this.#seenUnread.add(copy);
    this.dropped.push({ reason: 'UNKNOWN_ISSUER', issuer, type: head.type, detail: 'issuer key not known to this node' });
    return true;
  }

  /** Decides whether `packet` is worth verifying, and against which key(s); true when queued. */
  consider(packet: SignatureFields, target: SigTarget, allowedTypes: ReadonlySet<number>, index: number): boolean {
    if (packet.version !== 4) return this.drop(packet, 'UNSUPPORTED', `version ${packet.version} signature`);
    const type = packet.type;
    if (!allowedTypes.has(type)) return this.drop(packet, 'NOT_ALLOWED', `signature type 0x${type.toString(16)} not valid here`);
    // Key servers trim local certifications (RFC 4880 §5.2.3.11).
    if (packet.exportable === false) return this.drop(packet, 'NOT_ALLOWED', 'local (non-exportable) certification');
    // Copies of one signature are verified once; the cap per signer is checked before any
    // cryptography, so that an upload of thousands of copies is refused cheaply.
    const sigId = signatureId(packet);
    const targetKey = targetKeyOf(target);
    if (this.#seen.has(`${targetKey} ${sigId}`)) return false;
    this.#seen.add(`${targetKey} ${sigId}`);
    const fingerprint = packet.issuerFingerprint;
    const keyIdHex = packet.issuerKeyId;
    const self =
      this.selfKey !== undefined &&
      (fingerprint === this.selfKey.fingerprint || (!fingerprint && keyIdHex === this.selfKey.fingerprint.slice(-16)));
    const thirdPartyAllowed =
      target.kind === 'code' || (target.kind === 'uid' && (CERTIFICATIONS.has(type) || type === SigType.certRevocation));
    if (!self && !thirdPartyAllowed) return this.drop(packet, 'NOT_ALLOWED', 'only the key itself may make this signature');
    if (this.revive) {
      const storedIssuer = self ? this.selfKey?.fingerprint : fingerprint;
      if (!storedIssuer) throw new IcsError('INTERNAL', `packet ${index}: stored signature without issuer fingerprint`);
      this.pending.push({ packet, target, issuer: [], storedIssuer, self, index, sigId });
      return true;
    }
    const candidates = self && this.selfKey ? [this.selfKey] : this.issuers.candidates(fingerprint, keyIdHex);
    if (candidates.length === 0) return this.drop(packet, 'UNKNOWN_ISSUER', 'issuer key not known to this node');
    if (!packet.created || packet.created.getTime() > this.#notAfter) {
      return this.drop(packet, 'NOT_ALLOWED', 'signature creation time missing or in the future');
    }
    if (packet.unknownCritical !== undefined)
      return this.drop(packet, 'NOT_ALLOWED', `unknown critical subpacket ${packet.unknownCritical}`);
    const notations = packet.notations;
    if (notations.length > this.limits.maxNotationsPerSignature) {
      throw new IcsError('LIMIT_EXCEEDED', `packet ${index}: more than ${this.limits.maxNotationsPerSignature} notations`, {
        details: { limit: 'maxNotationsPerSignature' },
      });
    }
    for (const n of notations) {
      if (n.value.length > this.limits.maxNotationValueBytes) {
        throw new IcsError('LIMIT_EXCEEDED', `packet ${index}: notation value over ${this.limits.maxNotationValueBytes} bytes`, {
          details: { limit: 'maxNotationValueBytes' },
        });
      }
      if (n.critical && !n.name.endsWith(KNOWN_NOTATION_DOMAIN)) {
        return this.drop(packet, 'NOT_ALLOWED', `unknown critical notation ${n.name}`);
      }
    }
    const signerKey = `${targetKey} ${candidates[0]?.fingerprint}`;
    const count = (this.#perSigner.get(signerKey) ?? 0) + 1;
    this.#perSigner.set(signerKey, count);
    if (count > this.limits.maxSignaturesPerSigner) {
      throw new IcsError(
        'LIMIT_EXCEEDED',
        `more than ${this.limits.maxSignaturesPerSigner} signatures by ${issuerName(packet)} on one target`,
        {
          details: { limit: 'maxSignaturesPerSigner', issuer: issuerName(packet) },
        },
      );
    }
    this.pending.push({ packet, target, issuer: candidates, self, index, sigId });
    return true;
  }
}

function targetKeyOf(target: SigTarget): string {
  return target.kind === 'uid' || target.kind === 'subkey' ? `${target.kind}${target.index}` : target.kind;
}

function signatureId(packet: SignatureFields): string {
  return createHash('sha256').update(packet.hashedPart).update(packet.value).digest('hex');
}

function issuerName(packet: SignatureFields): string | undefined {
  return packet.issuerFingerprint ?? packet.issuerKeyId;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

function decodeNotations(packet: SignatureFields): Notation[] {
  const out: Notation[] = [];
  for (const n of packet.notations) {
    if (!n.humanReadable) continue;
    try {
      out.push({ name: n.name, value: textDecoder.decode(n.value) });
    } catch {
      // A "human-readable" value that is not UTF-8 is kept in the packet but not interpreted.
    }
  }
  return out;
}

/**
 * Verifies a pending signature and returns its canonical form. The unhashed area is
 * replaced by the verified issuer's key id and fingerprint alone: it is not covered by the
 * signature, so keeping whatever a sender put there would let copies of one signature
 * differ (and grow). The fingerprint lets stored records be revived without a key ring.
 */
async function settle(
  pending: PendingSignature,
  prefix: readonly Uint8Array[],
  primaryCreated: Date | undefined,
  backsig?: Backsig,
): Promise<VerifiedSignature | DropReason> {
  const { packet } = pending;
  let verifiedBy: string | undefined = pending.storedIssuer;
  try {
    for (const key of verifiedBy ? [] : pending.issuer) {
      if (await verifySignature(packet, key, prefix)) {
        verifiedBy = key.fingerprint;
        break;
      }
    }
  } catch (error) {
    if (error instanceof IcsError && error.code === 'ALGORITHM_UNSUPPORTED') return 'UNSUPPORTED';
    throw error;
  }
  if (!verifiedBy) {
    throw new IcsError('SIGNATURE_INVALID', `packet ${pending.index}: signature by ${issuerName(packet) ?? 'unknown'} does not verify`, {
      details: { issuer: issuerName(packet), type: packet.type },
    });
  }
  const created = packet.created as Date;
  const expirySeconds = packet.expirySeconds;
  const keyExpirySeconds = packet.keyExpirySeconds;
  const revocation = packet.revocation;
  return {
    type: packet.type,
    issuer: verifiedBy,
    self: pending.self,
    created,
    expires: expirySeconds ? new Date(created.getTime() + expirySeconds * 1000) : undefined,
    keyExpires:
      pending.self && keyExpirySeconds && primaryCreated ? new Date(primaryCreated.getTime() + keyExpirySeconds * 1000) : undefined,
    hashAlgorithm: packet.hashAlgorithm,
    notations: decodeNotations(packet),
    ...(packet.keyFlags !== undefined && { keyFlags: packet.keyFlags }),
    ...(revocation && { revocationReason: { code: revocation.code, text: revocation.text } }),
    ...(backsig?.valid && { backsig: true }),
    sigId: pending.sigId,
    packet: framePacket(PacketTag.signature, canonicalSignatureBody(packet, verifiedBy, backsig?.unhashed)),
  };
}

function checkPerSigner(sigs: readonly VerifiedSignature[], limits: RecordLimits, where: string): void {
  const counts = new Map<string, number>();
  for (const sig of sigs) {
    const n = (counts.get(sig.issuer) ?? 0) + 1;
    counts.set(sig.issuer, n);
    if (n > limits.maxSignaturesPerSigner) {
      throw new IcsError('LIMIT_EXCEEDED', `${where}: more than ${limits.maxSignaturesPerSigner} signatures by ${sig.issuer}`, {
        details: { limit: 'maxSignaturesPerSigner', issuer: sig.issuer },
      });
    }
  }
}

/** Stand-in key material for revive mode, where nothing is verified. */
const UNUSED_KEY = { algorithm: 0, keyObject: undefined as never, partBytes: 0, signsDigest: false } as const;

interface UidSlot {
  userId: string;
  /** Hash-input prefix of the user ID (§5.2.4). */
  prefix: Uint8Array;
  framed: Uint8Array;
  signatures: VerifiedSignature[];
}

interface SubkeySlot {
  /** Hash-input prefix of the subkey (§5.2.4). */
  prefix: Uint8Array;
  packet: openpgp.PublicSubkeyPacket;
  info: PublicKeyInfo;
  signatures: VerifiedSignature[];
}

const KEY_SIG_TYPES: ReadonlySet<number> = new Set([SigType.directKey, SigType.keyRevocation]);
const UID_SIG_TYPES: ReadonlySet<number> = new Set([...CERTIFICATIONS, SigType.certRevocation]);
const SUBKEY_SIG_TYPES: ReadonlySet<number> = new Set([SigType.subkeyBinding, SigType.subkeyRevocation]);
const CODE_SIG_TYPES: ReadonlySet<number> = new Set([SigType.binary]);

async function parseKeyPackets(
  packets: RawPacket[],
  options: ParseOptions,
  limits: RecordLimits,
  revive: boolean,
): Promise<ParseResult<KeyRecord>> {
  const [first, ...rest] = packets as [RawPacket, ...RawPacket[]];
  const primary = await readPacket(new openpgp.PublicKeyPacket(), first);
  if (primary.version !== 4) throw new IcsError('ALGORITHM_UNSUPPORTED', `version ${primary.version} keys are not accepted`);
  const primaryBody = primary.write();
  const primaryPrefix = keyHashPrefix(primaryBody);
  const primaryKey = describeKey(PacketTag.publicKey, primaryBody, primary.getFingerprint());
  // Reviving needs only the fingerprint; building a verifying key would be wasted work.
  const selfKey: VerifyingKey = revive ? { fingerprint: primaryKey.fingerprint, ...UNUSED_KEY } : verifyingKey(primary);
  const triage = new SignatureTriage(options.issuers ?? new IssuerKeyring(), limits, selfKey, options, revive);
  const uids: UidSlot[] = [];
  const subkeys: SubkeySlot[] = [];
  let target: SigTarget | { kind: 'skip' } = { kind: 'key' };
  let allowed = KEY_SIG_TYPES;

  for (const raw of rest) {
    if (raw.index % PACKETS_PER_TURN === 0) await (options.pace ?? nextTurn)();
    switch (raw.tag) {
      case PacketTag.signature: {
        if (target.kind !== 'skip' && triage.refuseUnread(raw, target, allowed)) break;
        const sig = readSignatureAt(raw);
        if (target.kind === 'skip') triage.drop(sig, 'NOT_ALLOWED', 'signature on a user attribute');
        else triage.consider(sig, target, allowed, raw.index);
        break;
      }
      case PacketTag.userId: {
        if (raw.body.length > limits.maxUserIdBytes) {
          throw new IcsError('LIMIT_EXCEEDED', `packet ${raw.index}: user ID over ${limits.maxUserIdBytes} bytes`, {
            details: { limit: 'maxUserIdBytes' },
          });
        }
        let userId: string;
        try {
          userId = textDecoder.decode(raw.body);
        } catch (cause) {
          throw new IcsError('RECORD_MALFORMED', `packet ${raw.index}: user ID is not UTF-8`, { cause });
        }
        let index = uids.findIndex((u) => u.userId === userId);
        if (index < 0) {
          if (uids.length >= limits.maxUserIds) {
            throw new IcsError('LIMIT_EXCEEDED', `more than ${limits.maxUserIds} user IDs`, { details: { limit: 'maxUserIds' } });
          }
          uids.push({ userId, prefix: userIdHashPrefix(raw.body), framed: framePacket(PacketTag.userId, raw.body), signatures: [] });
          index = uids.length - 1;
        }
        target = { kind: 'uid', index };
        allowed = UID_SIG_TYPES;
        break;
      }
      case PacketTag.publicSubkey: {
        const packet = await readPacket(new openpgp.PublicSubkeyPacket(), raw);
        let index = subkeys.findIndex((s) => s.info.fingerprint === packet.getFingerprint());
        if (index < 0) {
          if (subkeys.length >= limits.maxSubkeys) {
            throw new IcsError('LIMIT_EXCEEDED', `more than ${limits.maxSubkeys} subkeys`, { details: { limit: 'maxSubkeys' } });
          }
          const body = packet.write();
          subkeys.push({
            prefix: keyHashPrefix(body),
            packet,
            info: describeKey(PacketTag.publicSubkey, body, packet.getFingerprint()),
            signatures: [],
          });
          index = subkeys.length - 1;
        }
        target = { kind: 'subkey', index };
        allowed = SUBKEY_SIG_TYPES;
        break;
      }
      case PacketTag.userAttribute:
        // Photo IDs are not part of an identity record; they and their signatures are left out.
        target = { kind: 'skip' };
        break;
      case PacketTag.trust:
        break; // Local trust data of the sender's keyring (RFC 4880 §5.10): never exported.
      case PacketTag.publicKey:
        throw new IcsError('RECORD_MALFORMED', `packet ${raw.index}: more than one key in one record`);
      default:
        throw notAllowed(raw);
    }
  }

  const keySignatures: VerifiedSignature[] = [];
  // Back-signatures of signing subkeys first: a binding whose hashed one is bad is dropped.
  const backsigs = await Promise.all(
    triage.pending.map((p) => {
      if (p.target.kind !== 'subkey' || p.packet.type !== SigType.subkeyBinding) return undefined;
      return checkBacksig(p.packet, subkeys[p.target.index] as SubkeySlot, primaryPrefix, revive);
    }),
  );
  const settled = await Promise.all(
    triage.pending.map((p, i) => {
      const backsig = backsigs[i];
      if (backsig?.hashedInvalid) return 'BACKSIG_INVALID' as const;
      const prefix =
        p.target.kind === 'uid'
          ? [primaryPrefix, (uids[p.target.index] as UidSlot).prefix]
          : p.target.kind === 'subkey'
            ? [primaryPrefix, (subkeys[p.target.index] as SubkeySlot).prefix]
            : [primaryPrefix];
      return settle(p, prefix, primary.created, backsig);
    }),
  );
  settled.forEach((result, i) => {
    const p = triage.pending[i] as PendingSignature;
    const t = p.target;
    if (result === 'BACKSIG_INVALID') triage.drop(p.packet, 'NOT_ALLOWED', 'subkey binding with an invalid back-signature (0x19)');
    else if (typeof result === 'string') triage.drop(p.packet, result, 'hash or public-key algorithm not accepted');
    else if (t.kind === 'uid') (uids[t.index] as UidSlot).signatures.push(result);
    else if (t.kind === 'subkey') (subkeys[t.index] as SubkeySlot).signatures.push(result);
    else keySignatures.push(result);
  });

  // Copies of one signature (same signed data and value) collapse to one.
  for (const u of uids) u.signatures = unionSignatures(u.signatures);
  for (const s of subkeys) s.signatures = unionSignatures(s.signatures);
  const uniqueKeySignatures = unionSignatures(keySignatures);
  // A user ID counts only with a valid self-certification; a subkey only with a binding.
  const keptUids = uids.filter((u) => u.signatures.some((s) => s.self && CERTIFICATIONS.has(s.type)));
  const keptSubkeys = subkeys.filter((s) => s.signatures.some((sig) => sig.type === SigType.subkeyBinding));
  for (const u of uids.filter((x) => !keptUids.includes(x))) {
    for (const s of u.signatures)
      triage.dropped.push({ reason: 'ORPHANED', issuer: s.issuer, type: s.type, detail: `user ID without self-certification` });
  }
  for (const s of subkeys.filter((x) => !keptSubkeys.includes(x))) {
    for (const sig of s.signatures)
      triage.dropped.push({ reason: 'ORPHANED', issuer: sig.issuer, type: sig.type, detail: 'subkey without binding signature' });
  }
  if (keptUids.length === 0) {
    throw new IcsError('RECORD_MALFORMED', 'no user ID with a valid self-certification');
  }
  checkPerSigner(uniqueKeySignatures, limits, 'key');
  for (const u of keptUids) checkPerSigner(u.signatures, limits, `user ID "${u.userId}"`);
  for (const s of keptSubkeys) checkPerSigner(s.signatures, limits, `subkey ${s.info.fingerprint}`);

  const record = assembleKeyRecord({
    primaryKey,
    keySignatures: uniqueKeySignatures,
    userIds: keptUids.map((u) => ({ userId: u.userId, packet: u.framed, signatures: u.signatures })),
    subkeys: keptSubkeys.map((s) => ({ key: s.info, signatures: s.signatures })),
  });
  return { record, dropped: triage.dropped };
}

/** What a subkey binding's embedded primary key binding signature (RFC 4880 §11.1) proved. */
interface Backsig {
  /** A back-signature by the subkey over primary and subkey verified. */
  readonly valid: boolean;
  /** The verified back-signature when it came in the unhashed area: kept in canonical form. */
  readonly unhashed?: Uint8Array;
  /** A back-signature in the hashed area (signed by the primary) does not verify. */
  readonly hashedInvalid: boolean;
}

/**
 * Checks the back-signatures of a binding that grants the sign flag; other bindings need
 * none and their embedded signatures are ignored. An invalid one in the unhashed area is
 * ignored too (anyone can put bytes there); an invalid one in the hashed area was signed
 * by the primary, and the binding is refused. Reviving trusts what was verified on ingest.
 */
async function checkBacksig(binding: SignatureFields, subkey: SubkeySlot, primaryPrefix: Uint8Array, revive: boolean): Promise<Backsig> {
  const none: Backsig = { valid: false, hashedInvalid: false };
  if (((binding.keyFlags ?? 0) & KEY_FLAG_SIGN) === 0 || binding.embedded.length === 0) return none;
  const fingerprint = subkey.info.fingerprint;
  let key: VerifyingKey | undefined;
  const verdicts = await Promise.all(
    binding.embedded.map(async (embedded) => {
      let inner: SignatureFields;
      try {
        inner = readSignature(embedded.body);
      } catch {
        return { embedded, ok: false };
      }
      const namesSubkey =
        (inner.issuerFingerprint === undefined || inner.issuerFingerprint === fingerprint) &&
        (inner.issuerKeyId === undefined || inner.issuerKeyId === fingerprint.slice(-16));
      if (inner.version !== 4 || inner.type !== SigType.primaryKeyBinding || !inner.created || !namesSubkey) return { embedded, ok: false };
      if (inner.unknownCritical !== undefined) return { embedded, ok: false };
      if (revive) return { embedded, ok: true };
      try {
        key ??= verifyingKey(subkey.packet);
        return { embedded, ok: await verifySignature(inner, key, [primaryPrefix, subkey.prefix]) };
      } catch (error) {
        if (error instanceof IcsError && (error.code === 'ALGORITHM_UNSUPPORTED' || error.code === 'SIGNATURE_INVALID')) {
          return { embedded, ok: false };
        }
        throw error;
      }
    }),
  );
  if (verdicts.some((v) => v.embedded.hashed && !v.ok)) return { valid: false, hashedInvalid: true };
  if (verdicts.some((v) => v.embedded.hashed && v.ok)) return { valid: true, hashedInvalid: false };
  const unhashed = verdicts.find((v) => v.ok);
  return unhashed ? { valid: true, unhashed: unhashed.embedded.body, hashedInvalid: false } : none;
}

/** Reads a literal data body (RFC 4880 §5.9): format, file name, date, then the data. */
function literalData(raw: RawPacket): Uint8Array {
  const body = raw.body;
  const nameLength = body[1];
  if (body.length < 6 || nameLength === undefined || body.length < 6 + nameLength) {
    throw new IcsError('RECORD_MALFORMED', `packet ${raw.index}: truncated literal data`);
  }
  return body.subarray(6 + nameLength);
}

async function parseCodePackets(
  packets: RawPacket[],
  options: ParseOptions,
  limits: RecordLimits,
  revive: boolean,
): Promise<ParseResult<CodeRecord>> {
  const triage = new SignatureTriage(options.issuers ?? new IssuerKeyring(), limits, undefined, options, revive);
  let statementBytes: Uint8Array | undefined;
  for (const raw of packets) {
    if (raw.index % PACKETS_PER_TURN === 0 && raw.index > 0) await (options.pace ?? nextTurn)();
    if (raw.tag === PacketTag.signature) {
      if (triage.refuseUnread(raw, { kind: 'code' }, CODE_SIG_TYPES)) continue;
      triage.consider(readSignatureAt(raw), { kind: 'code' }, CODE_SIG_TYPES, raw.index);
    } else if (raw.tag === PacketTag.literalData) {
      if (statementBytes) throw new IcsError('RECORD_MALFORMED', `packet ${raw.index}: more than one statement`);
      statementBytes = literalData(raw);
      if (statementBytes.length > limits.maxStatementBytes) {
        throw new IcsError('LIMIT_EXCEEDED', `statement over ${limits.maxStatementBytes} bytes`, {
          details: { limit: 'maxStatementBytes' },
        });
      }
    } else {
      throw notAllowed(raw);
    }
  }
  if (!statementBytes) throw new IcsError('RECORD_MALFORMED', 'code record without a statement');
  const statement = readCanonicalStatement(statementBytes);
  const settled = await Promise.all(triage.pending.map((p) => settle(p, [statementBytes as Uint8Array], undefined)));
  const signatures: VerifiedSignature[] = [];
  settled.forEach((result, i) => {
    if (typeof result === 'string') triage.drop((triage.pending[i] as PendingSignature).packet, result, 'hash algorithm not accepted');
    else signatures.push(result);
  });
  const unique = unionSignatures(signatures);
  checkPerSigner(unique, limits, 'code statement');
  return { record: assembleCodeRecord(statement, statementBytes, unique), dropped: triage.dropped };
}
