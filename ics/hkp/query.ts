// A /pks/lookup request turned into a typed query (after Hockeypuck's hkp/requests.go), or
// an IcsError. HKP: draft-shaw-openpgp-hkp-00 / draft-gallagher-openpgp-hkp — §3.1.1 the
// "op" variable (get, index, vindex; stats as servers implement it), §3.1.2 "search",
// §3.2 modifiers: options (mr, nm), fingerprint, exact. Unknown variables are ignored.
import { IcsError } from '../errors.ts';
import { MIN_TOKEN_LENGTH, userIdTokens } from '../store/index.ts';

export const LOOKUP_OPS = ['get', 'index', 'vindex', 'stats'] as const;
export type LookupOp = (typeof LOOKUP_OPS)[number];

export type SearchTerm =
  /** A v4 fingerprint (`0x` + 40 hex, or 40 hex), lower-case: primary key or subkey. */
  | { readonly kind: 'fingerprint'; readonly fingerprint: string }
  /** A long key id (`0x` + 16 hex, or 16 hex), lower-case. */
  | { readonly kind: 'keyId'; readonly keyId: string }
  /** Text over user IDs: its tokens (as the store indexes them), and the text itself for `exact`. */
  | { readonly kind: 'text'; readonly text: string; readonly tokens: readonly string[] };

export interface LookupQuery {
  readonly op: LookupOp;
  /** Absent only for `stats`. */
  readonly search: SearchTerm | undefined;
  /** options=mr: machine-readable output (§3.2.1.1). */
  readonly machineReadable: boolean;
  /** exact=on: text must equal a whole user ID (§3.2.3). */
  readonly exact: boolean;
  /** fingerprint=on: show fingerprints in human-readable indexes (§3.2.2); mr output always has them. */
  readonly fingerprints: boolean;
}

/** The query string as validated by the route's schema (repeated variables are refused there). */
export interface LookupQuerystring {
  readonly op: string;
  readonly search?: string;
  readonly options?: string;
  readonly exact?: string;
  readonly fingerprint?: string;
}

const HEX_PREFIXED = /^0x([0-9a-f]+)$/i;
const BARE_FINGERPRINT = /^[0-9a-f]{40}$/i;
const BARE_KEY_ID = /^[0-9a-f]{16}$/i;

const FINGERPRINT_0X = /^0x[0-9a-fA-F]{40}$/;

export function parseSearch(search: string, exact: boolean): SearchTerm {
  // What gpg --recv-keys and --refresh-keys send: checked first, it is most requests.
  if (search.length === 42 && FINGERPRINT_0X.test(search)) return { kind: 'fingerprint', fingerprint: search.slice(2).toLowerCase() };
  const hex = HEX_PREFIXED.exec(search)?.[1];
  if (hex !== undefined) {
    switch (hex.length) {
      case 40:
        return { kind: 'fingerprint', fingerprint: hex.toLowerCase() };
      case 16:
        return { kind: 'keyId', keyId: hex.toLowerCase() };
      case 8:
        // 32-bit key ids collide by construction (the "evil32" set); asking by one is unsafe.
        throw new IcsError('BAD_REQUEST', 'short (8 hex digit) key ids are not accepted: ask by long key id (16) or fingerprint (40)');
      case 32:
        throw new IcsError('BAD_REQUEST', 'v3 fingerprints are not accepted: ask by v4 fingerprint (40 hex digits)');
      default:
        throw new IcsError('BAD_REQUEST', `a 0x search must be a long key id (16 hex digits) or a v4 fingerprint (40), got ${hex.length} digits`);
    }
  }
  // `0x` announces a key id or fingerprint: one that is not hex is a mistake, not words to search.
  if (/^0x/i.test(search)) {
    throw new IcsError('BAD_REQUEST', 'a 0x search must be hex digits: a long key id (16) or a v4 fingerprint (40)');
  }
  if (BARE_FINGERPRINT.test(search)) return { kind: 'fingerprint', fingerprint: search.toLowerCase() };
  if (BARE_KEY_ID.test(search)) return { kind: 'keyId', keyId: search.toLowerCase() };
  const tokens = userIdTokens(search);
  if (tokens.length === 0) {
    throw new IcsError('BAD_REQUEST', `search text needs a word of at least ${MIN_TOKEN_LENGTH} letters or digits`);
  }
  return { kind: 'text', text: exact ? search : search.trim(), tokens };
}

export function parseLookup(raw: LookupQuerystring): LookupQuery {
  const op = raw.op === 'get' ? 'get' : raw.op.toLowerCase();
  if (!(LOOKUP_OPS as readonly string[]).includes(op)) {
    throw new IcsError('NOT_IMPLEMENTED', `unknown op "${raw.op.slice(0, 32)}" (this server knows ${LOOKUP_OPS.join(', ')})`);
  }
  const options = raw.options;
  const machineReadable = options !== undefined && (options === 'mr' || options.split(',').some((o) => o.trim().toLowerCase() === 'mr'));
  const exact = raw.exact === 'on';
  let search: SearchTerm | undefined;
  if (op !== 'stats') {
    if (raw.search === undefined) throw new IcsError('BAD_REQUEST', `op=${op} needs a search variable`);
    search = parseSearch(raw.search, exact);
  }
  return { op: op as LookupOp, search, machineReadable, exact, fingerprints: raw.fingerprint === 'on' };
}
