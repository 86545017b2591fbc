// Directory entries: attribute values for filters and compare, and their BER encoding, made
// once per entry and per attribute selection so that a repeated search only frames bytes.
import { type AttributeType, attributeType } from './schema.ts';

interface Attribute {
  readonly type: AttributeType;
  readonly values: readonly string[];
}

/** Which attributes a search returns (RFC 4511 §4.5.1.8, RFC 3673 for `+`). */
export interface Selection {
  /** Identifies equal selections, for the per-entry encoding cache. */
  readonly key: string;
  readonly allUser: boolean;
  readonly allOperational: boolean;
  /** Lower-case canonical names asked for by name. */
  readonly names: ReadonlySet<string>;
  readonly typesOnly: boolean;
}

/**
 * The selection a request's attribute list makes. Names are matched case-insensitively
 * (ldapjs's own server dropped names with capitals: issues #900, #974) and by OID; unknown
 * names select nothing, as RFC 4511 says. Empty list or `*`: all user attributes.
 */
export function selectionOf(requested: readonly string[], typesOnly: boolean): Selection {
  const cacheKey = `${typesOnly ? '!' : ''}${requested.join('\0')}`;
  const hit = selections.get(cacheKey);
  if (hit) return hit;
  const selection = computeSelection(requested, typesOnly);
  if (selections.size >= SELECTION_CACHE) selections.delete(selections.keys().next().value as string);
  selections.set(cacheKey, selection);
  return selection;
}

/** Attribute lists seen recently: clients send the same list with every search. */
const SELECTION_CACHE = 256;
const selections = new Map<string, Selection>();

function computeSelection(requested: readonly string[], typesOnly: boolean): Selection {
  let allUser = requested.length === 0;
  let allOperational = false;
  const names = new Set<string>();
  for (const r of requested) {
    if (r === '*') allUser = true;
    else if (r === '+') allOperational = true;
    else if (r === '1.1') continue;
    else {
      const type = attributeType(r);
      if (type) names.add(type.name.toLowerCase());
    }
  }
  const key = `${allUser ? '*' : ''}${allOperational ? '+' : ''}${typesOnly ? '!' : ''}|${[...names].sort().join(',')}`;
  return { key, allUser, allOperational, names, typesOnly };
}

/** Attribute names entries are built with (the views' own, a fixed set) resolved once. */
const namesSeen = new Map<string, { type: AttributeType; key: string }>();

function schemaName(name: string): { type: AttributeType; key: string } {
  const hit = namesSeen.get(name);
  if (hit) return hit;
  const type = attributeType(name);
  if (!type) throw new Error(`attribute ${name} is not in the schema`);
  const known = { type, key: type.name.toLowerCase() };
  namesSeen.set(name, known);
  return known;
}

/** A string value's own header and its slot in the values array. */
const VALUE_OVERHEAD_BYTES = 32;
/** The entry object, its maps and its attribute records. */
const ENTRY_OVERHEAD_BYTES = 1024;

export class Entry {
  readonly dn: string;
  readonly #attributes: ReadonlyMap<string, Attribute>;
  readonly #selections = new Map<string, Buffer>();
  readonly #normalised = new Map<string, readonly unknown[]>();
  readonly #maxSelections: number;
  /**
   * Heap the entry may come to hold, estimated: its values, then up to `maxSelections`
   * encodings and one prepared copy of them made as it is searched. For caches' byte bounds.
   */
  readonly footprint: number;

  /** `attributes`: canonical name → values, in the order they are returned. Empty lists are left out. */
  constructor(dn: string, attributes: ReadonlyArray<readonly [string, readonly string[]]>, maxSelections = 4) {
    this.dn = dn;
    this.#maxSelections = maxSelections;
    const map = new Map<string, Attribute>();
    let content = dn.length;
    for (const [name, values] of attributes) {
      for (const v of values) content += v.length + VALUE_OVERHEAD_BYTES;
      if (values.length === 0) continue;
      const known = schemaName(name);
      map.set(known.key, { type: known.type, values });
    }
    this.#attributes = map;
    this.footprint = ENTRY_OVERHEAD_BYTES + content * (2 + maxSelections);
  }

  /** Values of an attribute (lower-case canonical name), or undefined when the entry has none. */
  values(name: string): readonly string[] | undefined {
    return this.#attributes.get(name)?.values;
  }

