// A key's own lifecycle as its self-signatures state it: revoked (0x20, RFC 4880 §5.2.1)
// with a reason (§5.2.3.23), or expired (key expiration time, §5.2.3.6, of the newest
// self-signature). Pure: the policy engine applies it to trusted issuers' keys.
import { compareSignatures } from './canonical.ts';
import { type KeyRecord, SigType } from './types.ts';

/**
 * Why a key was revoked, by RFC 4880 §5.2.3.23 code: 1 superseded, 2 compromised,
 * 3 retired; 0, a missing reason or any other code is `unspecified`.
 */
export type RevocationReason = 'unspecified' | 'superseded' | 'compromised' | 'retired';

export interface KeyLifecycle {
  /** Creation time of the earliest key revocation. */
  readonly revokedAt?: Date;
  readonly revocationReason?: RevocationReason;
  /** The revocation's free-text explanation, when it gave one. */
  readonly revocationText?: string;
  /** Expiry announced by the newest self-signature; absent: never. */
  readonly expiresAt?: Date;
}

export function revocationReasonOf(code: number | undefined): RevocationReason {
  return code === 1 ? 'superseded' : code === 2 ? 'compromised' : code === 3 ? 'retired' : 'unspecified';
}

/**
 * Superseded and retired keys were handed over in order: what they signed before still
 * stands (the convention GnuPG and RFC 4880 §5.2.3.23 describe). A compromised key, or
 * one revoked without saying why, may have been misused before its revocation too.
 */
export function revocationTaintsEarlier(reason: RevocationReason): boolean {
  return reason === 'compromised' || reason === 'unspecified';
}

/**
 * Two revocations of one key (several self-revocations, or one plus the policy's): the
 * earliest time, and the reason that taints earlier statements if either does.
 */
export function combineRevocations(
  a: { at: Date; reason: RevocationReason; text?: string } | undefined,
  b: { at: Date; reason: RevocationReason; text?: string } | undefined,
): { at: Date; reason: RevocationReason; text?: string } | undefined {
  if (!a || !b) return a ?? b;
  const [first, second] = a.at.getTime() <= b.at.getTime() ? [a, b] : [b, a];
  const reason = revocationTaintsEarlier(first.reason) || !revocationTaintsEarlier(second.reason) ? first : second;
  return { at: first.at, reason: reason.reason, ...(reason.text !== undefined && { text: reason.text }) };
}

const SELF_SIGNATURES: ReadonlySet<number> = new Set([
  SigType.certGeneric,
  SigType.certPersona,
  SigType.certCasual,
  SigType.certPositive,
  SigType.directKey,
]);

export function keyLifecycle(record: KeyRecord): KeyLifecycle {
  let revocation: { at: Date; reason: RevocationReason; text?: string } | undefined;
  for (const sig of record.keySignatures) {
    if (!sig.self || sig.type !== SigType.keyRevocation) continue;
    const text = sig.revocationReason?.text;
    revocation = combineRevocations(revocation, {
      at: sig.created,
      reason: revocationReasonOf(sig.revocationReason?.code),
      ...(text && { text }),
    });
  }
  const selfSigs = [...record.keySignatures, ...record.userIds.flatMap((u) => u.signatures)].filter(
    (s) => s.self && SELF_SIGNATURES.has(s.type),
  );
  const newest = selfSigs.sort(compareSignatures).at(-1);
  return {
    ...(revocation && { revokedAt: revocation.at, revocationReason: revocation.reason }),
    ...(revocation?.text !== undefined && { revocationText: revocation.text }),
    ...(newest?.keyExpires && { expiresAt: newest.keyExpires }),
  };
}
