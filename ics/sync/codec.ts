// Wire format of /cm4it/sync/1.0.0 messages (docs/sync-protocol.md): a type byte, then fields
// as unsigned LEB128 varints, length-prefixed strings and byte fields. Decoding is strict and
// total: every length is checked against what remains and against the protocol's caps before
// anything is allocated, trailing bytes are an error, and any failure is one ProtocolError,
// which the service treats as misbehaviour. Framing (a varint length before each message,
// bounded by maxMessageBytes) is done by lpStream outside this module.
import { decodeId, encodeId, isRecordId, type SyncBound } from '../store/index.ts';
import type { GossipedCheckpoint } from '../tlog/index.ts';
import {
  DIGEST_PREFIX_BYTES,
  FINGERPRINT_BYTES,
  IDLIST_MAX,
  MAX_ERROR_TEXT,
  MAX_HELLO_DOMAINS,
  MAX_NAME_BYTES,
  MAX_RANGES,
} from './consts.ts';

/** A peer sent bytes that are not a valid message (or not one allowed here). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export const MessageType = {
  hello: 1,
  helloOk: 2,
  reconcile: 3,
  reconcileReply: 4,
  fetch: 5,
  records: 6,
  announce: 7,
  ack: 8,
  error: 9,
  checkpoint: 10,
  checkpointReply: 11,
  cosign: 12,
  witnessed: 13,
  consistency: 14,
  consistencyReply: 15,
} as const;

/** Largest signed checkpoint, verifier key or cosignature line on the wire (a checkpoint is ~200 bytes). */
export const MAX_NOTE_WIRE_BYTES = 16 * 1024;
export const MAX_KEY_WIRE_BYTES = 512;
/** Hashes in a consistency proof at most: 2·log2 of the largest tree. */
const MAX_PROOF_HASHES = 128;
/** Checkpoints in one WITNESSED at most: one per log of the domain a node witnesses. */
export const MAX_GOSSIPED_CHECKPOINTS = 64;

export const Mode = { skip: 0, fingerprint: 1, idList: 2, idListReply: 3, wantIdList: 4 } as const;

/** HELLO_OK per-domain status. */
export const DomainStatus = { match: 0, unknown: 1, mismatch: 2 } as const;
/** Flags of a domain in HELLO (the sender's policy for the receiver) and HELLO_OK; `log` (HELLO_OK only): the server keeps a transparency log of it and answers CHECKPOINT. */
export const DomainFlag = { pull: 1, push: 2, readable: 4, log: 8 } as const;

export const ErrorCode = {
  notPermitted: 1,
  unknownDomain: 2,
  mismatch: 3,
  limit: 4,
  protocol: 5,
  unavailable: 6,
  version: 7,
} as const;

const ERROR_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([k, v]) => [v, k]));
export const errorName = (code: number): string => ERROR_NAMES.get(code) ?? `error-${code}`;

/** Bytes of a record id on the wire (the store's compact form: tag + 20 or 32 bytes). */
export type WireId = string;

export interface HelloDomain {
  readonly name: string;
  readonly digest: Uint8Array;
  readonly flags: number;
}

export interface HelloOkDomain {
  readonly name: string;
  readonly status: number;
  readonly flags: number;
  readonly digest: Uint8Array | undefined;
}

/** What the sender of a HELLO or HELLO_OK accepts: the other side keeps within it. */
export interface WireLimits {
  /** Bytes of a message it reads at most. */
  readonly maxMessageBytes: number;
  /** Ids of one FETCH it serves at most. */
  readonly batchSize: number;
}

/** An item named by id and digest prefix (id-list replies, announcements). */
export interface NamedItem {
  readonly id: string;
  readonly prefix: Uint8Array;
}

