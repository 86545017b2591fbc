// The one module that imports ldapjs (no longer maintained upstream: replacing it must touch
// nothing else). ldapjs decodes requests into message objects here; these are turned into
// the plain, typed requests below. Responses are encoded by ber.ts, not by ldapjs.
//
// Only the decoder and the DN parser of ldapjs are used, not its Server: the server drops
// requested attribute names with upper-case letters (ldapjs issues #900, #974), leaves
// TCP_NODELAY off, buffers requests without bound, recurses without bound on nested filters
// and has no StartTLS. framing.ts frames messages itself and the session feeds this decoder
// one whole, shape-checked message at a time. Searches take search-request.ts instead: ldapjs
// escapes non-ASCII and `()*\` in their filter values, and decodes them slowly.
import ldap from 'ldapjs';
import { element } from './ber.ts';

/** A search filter as ldapjs decodes it (RFC 4511 §4.5.1.7). */
export interface DecodedFilter {
  readonly type: string;
  readonly attribute?: string;
  readonly value?: unknown;
  readonly initial?: string;
  readonly any?: readonly string[];
  readonly final?: string;
  readonly clauses?: readonly DecodedFilter[];
  readonly filter?: DecodedFilter;
  readonly matchingRule?: string;
  readonly dnAttributes?: boolean;
  toString(): string;
}

export interface DecodedControl {
  readonly type: string;
  readonly criticality: boolean;
  readonly value: unknown;
}

export interface DecodedAttribute {
  readonly type: string;
  readonly values: readonly string[];
}

interface Common {
  readonly messageId: number;
  readonly controls: readonly DecodedControl[];
}

export type DecodedRequest = Common &
  (
    | { readonly op: 'bind'; readonly version: number; readonly name: string; readonly credentials: string }
    | { readonly op: 'unbind' }
    | {
        readonly op: 'search';
        readonly base: string;
        readonly scope: number;
        readonly sizeLimit: number;
        readonly timeLimit: number;
        readonly typesOnly: boolean;
        readonly filter: DecodedFilter;
        readonly attributes: readonly string[];
      }
    | { readonly op: 'add'; readonly entry: string; readonly attributes: readonly DecodedAttribute[] }
    | {
        readonly op: 'modify';
        readonly object: string;
        readonly changes: ReadonlyArray<{ readonly operation: string; readonly attribute: DecodedAttribute }>;
      }
    | { readonly op: 'delete'; readonly entry: string }
    | { readonly op: 'modifyDn'; readonly entry: string }
    | { readonly op: 'compare'; readonly entry: string; readonly attribute: string; readonly value: string }
    | { readonly op: 'abandon'; readonly abandonId: number }
    | { readonly op: 'extended'; readonly name: string; readonly value: string | undefined }
  );

/** The decoded request of one operation, e.g. `RequestOf<'bind'>`. */
export type RequestOf<K extends DecodedRequest['op']> = Extract<DecodedRequest, { op: K }>;

/** A request the decoder could not read. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

interface LdapjsMessage {
  readonly type: string;
  readonly messageId: number;
  readonly controls: DecodedControl[];
  readonly [key: string]: unknown;
}

interface LdapjsParser {
  buffer: Buffer | null;
  write(data: Buffer): boolean;
  on(event: 'message', listener: (message: LdapjsMessage) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}

interface LdapjsDn {
  readonly length: number;
  rdnAt(index: number): { keys(): IterableIterator<string>; getValue(name: string): unknown; readonly size: number };
  toString(): string;
}

const { Parser, DN } = ldap as unknown as {
  Parser: new (options?: object) => LdapjsParser;
  DN: { fromString(text: string): LdapjsDn };
};

const parser = new Parser();
let decoded: LdapjsMessage | undefined;
let failure: Error | undefined;
parser.on('message', (message) => {
  decoded = message;
});
parser.on('error', (error) => {
  failure = error;
});

/**
 * The DN a request is about, as the client sent it: ldapjs parses DNs leniently and renders
 * them again, which would hide an invalid DN from the caller's own check.
 */
function rawDn(message: Buffer): string {
  const outer = element(message, 0);
  const id = element(message, outer.start, outer.end);
  const op = element(message, id.end, outer.end);
  // DelRequest ([APPLICATION 10]) is the DN itself; the others start with it.
  const dn = op.tag === 0x4a ? op : element(message, op.start, op.end);
  return message.toString('utf8', dn.start, dn.end);
}

function convert(m: LdapjsMessage, message: Buffer): DecodedRequest {
  const common = { messageId: m.messageId, controls: m.controls };
  const dnText = (_parsed: unknown) => rawDn(message);
  switch (m.type) {
    case 'BindRequest':
      return { ...common, op: 'bind', version: m.version as number, name: String(m.name ?? ''), credentials: String(m.credentials ?? '') };
    case 'UnbindRequest':
      return { ...common, op: 'unbind' };
    case 'SearchRequest': {
      return {
        ...common,
        op: 'search',
        base: dnText(m.baseObject),
        scope: m.scope as number,
        sizeLimit: m.sizeLimit as number,
        timeLimit: m.timeLimit as number,
        typesOnly: m.typesOnly as boolean,
        filter: m.filter as DecodedFilter,
        attributes: m.attributes as string[],
      };
    }
    case 'AddRequest': {
      const attributes = (m.attributes as Array<{ type: string; values: string[] }>).map((a) => ({ type: a.type, values: a.values }));
      return { ...common, op: 'add', entry: dnText(m.entry), attributes };
    }
    case 'ModifyRequest': {
      const changes = (m.changes as Array<{ operation: string; modification: { type: string; values: string[] } }>).map((c) => ({
        operation: c.operation,
        attribute: { type: c.modification.type, values: c.modification.values },
      }));
      return { ...common, op: 'modify', object: dnText(m.object), changes };
    }
    case 'DeleteRequest':
      return { ...common, op: 'delete', entry: dnText(m.entry) };
    case 'ModifyDnRequest':
      return { ...common, op: 'modifyDn', entry: dnText(m.entry) };
    case 'CompareRequest':
      return { ...common, op: 'compare', entry: dnText(m.entry), attribute: String(m.attribute), value: String(m.value) };
    case 'AbandonRequest':
      return { ...common, op: 'abandon', abandonId: m.abandonId as number };
    case 'ExtensionRequest': {
      const value = m.requestValue;
      return { ...common, op: 'extended', name: String(m.requestName), value: typeof value === 'string' ? value : undefined };
    }
    default:
      throw new DecodeError(`${m.type} is not a request`);
  }
}

