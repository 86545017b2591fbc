// Binary values of the LevelDB store: the record value (a small fixed header, the domains,
// then the canonical record bytes, so that a lookup is one read) and the change event.
// Compact because the event log and the records are most of the disk (goal ≤ 1.5× the
// records' own bytes).
import { IcsError } from '../../errors.ts';
import { decodeId, encodedIdLength, encodeRecordId } from '../ids.ts';
import type { ChangeEvent, ChangeSource, StoredRecord } from '../model.ts';
import { kindByte, kindOfByte, readUint48, SEQ_BYTES } from './keys.ts';

/** First byte of every value: lets a later version read this one. */
const FORMAT = 1;
const DIGEST_BYTES = 32;
/** Stored by position: new sources are appended, never inserted. */
const SOURCES: readonly ChangeSource[] = ['cli', 'hkp', 'ldap', 'api', 'peer', 'import', 'est', 'admin'];

/** Appends to a growing buffer. */
class Writer {
  #buf: Buffer;
  #pos = 0;

  constructor(size: number) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  byte(n: number): void {
    this.#room(1);
    this.#buf[this.#pos++] = n;
  }

  uint48(n: number): void {
    this.#room(SEQ_BYTES);
    this.#buf.writeUIntBE(n, this.#pos, SEQ_BYTES);
    this.#pos += SEQ_BYTES;
  }

  varint(n: number): void {
    let v = n;
    while (v >= 0x80) {
      this.byte((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  hex(h: string): void {
    this.#room(h.length / 2);
    this.#pos += this.#buf.write(h, this.#pos, 'hex');
  }

  text(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.varint(b.length);
    this.bytes(b);
  }

  done(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}

class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }

  #need(n: number): void {
    if (this.pos + n > this.buf.length) throw new IcsError('INTERNAL', 'stored value is truncated');
  }

  byte(): number {
    this.#need(1);
    return this.buf[this.pos++] as number;
  }

  uint48(): number {
    this.#need(SEQ_BYTES);
    const n = readUint48(this.buf, this.pos);
    this.pos += SEQ_BYTES;
    return n;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 128;
      if (scale > 2 ** 49) throw new IcsError('INTERNAL', 'stored varint too long');
    }
  }

  slice(n: number): Buffer {
    this.#need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  hex(n: number): string {
    return this.slice(n).toString('hex');
  }

  text(): string {
    return this.slice(this.varint()).toString('utf8');
  }
}

function checkFormat(r: Reader, what: string): void {
  const format = r.byte();
  if (format !== FORMAT) throw new IcsError('INTERNAL', `stored ${what} has unknown format ${format}`);
}

/** A record as the store keeps it in memory: what callers see plus its record number. */
export interface StoredEntry {
  readonly stored: StoredRecord;
  /** The record's number (the seq that inserted it), which its index entries end in. */
  readonly doc: number;
}

//   format(1) kind(1) doc(6) seq(6) contentTime(6) updated(6) digest(32)
//   domainCount(1) [len(1) utf8]… canonical bytes…
export function encodeRecordValue(entry: StoredEntry): Buffer {
  const { stored, doc } = entry;
  let size = 59 + stored.bytes.length;
  for (const d of stored.domains) size += 1 + Buffer.byteLength(d, 'utf8');
  const w = new Writer(size);
  w.byte(FORMAT);
  w.byte(kindByte(stored.kind));
  w.uint48(doc);
  w.uint48(stored.seq);
  w.uint48(stored.contentTime.getTime());
  w.uint48(stored.updated.getTime());
  w.hex(stored.digest);
  w.byte(stored.domains.length);
  for (const d of stored.domains) {
    const b = Buffer.from(d, 'utf8');
    w.byte(b.length);
    w.bytes(b);
  }
  w.bytes(stored.bytes);
  return w.done();
}

/**
 * Decodes a record value. The result is not frozen (freezing costs more than the read on the
 * hot path); StoredRecord is readonly by type and by contract.
 */
export function decodeRecordValue(id: string, value: Buffer): StoredEntry {
  if (value[0] !== FORMAT) throw new IcsError('INTERNAL', `stored record has unknown format ${value[0]}`);
  const kind = kindOfByte(value[1] as number);
  const doc = value.readUIntBE(2, SEQ_BYTES);
  const seq = value.readUIntBE(8, SEQ_BYTES);
  const contentTime = new Date(value.readUIntBE(14, SEQ_BYTES));
  const updated = new Date(value.readUIntBE(20, SEQ_BYTES));
  const digest = value.toString('hex', 26, 26 + DIGEST_BYTES);
  const count = value[58] as number;
  let at = 59;
  const domains: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const length = value[at] as number;
    domains[i] = value.toString('utf8', at + 1, at + 1 + length);
    at += 1 + length;
  }
  if (at > value.length) throw new IcsError('INTERNAL', 'stored record is truncated');
  return { stored: { id, kind, bytes: value.subarray(at), digest, domains, contentTime, updated, seq }, doc };
}

