// The directory information tree this server presents under its base DN:
//
//   <base>                                  the naming context (root DSE namingContexts)
//   ├── cn=pgpServerInfo                    GnuPG's pointer to the key space (schema v2)
//   ├── ou=PGP Keys                         pgpBaseKeySpaceDN
//   │   └── pgpCertID=<LONG KEY ID>         one pgpKeyInfo entry per key record (GnuPG's naming)
//   ├── ou=records
//   │   └── icsId=<record id>               one icsRecord entry per record (keys and code)
//   └── ou=users                            bind DNs cn=<name>,ou=users,<base> (not searchable)
//
// DNs compare by RFC 4514 parse, attribute types by name or OID, values case-insensitively
// with insignificant spaces removed (all naming attributes here match caseIgnore).
import { isRecordId } from '../store/index.ts';
import { DecodeError, parseDn, type Rdn } from './ldapjs.ts';
import { attributeType } from './schema.ts';

export const SERVER_INFO_RDN = 'cn=pgpServerInfo';
export const KEYS_RDN = 'ou=PGP Keys';
export const RECORDS_RDN = 'ou=records';
export const USERS_RDN = 'ou=users';

const HEX16 = /^[0-9a-f]{16}$/;
/** DNs whose resolution is kept (only valid DNs are; invalid ones throw each time). */
const RESOLVED_CACHE = 1024;

export type Target =
  | { readonly node: 'root' }
  | { readonly node: 'base' }
  | { readonly node: 'serverInfo' }
  | { readonly node: 'keys' }
  | { readonly node: 'records' }
  /** A pgpKeyInfo entry; whether it exists is for the store to say. */
  | { readonly node: 'key'; readonly keyId: string }
  /** An icsRecord entry; whether it exists is for the store to say. */
  | { readonly node: 'record'; readonly id: string }
  | { readonly node: 'user'; readonly name: string }
  /** Not an entry of this directory; `matched` is the deepest existing ancestor (RFC 4511 §4.1.9). */
  | { readonly node: 'none'; readonly matched: string };

/** caseIgnoreMatch preparation (RFC 4518 §2.6.1, simplified): trim, collapse spaces, lower-case. */
export function normaliseValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ').toLowerCase();
}

function normaliseRdn(rdn: Rdn): string {
  return rdn
    .map((p) => `${attributeType(p.type)?.name.toLowerCase() ?? p.type}=${normaliseValue(p.value)}`)
    .sort()
    .join('+');
}

/** The normalised form of a DN, for comparisons: `ou=pgp keys,dc=ics,dc=example`. Throws DecodeError. */
export function normaliseDn(text: string): string {
  return parseDn(text).map(normaliseRdn).join(',');
}

/** Escapes an attribute value for a DN string (RFC 4514 §2.4). */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

export class Dit {
  /** The base DN as configured (how entries are named on the wire). */
  readonly base: string;
  readonly serverInfoDn: string;
  readonly keysDn: string;
  readonly recordsDn: string;
  readonly usersDn: string;
  readonly #baseRdns: readonly string[];
  readonly #resolved = new Map<string, Target>();

  /** Throws DecodeError when `base` is not a DN. */
  constructor(base: string) {
    const rdns = parseDn(base);
    if (rdns.length === 0) throw new DecodeError('the base DN must not be empty');
    this.base = base;
    this.#baseRdns = rdns.map(normaliseRdn);
    this.serverInfoDn = `${SERVER_INFO_RDN},${base}`;
    this.keysDn = `${KEYS_RDN},${base}`;
    this.recordsDn = `${RECORDS_RDN},${base}`;
    this.usersDn = `${USERS_RDN},${base}`;
  }

  /** The RDN values of the base DN's first RDN, for the base entry's naming attribute. */
  baseNaming(): Rdn {
    return parseDn(this.base)[0] as Rdn;
  }

  /** DN of a key's pgpKeyInfo entry: the long key id in upper case, as GnuPG writes it. */
  keyDn(keyId: string): string {
    return `pgpCertID=${keyId.toUpperCase()},${this.keysDn}`;
  }

  recordDn(id: string): string {
    return `icsId=${escapeDnValue(id)},${this.recordsDn}`;
  }

  userDn(name: string): string {
    return `cn=${escapeDnValue(name)},${this.usersDn}`;
  }

  /** What a DN names here. Throws DecodeError (invalidDNSyntax) when `text` is not a DN. */
  resolve(text: string): Target {
    // Clients repeat their bases (GnuPG: the key space on every search): parse each once.
    const hit = this.#resolved.get(text);
    if (hit) return hit;
    const target = this.#resolve(text);
    if (this.#resolved.size >= RESOLVED_CACHE) this.#resolved.delete(this.#resolved.keys().next().value as string);
    this.#resolved.set(text, target);
    return target;
  }

  #resolve(text: string): Target {
    const rdns = parseDn(text);
    if (rdns.length === 0) return { node: 'root' };
    const base = this.#baseRdns;
    const depth = rdns.length - base.length;
    if (depth < 0) return { node: 'none', matched: '' };
    for (let i = 0; i < base.length; i++) {
      if (normaliseRdn(rdns[depth + i] as Rdn) !== base[i]) return { node: 'none', matched: '' };
    }
    if (depth === 0) return { node: 'base' };
    const at = (i: number) => rdns[i] as Rdn;
    const level1 = normaliseRdn(at(depth - 1));
    const single = (rdn: Rdn) => (rdn.length === 1 ? (rdn[0] as { type: string; value: string }) : undefined);
    const typeOf = (rdn: Rdn) => {
      const s = single(rdn);
      return s ? attributeType(s.type)?.name.toLowerCase() ?? s.type : undefined;
    };
    const none = (matchedDepth: number): Target => ({ node: 'none', matched: matchedDepth === 0 ? this.base : this.#nameAt(level1) });
    if (depth === 1) {
      if (level1 === 'cn=pgpserverinfo') return { node: 'serverInfo' };
      if (level1 === 'ou=pgp keys') return { node: 'keys' };
      if (level1 === 'ou=records') return { node: 'records' };
      return none(0);
    }
    if (depth > 2) return level1 === 'ou=pgp keys' || level1 === 'ou=records' ? none(1) : none(0);
    const leaf = at(0);
    const value = single(leaf)?.value.trim() ?? '';
    if (level1 === 'ou=pgp keys' && typeOf(leaf) === 'pgpcertid') {
      const keyId = value.toLowerCase();
      return HEX16.test(keyId) ? { node: 'key', keyId } : none(1);
    }
    if (level1 === 'ou=records' && typeOf(leaf) === 'icsid') {
      const id = value.toLowerCase();
      return isRecordId(id) ? { node: 'record', id } : none(1);
    }
    if (level1 === 'ou=users' && typeOf(leaf) === 'cn') return { node: 'user', name: value };
    return level1 === 'ou=pgp keys' || level1 === 'ou=records' ? none(1) : none(0);
  }

  #nameAt(level1: string): string {
    if (level1 === 'ou=pgp keys') return this.keysDn;
    if (level1 === 'ou=records') return this.recordsDn;
    return this.base;
  }
}
