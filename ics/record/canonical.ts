// Canonical form of records: signatures in one total order, components sorted, bytes
// and digest derived from that order alone — so equal content gives equal bytes on every
// node, whatever order the signatures arrived in (DESIGN §2, "Merging").
import { createHash } from 'node:crypto';
import { ISSUANCE_METADATA, NOTATION_DOMAIN } from './notations.ts';
import { framePacket, PacketTag } from './packets.ts';
import {
  type CodeRecord,
  type CodeStatement,
  type EntityKind,
  KEY_FLAG_SIGN,
  type KeyRecord,
  type PublicKeyInfo,
  SigType,
  type SubkeyBinding,
  type UserIdBinding,
  type VerifiedSignature,
} from './types.ts';

/** Oldest first; ties broken by signature id so that the order is total. */
export function compareSignatures(a: VerifiedSignature, b: VerifiedSignature): number {
  const t = a.created.getTime() - b.created.getTime();
  if (t !== 0) return t;
  return a.sigId < b.sigId ? -1 : a.sigId > b.sigId ? 1 : 0;
}

/**
 * Union by signature id. Copies of one signature are byte-identical in canonical form,
 * except a subkey binding whose unhashed back-signature one copy lacks (or, as ECDSA is
 * randomised, carries another valid one): the copy with a back-signature, then the smaller
 * bytes, wins — a total order, so unions stay commutative and associative.
 */
export function unionSignatures(...lists: ReadonlyArray<readonly VerifiedSignature[]>): VerifiedSignature[] {
  const byId = new Map<string, VerifiedSignature>();
  for (const list of lists) {
    for (const sig of list) {
      const seen = byId.get(sig.sigId);
      if (!seen || preferCopy(sig, seen)) byId.set(sig.sigId, sig);
    }
  }
  return [...byId.values()];
}

function preferCopy(candidate: VerifiedSignature, seen: VerifiedSignature): boolean {
  if (candidate.packet === seen.packet) return false;
  if (Boolean(candidate.backsig) !== Boolean(seen.backsig)) return Boolean(candidate.backsig);
  return Buffer.compare(candidate.packet, seen.packet) < 0;
}

/**
 * Keeps at most `max` signatures per issuer, the newest ones. Top-N of a union under a
 * total order is itself associative and commutative, so capped merges still converge.
 */
export function capPerSigner(sigs: readonly VerifiedSignature[], max: number): VerifiedSignature[] {
  const byIssuer = new Map<string, VerifiedSignature[]>();
  for (const sig of sigs) {
    const list = byIssuer.get(sig.issuer);
    if (list) list.push(sig);
    else byIssuer.set(sig.issuer, [sig]);
  }
  const kept: VerifiedSignature[] = [];
  for (const list of byIssuer.values()) {
    if (list.length > max) list.sort(compareSignatures).splice(0, list.length - max);
    kept.push(...list);
  }
  return kept.sort(compareSignatures);
}

/**
 * Issuance statements (DESIGN §7) kept per signer on one user ID: the current certificate's
 * and, during a renewal, the previous one's. A device renewing monthly for ten years would
 * otherwise carry 120 of them; the older ones live on in the record's history and in the
 * issuing node's certificate index. Keeping the newest N of a union is commutative,
 * associative and idempotent, so merges still converge.
 */
export const ISSUANCE_STATEMENTS_KEPT = 2;

const ISSUANCE_NOTATION = `${ISSUANCE_METADATA}@${NOTATION_DOMAIN}`;

const isIssuance = (sig: VerifiedSignature) => sig.notations.some((n) => n.name === ISSUANCE_NOTATION);

/** `sigs` (sorted, oldest first) without the issuance statements older than each signer's newest ISSUANCE_STATEMENTS_KEPT. */
export function pruneIssuanceStatements(sigs: readonly VerifiedSignature[]): readonly VerifiedSignature[] {
  const counts = new Map<string, number>();
  for (const sig of sigs) if (isIssuance(sig)) counts.set(sig.issuer, (counts.get(sig.issuer) ?? 0) + 1);
  if (![...counts.values()].some((n) => n > ISSUANCE_STATEMENTS_KEPT)) return sigs;
  const skip = new Map([...counts].map(([issuer, n]) => [issuer, Math.max(0, n - ISSUANCE_STATEMENTS_KEPT)]));
  return sigs.filter((sig) => {
    if (!isIssuance(sig)) return true;
    const left = skip.get(sig.issuer) ?? 0;
    if (left === 0) return true;
    skip.set(sig.issuer, left - 1);
    return false;
  });
}

