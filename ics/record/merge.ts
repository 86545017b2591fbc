// Merging two copies of one record (DESIGN §2): union of verified signatures, duplicates
// dropped, per-signer caps, canonical order. Both inputs are verified records, so merge
// does no cryptography and is a pure function: commutative, associative, idempotent.
import { IcsError } from '../errors.ts';
import { assembleCodeRecord, assembleKeyRecord, capPerSigner, unionSignatures } from './canonical.ts';
import { DEFAULT_LIMITS, type RecordLimits } from './limits.ts';
import type { CodeRecord, IdentityRecord, KeyRecord, SubkeyBinding, UserIdBinding, VerifiedSignature } from './types.ts';

export function mergeRecords<R extends IdentityRecord>(
  a: R,
  b: R,
  limits: Pick<RecordLimits, 'maxSignaturesPerSigner'> = DEFAULT_LIMITS,
): R {
  if (a.id !== b.id || a.type !== b.type) {
    throw new IcsError('RECORD_MISMATCH', `cannot merge ${a.id} with ${b.id}`);
  }
  if (a.digest === b.digest) return a;
  const cap = limits.maxSignaturesPerSigner;
  if (a.type === 'code') {
    const other = b as CodeRecord;
    return assembleCodeRecord(a.statement, a.canonical, capPerSigner(unionSignatures(a.signatures, other.signatures), cap)) as R;
  }
  const other = b as KeyRecord;
  const userIds = new Map<string, UserIdBinding>();
  for (const u of [...a.userIds, ...other.userIds]) {
    const seen = userIds.get(u.userId);
    userIds.set(u.userId, seen ? { ...seen, signatures: capPerSigner(unionSignatures(seen.signatures, u.signatures), cap) } : u);
  }
  const subkeys = new Map<string, SubkeyBinding>();
  for (const s of [...a.subkeys, ...other.subkeys]) {
    const seen = subkeys.get(s.key.fingerprint);
    subkeys.set(s.key.fingerprint, seen ? { ...seen, signatures: capPerSigner(unionSignatures(seen.signatures, s.signatures), cap) } : s);
  }
  return assembleKeyRecord({
    primaryKey: a.primaryKey,
    keySignatures: capPerSigner(unionSignatures(a.keySignatures, other.keySignatures), cap),
    userIds: [...userIds.values()],
    subkeys: [...subkeys.values()],
  }) as R;
}

/** Merges any number of copies; the result does not depend on their order. */
export function mergeAll<R extends IdentityRecord>(records: readonly R[], limits?: Pick<RecordLimits, 'maxSignaturesPerSigner'>): R {
  const [first, ...rest] = records;
  if (!first) throw new IcsError('INTERNAL', 'mergeAll needs at least one record');
  return rest.reduce((acc, r) => mergeRecords(acc, r, limits), first);
}

/** Where a signature sits in a record, for `filterSignatures` predicates. */
export interface SignaturePlace {
  readonly target: 'key' | 'userId' | 'subkey' | 'code';
  readonly userId?: string;
}

/**
 * The record with only the signatures `keep` accepts (e.g. those a policy allows).
 * Components left without signatures stay; callers decide whether that is acceptable.
 */
export function filterSignatures<R extends IdentityRecord>(record: R, keep: (sig: VerifiedSignature, place: SignaturePlace) => boolean): R {
  if (record.type === 'code') {
    const signatures = record.signatures.filter((s) => keep(s, { target: 'code' }));
    return (
      signatures.length === record.signatures.length ? record : assembleCodeRecord(record.statement, record.canonical, signatures)
    ) as R;
  }
  const key = record as KeyRecord;
  let changed = false;
  const pick = (sigs: readonly VerifiedSignature[], place: SignaturePlace) => {
    const kept = sigs.filter((s) => keep(s, place));
    if (kept.length !== sigs.length) changed = true;
    return kept;
  };
  const parts = {
    primaryKey: key.primaryKey,
    keySignatures: pick(key.keySignatures, { target: 'key' }),
    userIds: key.userIds.map((u) => ({ ...u, signatures: pick(u.signatures, { target: 'userId', userId: u.userId }) })),
    subkeys: key.subkeys.map((s) => ({ ...s, signatures: pick(s.signatures, { target: 'subkey' }) })),
  };
  return (changed ? assembleKeyRecord(parts) : record) as R;
}