  /** Every attribute: canonical name, values, and whether it is operational. */
  *attributes(): Generator<{ name: string; values: readonly string[]; operational: boolean }> {
    for (const a of this.#attributes.values()) yield { name: a.type.name, values: a.values, operational: a.type.operational };
  }

  has(name: string): boolean {
    return this.#attributes.has(name);
  }

  /** Values of `name` prepared for matching by `prepare`, computed once per entry and `form`. */
  prepared<T>(name: string, form: string, prepare: (values: readonly string[]) => readonly T[]): readonly T[] | undefined {
    const key = `${name}#${form}`;
    const hit = this.#normalised.get(key);
    if (hit) return hit as readonly T[];
    const values = this.#attributes.get(name)?.values;
    if (!values) return undefined;
    const out = prepare(values);
    this.#normalised.set(key, out);
    return out;
  }

  /** The SearchResultEntry protocol op for a selection (the caller adds the message envelope). */
  encode(selection: Selection): Buffer {
    const hit = this.#selections.get(selection.key);
    if (hit) return hit;
    const chosen: Attribute[] = [];
    for (const [name, attribute] of this.#attributes) {
      const wanted = attribute.type.operational ? selection.allOperational : selection.allUser;
      if (wanted || selection.names.has(name)) chosen.push(attribute);
    }
    const op = encodeEntryOp(this.dn, chosen, selection.typesOnly);
    if (this.#selections.size >= this.#maxSelections) this.#selections.delete(this.#selections.keys().next().value as string);
    this.#selections.set(selection.key, op);
    return op;
  }
}

/**
 * Buffer's native UTF-8 writer: `write(string, offset, 'utf8')` checks and normalises its
 * arguments in JavaScript first, which cost more than the copy for an entry's short values.
 */
const utf8Write = (Buffer.prototype as unknown as { utf8Write(this: Buffer, value: string, offset: number): number }).utf8Write;

/** Bytes of a BER length field. */
function lengthBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 5;
}

function writeHeader(out: Buffer, at: number, tag: number, length: number): number {
  out[at++] = tag;
  const n = lengthBytes(length);
  if (n === 1) {
    out[at++] = length;
    return at;
  }
  out[at++] = 0x80 | (n - 1);
  for (let i = n - 2; i >= 0; i--) out[at++] = (length >>> (8 * i)) & 0xff;
  return at;
}

/**
 * SearchResultEntry (RFC 4511 §4.5.2) in one allocation: [APPLICATION 4] { objectName,
 * attributes SEQUENCE OF PartialAttribute { type, vals SET OF value } }. Built from lengths
 * first, then written in place: a cold entry costs one buffer, not one per value.
 */
function encodeEntryOp(dn: string, attributes: readonly Attribute[], typesOnly: boolean): Buffer {
  const dnBytes = Buffer.byteLength(dn);
  // Per attribute: its values' byte lengths, then the name's, the set's and the attribute's.
  const sizes: number[] = [];
  let listContent = 0;
  for (const a of attributes) {
    const nameBytes = Buffer.byteLength(a.type.name);
    let setContent = 0;
    if (!typesOnly) {
      for (const v of a.values) {
        const b = Buffer.byteLength(v);
        sizes.push(b);
        setContent += 1 + lengthBytes(b) + b;
      }
    }
    const attributeContent = 1 + lengthBytes(nameBytes) + nameBytes + 1 + lengthBytes(setContent) + setContent;
    sizes.push(nameBytes, setContent, attributeContent);
    listContent += 1 + lengthBytes(attributeContent) + attributeContent;
  }
  const opContent = 1 + lengthBytes(dnBytes) + dnBytes + 1 + lengthBytes(listContent) + listContent;
  const out = Buffer.allocUnsafeSlow(1 + lengthBytes(opContent) + opContent);
  let at = writeHeader(out, 0, 0x64, opContent);
  at = writeHeader(out, at, 0x04, dnBytes);
  at += utf8Write.call(out, dn, at);
  at = writeHeader(out, at, 0x30, listContent);
  let k = 0;
  for (const a of attributes) {
    const first = k;
    if (!typesOnly) k += a.values.length;
    const nameBytes = sizes[k++] as number;
    const setContent = sizes[k++] as number;
    const attributeContent = sizes[k++] as number;
    at = writeHeader(out, at, 0x30, attributeContent);
    at = writeHeader(out, at, 0x04, nameBytes);
    at += utf8Write.call(out, a.type.name, at);
    at = writeHeader(out, at, 0x31, setContent);
    if (!typesOnly) {
      for (let i = 0; i < a.values.length; i++) {
        at = writeHeader(out, at, 0x04, sizes[first + i] as number);
        at += utf8Write.call(out, a.values[i] as string, at);
      }
    }
  }
  if (at !== out.length) throw new Error('entry encoding length mismatch');
  return out;
}

/** GeneralizedTime (RFC 4517 §3.3.13) in UTC to the second: `20250101120000Z`. */
export function generalizedTime(date: Date): string {
  const year = date.getUTCFullYear();
  // Years of four digits from the fields (every entry carries two or more times); others as ISO has them.
  if (!(year >= 1000 && year <= 9999)) return `${date.toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`;
  return `${year}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
}

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