/**
 * Decodes one whole LDAPMessage (its outer SEQUENCE already framed and shape-checked).
 * Throws DecodeError when ldapjs cannot read it.
 */
export function decodeRequest(message: Buffer): DecodedRequest {
  decoded = undefined;
  failure = undefined;
  parser.buffer = null;
  try {
    parser.write(message);
  } catch (error) {
    failure = error as Error;
  }
  parser.buffer = null;
  const m = decoded as LdapjsMessage | undefined;
  if (failure || !m) throw new DecodeError(failure?.message ?? 'undecodable message', { cause: failure });
  return convert(m, message);
}

const KEY = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$/;
const SPECIAL = new Set([...'"+,;<>\\=# ']);

/**
 * What makes `text` not a DN by RFC 4514 §3, or undefined. ldapjs's parser accepts some
 * non-DNs (`cn=a,,dc=x`, `cn=a+,dc=x`, unknown escapes); this check runs first.
 */
export function dnSyntaxProblem(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  let i = 0;
  const n = text.length;
  for (;;) {
    // attributeType
    const eq = text.indexOf('=', i);
    if (eq === -1) return 'attribute type without "="';
    const type = text.slice(i, eq).trim();
    if (!KEY.test(type)) return `invalid attribute type "${type.slice(0, 40)}"`;
    i = eq + 1;
    // attributeValue
    if (text[i] === '#') {
      const m = /^#(?:[0-9A-Fa-f]{2})+/.exec(text.slice(i));
      if (!m) return 'invalid hex value';
      i += m[0].length;
    } else if (text[i] === '"') {
      const close = text.indexOf('"', i + 1);
      if (close === -1) return 'unterminated quoted value';
      i = close + 1;
    } else {
      while (i < n && text[i] !== ',' && text[i] !== '+' && text[i] !== ';') {
        if (text[i] === '\\') {
          const next = text[i + 1];
          if (next === undefined) return 'escape at the end';
          if (SPECIAL.has(next)) i += 2;
          else if (/^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) i += 3;
          else return 'invalid escape';
        } else if (text[i] === '"') {
          return 'unescaped " in a value';
        } else i++;
      }
    }
    while (i < n && text[i] === ' ') i++;
    if (i >= n) return undefined;
    const separator = text[i];
    if (separator !== ',' && separator !== '+' && separator !== ';') return 'junk after a value';
    i++;
    while (i < n && text[i] === ' ') i++;
    if (i >= n) return 'empty RDN at the end';
  }
}

/** One relative distinguished name: its attribute type (lower-case) and value pairs. */
export type Rdn = ReadonlyArray<{ readonly type: string; readonly value: string }>;

/**
 * Parses a DN string (RFC 4514) into RDNs, most specific first. Throws DecodeError when it is
 * not a DN, or uses a `#` hex value (BER-encoded values are not used by this directory).
 */
export function parseDn(text: string): Rdn[] {
  const problem = dnSyntaxProblem(text);
  if (problem) throw new DecodeError(`invalid DN: ${problem}`);
  let dn: LdapjsDn;
  try {
    dn = DN.fromString(text);
  } catch (cause) {
    throw new DecodeError(`invalid DN: ${(cause as Error).message}`, { cause });
  }
  const rdns: Rdn[] = [];
  for (let i = 0; i < dn.length; i++) {
    const rdn = dn.rdnAt(i);
    const pairs: Array<{ type: string; value: string }> = [];
    for (const type of rdn.keys()) {
      const value = rdn.getValue(type);
      if (typeof value !== 'string') throw new DecodeError('hex-encoded DN values are not supported');
      pairs.push({ type: type.toLowerCase(), value });
    }
    rdns.push(pairs);
  }
  return rdns;
}

/** Whether `text` is a DN this directory can read (parseDn). */
export function isDn(text: string): boolean {
  try {
    parseDn(text);
    return true;
  } catch {
    return false;
  }
}

export const PAGED_RESULTS_OID = '1.2.840.113556.1.4.319';

/** The paged-results request control's value (RFC 2696 §2), as ldapjs decodes it. */
export function pagedValue(control: DecodedControl): { size: number; cookie: Buffer } | undefined {
  const value = control.value as { size?: unknown; cookie?: unknown } | null;
  if (!value || typeof value.size !== 'number') return undefined;
  const cookie = Buffer.isBuffer(value.cookie) ? value.cookie : Buffer.alloc(0);
  return { size: value.size, cookie };
}