/**
 * The chunks in one buffer of exactly their length. Buffer.concat takes small results from
 * node's shared 8 KiB allocation pool, and a record is kept for long (store and answer
 * caches): a 1.5 KB record would pin its whole slab — five times its size, over every
 * cached record.
 */
function concatOwned(chunks: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const c of chunks) length += c.length;
  const out = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const URN_KIND = /^urn:cm4it:(device|gateway|service|org):/;

/** The entity kind named by the first cm4it URN among the user IDs, else a plain key. */
export function kindOf(userIds: readonly string[]): EntityKind {
  for (const userId of [...userIds].sort()) {
    const match = URN_KIND.exec(userId);
    if (match) return match[1] as EntityKind;
  }
  return 'key';
}

export interface KeyParts {
  primaryKey: PublicKeyInfo;
  keySignatures: readonly VerifiedSignature[];
  userIds: readonly UserIdBinding[];
  subkeys: ReadonlyArray<Pick<SubkeyBinding, 'key' | 'signatures'>>;
}

/** See SubkeyBinding.signingUsable: derived from the signatures alone, so merges agree. */
export function signingUsable(signatures: readonly VerifiedSignature[]): boolean {
  if (signatures.some((s) => s.type === SigType.subkeyRevocation)) return false;
  const newest = signatures.filter((s) => s.type === SigType.subkeyBinding).sort(compareSignatures).at(-1);
  return newest !== undefined && ((newest.keyFlags ?? 0) & KEY_FLAG_SIGN) !== 0 && newest.backsig === true;
}

const byteCompare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Builds a key record in canonical order: key, key sigs, user IDs by text, subkeys by fingerprint. */
export function assembleKeyRecord(parts: KeyParts): KeyRecord {
  const keySignatures = [...parts.keySignatures].sort(compareSignatures);
  const userIds = [...parts.userIds]
    .sort((a, b) => byteCompare(a.userId, b.userId))
    .map((u) => ({ ...u, signatures: pruneIssuanceStatements([...u.signatures].sort(compareSignatures)) }));
  const subkeys = [...parts.subkeys]
    .sort((a, b) => byteCompare(a.key.fingerprint, b.key.fingerprint))
    .map((s) => {
      const signatures = [...s.signatures].sort(compareSignatures);
      return { key: s.key, signatures, signingUsable: signingUsable(signatures) };
    });
  const chunks: Uint8Array[] = [parts.primaryKey.packet, ...keySignatures.map((s) => s.packet)];
  for (const u of userIds) chunks.push(u.packet, ...u.signatures.map((s) => s.packet));
  for (const s of subkeys) chunks.push(s.key.packet, ...s.signatures.map((sig) => sig.packet));
  const bytes = concatOwned(chunks);
  return {
    type: 'key',
    id: parts.primaryKey.fingerprint,
    kind: kindOf(userIds.map((u) => u.userId)),
    primaryKey: parts.primaryKey,
    keySignatures,
    userIds,
    subkeys,
    bytes,
    digest: sha256Hex(bytes),
  };
}

/** Literal data body (§5.9) with fixed format, file name and date, so its bytes are canonical. */
export function literalBody(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(6 + data.length);
  out[0] = 0x62; // 'b': binary
  out.set(data, 6);
  return out;
}

/** Builds a code record: signatures in canonical order, then the statement as literal data. */
export function assembleCodeRecord(statement: CodeStatement, canonical: Uint8Array, signatures: readonly VerifiedSignature[]): CodeRecord {
  const sorted = [...signatures].sort(compareSignatures);
  const bytes = concatOwned([...sorted.map((s) => s.packet), framePacket(PacketTag.literalData, literalBody(canonical))]);
  return {
    type: 'code',
    id: `sha256:${sha256Hex(canonical)}`,
    kind: 'code',
    statement,
    canonical,
    signatures: sorted,
    bytes,
    digest: sha256Hex(bytes),
  };
}