/** The digest of a record value, read without decoding the rest. */
export function digestOfRecordValue(value: Buffer): string {
  return value.toString('hex', 26, 26 + DIGEST_BYTES);
}

//   format(1) action(1) source(1) kind(1) at(6) id(21|33) digest(32) hasPrevious(1) [previous(32)]
//   signaturesAdded(varint) hasOrigin(1) [origin(text)] summary(text) domainCount(varint) [domain(text)]…
const EVENT_ID_AT = 10;

export function encodeEvent(event: ChangeEvent): Buffer {
  const w = new Writer(160 + event.summary.length);
  w.byte(FORMAT);
  w.byte(event.action === 'insert' ? 0 : 1);
  const source = SOURCES.indexOf(event.source);
  if (source < 0) throw new IcsError('INTERNAL', `unknown change source ${event.source}`);
  w.byte(source);
  w.byte(kindByte(event.kind));
  w.uint48(event.at.getTime());
  w.bytes(encodeRecordId(event.id));
  w.hex(event.digest);
  if (event.previousDigest === undefined) w.byte(0);
  else {
    w.byte(1);
    w.hex(event.previousDigest);
  }
  w.varint(event.signaturesAdded);
  if (event.origin === undefined) w.byte(0);
  else {
    w.byte(1);
    w.text(event.origin);
  }
  w.text(event.summary);
  w.varint(event.domains.length);
  for (const d of event.domains) w.text(d);
  return w.done();
}

export function decodeEvent(seq: number, value: Buffer): ChangeEvent {
  const r = new Reader(value);
  checkFormat(r, 'event');
  const action = r.byte() === 0 ? 'insert' : 'update';
  const source = SOURCES[r.byte()];
  if (!source) throw new IcsError('INTERNAL', 'stored event has an unknown source');
  const kind = kindOfByte(r.byte());
  const at = new Date(r.uint48());
  const idLength = encodedIdLength(value, r.pos);
  const id = decodeId(r.slice(idLength));
  const digest = r.hex(DIGEST_BYTES);
  const previousDigest = r.byte() === 1 ? r.hex(DIGEST_BYTES) : undefined;
  const signaturesAdded = r.varint();
  const origin = r.byte() === 1 ? r.text() : undefined;
  const summary = r.text();
  const domains: string[] = [];
  for (let n = r.varint(); n > 0; n--) domains.push(r.text());
  return Object.freeze({
    seq,
    at,
    id,
    kind,
    action,
    source,
    origin,
    digest,
    previousDigest,
    signaturesAdded,
    summary,
    domains: Object.freeze(domains),
  });
}

/** The record id an event names, read without decoding the rest (record number → id). */
export function eventRecordId(value: Buffer): string {
  if (value[0] !== FORMAT) throw new IcsError('INTERNAL', `stored event has unknown format ${value[0]}`);
  return decodeId(value, EVENT_ID_AT, EVENT_ID_AT + encodedIdLength(value, EVENT_ID_AT));
}
