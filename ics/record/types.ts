// The identity record model (DESIGN §2): a subject plus signatures by issuers.
// Every object of these types has been verified cryptographically; the only way to
// obtain one from bytes is `parseRecord`.

/** What a record names: from the URN of its user ID (`urn:cm4it:<kind>:…`), or code. */
export type EntityKind = 'device' | 'gateway' | 'service' | 'org' | 'code' | 'key';

/** Capacities in which an issuer signs (`role@cm4it.org`). */
export const ROLES = ['manufacturer', 'integrator', 'maintainer', 'owner', 'certifier', 'developer'] as const;
export type Role = (typeof ROLES)[number];

/** Device statuses (`status@cm4it.org` on a certification). */
export const DEVICE_STATUSES = ['in-use', 'planned', 'inactive', 'destroyed', 'stolen', 'decommissioned'] as const;
/** Code statuses (`status@cm4it.org` on a code signature). */
export const CODE_STATUSES = ['released', 'deprecated', 'revoked', 'vulnerable'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];
export type CodeStatus = (typeof CODE_STATUSES)[number];

/** OpenPGP signature types used here (RFC 4880 §5.2.1). */
export const SigType = {
  binary: 0x00,
  certGeneric: 0x10,
  certPersona: 0x11,
  certCasual: 0x12,
  certPositive: 0x13,
  subkeyBinding: 0x18,
  directKey: 0x1f,
  primaryKeyBinding: 0x19,
  keyRevocation: 0x20,
  subkeyRevocation: 0x28,
  certRevocation: 0x30,
} as const;

export interface Notation {
  name: string;
  value: string;
}

/** One verified signature, kept in canonical packet form. */
export interface VerifiedSignature {
  /** OpenPGP signature type (see SigType). */
  readonly type: number;
  /** v4 fingerprint of the issuer, lower-case hex. */
  readonly issuer: string;
  /** True when made by the record's own primary key. */
  readonly self: boolean;
  readonly created: Date;
  /** Signature expiry, if any. */
  readonly expires: Date | undefined;
  /** Key expiry announced by a self-signature, if any. */
  readonly keyExpires: Date | undefined;
  readonly hashAlgorithm: number;
  readonly notations: readonly Notation[];
  /** Key flags of a self-signature or binding (RFC 4880 §5.2.3.21, first octet), if given. */
  readonly keyFlags?: number;
  /** Reason for revocation (RFC 4880 §5.2.3.23) of a revocation signature, if given. */
  readonly revocationReason?: { readonly code: number; readonly text: string };
  /**
   * Subkey bindings (0x18): true when the binding carries a primary key binding signature
   * (0x19, RFC 4880 §11.1) that was verified against the subkey when the record was parsed.
   */
  readonly backsig?: boolean;
  /** Hex digest identifying the signature regardless of its unhashed area. */
  readonly sigId: string;
  /** The whole signature packet (header included) in canonical form. */
  readonly packet: Uint8Array;
}

export interface PublicKeyInfo {
  readonly fingerprint: string;
  /** Long key id: the low 64 bits of the fingerprint, hex. */
  readonly keyId: string;
  readonly algorithm: number;
  /** Human name of the algorithm and curve, e.g. `ed25519`, `nistP256`, `rsa3072`. */
  readonly algorithmName: string;
  readonly bits: number;
  readonly created: Date;
  /** The whole key packet (header included). */
  readonly packet: Uint8Array;
}

export interface UserIdBinding {
  readonly userId: string;
  readonly packet: Uint8Array;
  /** Self-certifications, third-party certifications and revocations, canonical order. */
  readonly signatures: readonly VerifiedSignature[];
}

/** Key flag "may sign data" (RFC 4880 §5.2.3.21). */
export const KEY_FLAG_SIGN = 0x02;

export interface SubkeyBinding {
  readonly key: PublicKeyInfo;
  readonly signatures: readonly VerifiedSignature[];
  /**
   * Whether the subkey may be used to verify data signatures: its newest binding grants
   * the sign flag AND carries a verified back-signature (0x19), and no subkey revocation
   * stands. Without the back-signature anyone could bind someone else's signing key as
   * their own subkey (RFC 4880 §11.1). Nothing may verify with a subkey for which this
   * is false. (Today no signature is verified with a subkey at all.)
   */
  readonly signingUsable: boolean;
}

/** A device, gateway, service or organisation: an OpenPGP transferable public key. */
export interface KeyRecord {
  readonly type: 'key';
  /** v4 fingerprint, lower-case hex. */
  readonly id: string;
  readonly kind: EntityKind;
  readonly primaryKey: PublicKeyInfo;
  /** Direct-key signatures and key revocations. */
  readonly keySignatures: readonly VerifiedSignature[];
  readonly userIds: readonly UserIdBinding[];
  readonly subkeys: readonly SubkeyBinding[];
  /** Canonical binary encoding. */
  readonly bytes: Uint8Array;
  /** sha256 of `bytes`, hex. */
  readonly digest: string;
}

/** The code statement (`cm4it.code/v1`), canonicalised by RFC 8785. */
export interface CodeStatement {
  readonly type: 'cm4it.code/v1';
  readonly subject: {
    readonly name: string;
    readonly version: string;
    readonly digest: { readonly sha256?: string; readonly sha512?: string };
  };
}

/** A piece of code: its canonical statement plus detached signatures over it. */
export interface CodeRecord {
  readonly type: 'code';
  /** `sha256:` + hex sha256 of the canonical statement. */
  readonly id: string;
  readonly kind: 'code';
  readonly statement: CodeStatement;
  /** RFC 8785 bytes of the statement: what every signature signs. */
  readonly canonical: Uint8Array;
  readonly signatures: readonly VerifiedSignature[];
  readonly bytes: Uint8Array;
  readonly digest: string;
}

export type IdentityRecord = KeyRecord | CodeRecord;

/** Why a signature present in the input was not kept. */
export type DropReason = 'UNKNOWN_ISSUER' | 'NOT_ALLOWED' | 'ORPHANED' | 'UNSUPPORTED';

export interface DroppedSignature {
  readonly reason: DropReason;
  /** Issuer fingerprint or key id as named by the signature, if any. */
  readonly issuer: string | undefined;
  readonly type: number;
  readonly detail: string;
}

export interface ParseResult<R extends IdentityRecord = IdentityRecord> {
  readonly record: R;
  /** Signatures that were in the input but are not part of the record. */
  readonly dropped: readonly DroppedSignature[];
}