export type Range =
  | { readonly upper: SyncBound | undefined; readonly mode: typeof Mode.skip }
  | { readonly upper: SyncBound | undefined; readonly mode: typeof Mode.fingerprint; readonly fingerprint: Uint8Array }
  | { readonly upper: SyncBound | undefined; readonly mode: typeof Mode.idList; readonly prefixes: readonly Uint8Array[] }
  | {
      readonly upper: SyncBound | undefined;
      readonly mode: typeof Mode.idListReply;
      /** Bit i (LSB first) set: the responder holds the i-th item of the id list it answers. */
      readonly have: Uint8Array;
      readonly listed: number;
      readonly extras: readonly NamedItem[];
    }
  | { readonly upper: SyncBound | undefined; readonly mode: typeof Mode.wantIdList };

export type FetchEntry = { readonly status: 0; readonly bytes: Uint8Array } | { readonly status: 1 | 2 };

export type Message =
  | { readonly type: typeof MessageType.hello; readonly version: number; readonly limits: WireLimits; readonly domains: readonly HelloDomain[] }
  | { readonly type: typeof MessageType.helloOk; readonly version: number; readonly limits: WireLimits; readonly domains: readonly HelloOkDomain[] }
  | { readonly type: typeof MessageType.reconcile; readonly domain: string; readonly ranges: readonly Range[] }
  | { readonly type: typeof MessageType.reconcileReply; readonly ranges: readonly Range[] }
  | { readonly type: typeof MessageType.fetch; readonly domain: string; readonly ids: readonly string[] }
  | { readonly type: typeof MessageType.records; readonly entries: readonly FetchEntry[] }
  | { readonly type: typeof MessageType.announce; readonly domain: string; readonly hint: boolean; readonly items: readonly NamedItem[] }
  | { readonly type: typeof MessageType.ack; readonly status: number }
  | { readonly type: typeof MessageType.error; readonly code: number; readonly text: string }
  | { readonly type: typeof MessageType.checkpoint; readonly domain: string; readonly since: number }
  | { readonly type: typeof MessageType.checkpointReply; readonly note: string; readonly vkey: string; readonly proof: readonly Uint8Array[] }
  | { readonly type: typeof MessageType.cosign; readonly domain: string; readonly line: string; readonly vkey: string }
  /** Both ways: the checkpoints the sender witnessed of other nodes' logs of the domain (gossip). */
  | { readonly type: typeof MessageType.witnessed; readonly domain: string; readonly checkpoints: readonly GossipedCheckpoint[] }
  | { readonly type: typeof MessageType.consistency; readonly domain: string; readonly from: number; readonly to: number }
  | { readonly type: typeof MessageType.consistencyReply; readonly proof: readonly Uint8Array[] };

// ---- writing -----------------------------------------------------------------------------------

export class Writer {
  #buf: Buffer;
  #pos = 0;

  constructor(size = 256) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  get length(): number {
    return this.#pos;
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  byte(n: number): this {
    this.#room(1);
    this.#buf[this.#pos++] = n;
    return this;
  }

  /** Unsigned LEB128 of a safe integer (arithmetic, not bit operations: values reach 2^53). */
  varint(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`);
    let v = n;
    this.#room(8);
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    return this.byte(v);
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** Length-prefixed bytes. */
  blob(b: Uint8Array): this {
    return this.varint(b.length).bytes(b);
  }

  string(s: string): this {
    return this.blob(Buffer.from(s, 'utf8'));
  }

  done(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }
}

// ---- reading -----------------------------------------------------------------------------------

export class Reader {
  #pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.#pos;
  }

  byte(): number {
    if (this.#pos >= this.buf.length) throw new ProtocolError('truncated message');
    return this.buf[this.#pos++] as number;
  }

  varint(max = Number.MAX_SAFE_INTEGER): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) throw new ProtocolError('varint too long');
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new ProtocolError('varint not minimal');
        break;
      }
      scale *= 0x80;
    }
    if (value > max) throw new ProtocolError(`value ${value} over its limit ${max}`);
    return value;
  }

  bytes(n: number): Uint8Array {
    if (n > this.remaining) throw new ProtocolError('truncated message');
    const out = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  blob(max: number): Uint8Array {
    return this.bytes(this.varint(max));
  }

  string(max: number): string {
    const bytes = this.blob(max);
    const text = Buffer.from(bytes).toString('utf8');
    if (Buffer.byteLength(text) !== bytes.length) throw new ProtocolError('string is not UTF-8');
    return text;
  }

  /** A count of elements each at least `minBytes` long: checked against what remains before allocating. */
  count(max: number, minBytes: number): number {
    const n = this.varint(max);
    if (n * minBytes > this.remaining) throw new ProtocolError('count larger than the message');
    return n;
  }

  end(): void {
    if (this.remaining !== 0) throw new ProtocolError('trailing bytes');
  }
}

// ---- ids and bounds ------------------------------------------------------------------------------

const CODE_PREFIX = 'sha256:';
const FINGERPRINT_HEX = 40;
const SHA256_HEX = 64;
const HEX = /^[0-9a-f]*$/;
/** Bit 7 of a bound's id header: the prefix is of a code id (`sha256:` + hex). */
const CODE_FLAG = 0x80;

export function writeId(w: Writer, id: string): void {
  const encoded = encodeId(id);
  if (!encoded) throw new RangeError(`not a record id: ${id.slice(0, 80)}`);
  w.bytes(encoded);
}

export function readId(r: Reader): string {
  const tag = r.byte();
  const length = tag === 1 ? 20 : tag === 2 ? 32 : -1;
  if (length < 0) throw new ProtocolError('not a record id');
  const body = r.bytes(length);
  const whole = new Uint8Array(1 + length);
  whole[0] = tag;
  whole.set(body, 1);
  return decodeId(whole);
}

/** Splits an id bound into its kind and hex digits; undefined for strings sync never sends. */
function boundParts(id: string): { code: boolean; hex: string } | undefined {
  if (id.startsWith(CODE_PREFIX)) {
    const hex = id.slice(CODE_PREFIX.length);
    return hex.length <= SHA256_HEX && HEX.test(hex) ? { code: true, hex } : undefined;
  }
  return id.length <= FINGERPRINT_HEX && HEX.test(id) ? { code: false, hex: id } : undefined;
}

/** True for the id bounds the protocol carries: '', a hex prefix of a fingerprint, or `sha256:` + a hex prefix. */
export function isWireBound(id: string): boolean {
  return boundParts(id) !== undefined;
}

/**
 * Bounds of one message, each time as the difference to the one before plus one (0 stands for
 * the end of the set, Negentropy's infinity), its id as a header byte (bit 7: code id; the rest:
 * hex digits) and the digits packed two to a byte.
 */
export class BoundWriter {
  #last = 0;

  write(w: Writer, bound: SyncBound | undefined): void {
    if (bound === undefined) {
      w.varint(0);
      return;
    }
    if (bound.time < this.#last) throw new RangeError('bounds must not decrease');
    w.varint(bound.time - this.#last + 1);
    this.#last = bound.time;
    const parts = boundParts(bound.id);
    if (!parts) throw new RangeError(`not a wire bound: ${bound.id.slice(0, 80)}`);
    w.byte((parts.code ? CODE_FLAG : 0) | parts.hex.length);
    if (parts.hex.length > 0) w.bytes(Buffer.from(parts.hex.length % 2 === 0 ? parts.hex : `${parts.hex}0`, 'hex'));
  }
}

export class BoundReader {
  #last = 0;
  #ended = false;

  read(r: Reader): SyncBound | undefined {
    if (this.#ended) throw new ProtocolError('range after the end of the set');
    const delta = r.varint();
    if (delta === 0) {
      this.#ended = true;
      return undefined;
    }
    const time = this.#last + delta - 1;
    if (!Number.isSafeInteger(time)) throw new ProtocolError('bound time out of range');
    this.#last = time;
    const header = r.byte();
    const code = (header & CODE_FLAG) !== 0;
    const digits = header & ~CODE_FLAG;
    if (digits > (code ? SHA256_HEX : FINGERPRINT_HEX)) throw new ProtocolError('bound id too long');
    let hex = '';
    if (digits > 0) {
      const packed = r.bytes(Math.ceil(digits / 2));
      hex = Buffer.from(packed).toString('hex');
      if (digits % 2 === 1) {
        if (hex.endsWith('0') === false) throw new ProtocolError('bound id padding is not zero');
        hex = hex.slice(0, -1);
      }
    }
    return { time, id: code ? CODE_PREFIX + hex : hex };
  }

  get ended(): boolean {
    return this.#ended;
  }
}

// ---- messages ------------------------------------------------------------------------------------

function writeRanges(w: Writer, ranges: readonly Range[]): void {
  w.varint(ranges.length);
  const bounds = new BoundWriter();
  for (const range of ranges) {
    bounds.write(w, range.upper);
    w.byte(range.mode);
    switch (range.mode) {
      case Mode.fingerprint:
        w.bytes(range.fingerprint);
        break;
      case Mode.idList:
        w.varint(range.prefixes.length);
        for (const p of range.prefixes) w.bytes(p);
        break;
      case Mode.idListReply:
        w.varint(range.listed);
        w.bytes(range.have);
        w.varint(range.extras.length);
        for (const item of range.extras) {
          writeId(w, item.id);
          w.bytes(item.prefix);
        }
        break;
      default:
        break;
    }
  }
}

/** Bytes a range takes on the wire at most before its payload: time varint, id header + digits, mode. */
export const RANGE_OVERHEAD = 9 + 1 + 32 + 1;
/** Bytes of a named item on the wire at most (code id + prefix). */
export const NAMED_ITEM_BYTES = 33 + DIGEST_PREFIX_BYTES;

function readRanges(r: Reader): Range[] {
  // A range is at least 2 bytes: an end bound (1) and a mode (1).
  const n = r.count(MAX_RANGES, 2);
  if (n === 0) throw new ProtocolError('no ranges');
  const bounds = new BoundReader();
  const out: Range[] = [];
  let previous: SyncBound | undefined;
  for (let i = 0; i < n; i++) {
    const upper = bounds.read(r);
    // Within one time, id bounds order as strings (as the store orders them): they must increase.
    if (upper && previous && upper.time === previous.time && previous.id >= upper.id) throw new ProtocolError('bounds do not increase');
    previous = upper ?? previous;
    const mode = r.byte();
    switch (mode) {
      case Mode.skip:
        out.push({ upper, mode });
        break;
      case Mode.fingerprint:
        out.push({ upper, mode, fingerprint: r.bytes(FINGERPRINT_BYTES) });
        break;
      case Mode.idList: {
        const k = r.count(IDLIST_MAX, DIGEST_PREFIX_BYTES);
        const prefixes: Uint8Array[] = [];
        for (let j = 0; j < k; j++) prefixes.push(r.bytes(DIGEST_PREFIX_BYTES));
        out.push({ upper, mode, prefixes });
        break;
      }
      case Mode.idListReply: {
        const listed = r.varint(IDLIST_MAX);
        const have = r.bytes(Math.ceil(listed / 8));
        const m = r.count(MAX_RANGES * IDLIST_MAX, 21 + DIGEST_PREFIX_BYTES);
        const extras: NamedItem[] = [];
        for (let j = 0; j < m; j++) extras.push({ id: readId(r), prefix: r.bytes(DIGEST_PREFIX_BYTES) });
        out.push({ upper, mode, listed, have, extras });
        break;
      }
      case Mode.wantIdList:
        out.push({ upper, mode });
        break;
      default:
        throw new ProtocolError(`unknown range mode ${mode}`);
    }
  }
  if (!bounds.ended) throw new ProtocolError('ranges do not reach the end of the set');
  return out;
}

export function encodeMessage(message: Message): Uint8Array {
  const w = new Writer(message.type === MessageType.records ? 64 * 1024 : 256);
  w.byte(message.type);
  switch (message.type) {
    case MessageType.hello:
      w.varint(message.version).varint(message.limits.maxMessageBytes).varint(message.limits.batchSize).varint(message.domains.length);
      for (const d of message.domains) w.string(d.name).bytes(d.digest).byte(d.flags);
      break;
    case MessageType.helloOk:
      w.varint(message.version).varint(message.limits.maxMessageBytes).varint(message.limits.batchSize).varint(message.domains.length);
      for (const d of message.domains) {
        w.string(d.name).byte(d.status).byte(d.flags);
        if (d.status !== DomainStatus.unknown) w.bytes(d.digest ?? new Uint8Array(32));
      }
      break;
    case MessageType.reconcile:
      w.string(message.domain);
      writeRanges(w, message.ranges);
      break;
    case MessageType.reconcileReply:
      writeRanges(w, message.ranges);
      break;
    case MessageType.fetch:
      w.string(message.domain).varint(message.ids.length);
      for (const id of message.ids) writeId(w, id);
      break;
    case MessageType.records:
      w.varint(message.entries.length);
      for (const e of message.entries) {
        w.byte(e.status);
        if (e.status === 0) w.blob(e.bytes);
      }
      break;
    case MessageType.announce:
      w.string(message.domain).byte(message.hint ? 1 : 0).varint(message.items.length);
      for (const item of message.items) {
        writeId(w, item.id);
        w.bytes(item.prefix);
      }
      break;
    case MessageType.ack:
      w.byte(message.status);
      break;
    case MessageType.error:
      w.byte(message.code).string(message.text.slice(0, MAX_ERROR_TEXT));
      break;
    case MessageType.checkpoint:
      w.string(message.domain).varint(message.since);
      break;
    case MessageType.checkpointReply:
      w.string(message.note).string(message.vkey);
      writeProof(w, message.proof);
      break;
    case MessageType.cosign:
      w.string(message.domain).string(message.line).string(message.vkey);
      break;
    case MessageType.witnessed:
      w.string(message.domain).varint(message.checkpoints.length);
      for (const c of message.checkpoints) w.string(c.note).string(c.vkey);
      break;
    case MessageType.consistency:
      w.string(message.domain).varint(message.from).varint(message.to);
      break;
    case MessageType.consistencyReply:
      writeProof(w, message.proof);
      break;
  }
  return w.done();
}

/** Limits that depend on the node's configuration. */
export interface DecodeLimits {
  /** Ids in one FETCH at most (the node's batch size). */
  readonly maxFetchIds: number;
  /** Bytes of one record at most. */
  readonly maxRecordBytes: number;
}

function domainName(r: Reader): string {
  const name = r.string(MAX_NAME_BYTES);
  if (name.length === 0 || name.includes('\0')) throw new ProtocolError('invalid domain name');
  return name;
}

/** Below these, a peer could not carry one record or one useful batch: it is refused. */
const MIN_WIRE_MESSAGE_BYTES = 1024;

function readLimits(r: Reader): WireLimits {
  const maxMessageBytes = r.varint();
  const batchSize = r.varint();
  if (maxMessageBytes < MIN_WIRE_MESSAGE_BYTES || batchSize < 1) throw new ProtocolError('peer limits too small to sync');
  return { maxMessageBytes, batchSize };
}

function writeProof(w: Writer, proof: readonly Uint8Array[]): void {
  w.varint(proof.length);
  for (const hash of proof) w.bytes(hash);
}

function readProof(r: Reader): Uint8Array[] {
  const n = r.count(MAX_PROOF_HASHES, 32);
  const proof: Uint8Array[] = [];
  for (let i = 0; i < n; i++) proof.push(r.bytes(32));
  return proof;
}

export function decodeMessage(bytes: Uint8Array, limits: DecodeLimits): Message {
  const r = new Reader(bytes);
  const type = r.byte();
  let message: Message;
  switch (type) {
    case MessageType.hello: {
      const version = r.varint();
      const limits = readLimits(r);
      const n = r.count(MAX_HELLO_DOMAINS, 34);
      const domains: HelloDomain[] = [];
      for (let i = 0; i < n; i++) domains.push({ name: domainName(r), digest: r.bytes(32), flags: r.byte() });
      message = { type, version, limits, domains };
      break;
    }
    case MessageType.helloOk: {
      const version = r.varint();
      const limits = readLimits(r);
      const n = r.count(MAX_HELLO_DOMAINS, 3);
      const domains: HelloOkDomain[] = [];
      for (let i = 0; i < n; i++) {
        const name = domainName(r);
        const status = r.byte();
        if (status > DomainStatus.mismatch) throw new ProtocolError('unknown domain status');
        const flags = r.byte();
        domains.push({ name, status, flags, digest: status === DomainStatus.unknown ? undefined : r.bytes(32) });
      }
      message = { type, version, limits, domains };
      break;
    }
    case MessageType.reconcile:
      message = { type, domain: domainName(r), ranges: readRanges(r) };
      break;
    case MessageType.reconcileReply:
      message = { type, ranges: readRanges(r) };
      break;
    case MessageType.fetch: {
      const domain = domainName(r);
      const n = r.count(limits.maxFetchIds, 21);
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push(readId(r));
      if (n === 0) throw new ProtocolError('empty fetch');
      message = { type, domain, ids };
      break;
    }
    case MessageType.records: {
      const n = r.count(limits.maxFetchIds, 1);
      const entries: FetchEntry[] = [];
      for (let i = 0; i < n; i++) {
        const status = r.byte();
        if (status === 0) entries.push({ status, bytes: r.blob(limits.maxRecordBytes) });
        else if (status === 1 || status === 2) entries.push({ status });
        else throw new ProtocolError('unknown record status');
      }
      message = { type, entries };
      break;
    }
    case MessageType.announce: {
      const domain = domainName(r);
      const flags = r.byte();
      if (flags > 1) throw new ProtocolError('unknown announce flags');
      const n = r.count(Number.MAX_SAFE_INTEGER, 21 + DIGEST_PREFIX_BYTES);
      const items: NamedItem[] = [];
      for (let i = 0; i < n; i++) items.push({ id: readId(r), prefix: r.bytes(DIGEST_PREFIX_BYTES) });
      message = { type, domain, hint: flags === 1, items };
      break;
    }
    case MessageType.ack:
      message = { type, status: r.byte() };
      break;
    case MessageType.error:
      message = { type, code: r.byte(), text: r.string(MAX_ERROR_TEXT * 4) };
      break;
    case MessageType.checkpoint:
      message = { type, domain: domainName(r), since: r.varint() };
      break;
    case MessageType.checkpointReply: {
      const note = r.string(MAX_NOTE_WIRE_BYTES);
      const vkey = r.string(MAX_KEY_WIRE_BYTES);
      message = { type, note, vkey, proof: readProof(r) };
      break;
    }
    case MessageType.cosign:
      message = { type, domain: domainName(r), line: r.string(MAX_NOTE_WIRE_BYTES), vkey: r.string(MAX_KEY_WIRE_BYTES) };
      break;
    case MessageType.witnessed: {
      const domain = domainName(r);
      const n = r.count(MAX_GOSSIPED_CHECKPOINTS, 2);
      const checkpoints: GossipedCheckpoint[] = [];
      for (let i = 0; i < n; i++) checkpoints.push({ note: r.string(MAX_NOTE_WIRE_BYTES), vkey: r.string(MAX_KEY_WIRE_BYTES) });
      message = { type, domain, checkpoints };
      break;
    }
    case MessageType.consistency: {
      const domain = domainName(r);
      const from = r.varint();
      const to = r.varint();
      if (from < 1 || from >= to) throw new ProtocolError('a consistency proof is asked between two sizes, 0 < from < to');
      message = { type, domain, from, to };
      break;
    }
    case MessageType.consistencyReply:
      message = { type, proof: readProof(r) };
      break;
    default:
      throw new ProtocolError(`unknown message type ${type}`);
  }
  r.end();
  return message;
}

export { isRecordId };
