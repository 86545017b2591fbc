// Range-based set reconciliation over one domain's (time, id, digest) set (A. Meyer,
// "Range-Based Set Reconciliation", 2023; the Negentropy protocol), with the messages of
// codec.ts. Each message lists ranges covering the whole set in order; a range is skipped
// (equal), fingerprinted, or settled by item lists. The side that processes a fingerprint it
// does not match cuts the range into BRANCHING pieces — at bucket starts of the store's index
// where the range spans several buckets, else at items — so that only differing ranges are
// cut again and the bytes exchanged grow with the difference, not with the set.
//
// Roles: the initiator (the node that pulls) learns the result: the items it holds that the
// responder lacks ("haves") and the items the responder holds that it lacks ("needs"). The
// responder keeps no state between messages. Item lists go one way: the initiator sends its
// items' digest prefixes (8 bytes each) when it holds at most IDLIST_MAX in a differing range
// (asked for by WANT_IDLIST when the responder is the one holding few); the responder answers
// with which of them it holds and the ids of its own items the initiator lacks.
//
// Budget: a message stays under maxBytes and MAX_RANGES. When the budget runs out, the rest of
// the set goes as one fingerprint of the sender's own items, which the other side cuts again:
// a large difference (an initial sync) takes more rounds, never a larger message.
import { createHash } from 'node:crypto';
import { type SyncBound, type SyncItem, type SyncPiece, type SyncSet, type SyncSummary, summarise } from '../store/index.ts';
import { Mode, NAMED_ITEM_BYTES, type NamedItem, ProtocolError, type Range } from './codec.ts';
import { BRANCHING, DIGEST_PREFIX_BYTES, FINGERPRINT_BYTES, IDLIST_MAX, IDLIST_REPLY_MAX, MAX_RANGES, MAX_SPLIT_READ } from './consts.ts';

/** What reconciliation reads of one domain's set: the store's sync-set methods. */
export interface SetView {
  summaries(bounds: readonly SyncBound[], to: SyncBound | undefined): Promise<SyncSummary[]>;
  split(from: SyncBound, to: SyncBound | undefined, parts: number): Promise<SyncPiece[]>;
  items(from: SyncBound, to: SyncBound | undefined, limit: number): Promise<SyncItem[]>;
}

export function storeView(store: SyncSet, domain: string): SetView {
  return {
    summaries: (bounds, to) => store.syncSummaries(domain, bounds, to),
    split: (from, to, parts) => store.syncSplit(domain, from, to, parts),
    items: (from, to, limit) => store.syncRange(domain, from, to, limit),
  };
}

const LOWEST: SyncBound = Object.freeze({ time: 0, id: '' });

/** SHA-256 of the sum and the count (varint), first FINGERPRINT_BYTES bytes: what goes on the wire. */
export function fingerprintOf(summary: SyncSummary): Uint8Array {
  const count: number[] = [];
  let n = summary.count;
  while (n >= 0x80) {
    count.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  count.push(n);
  return createHash('sha256').update(summary.sum).update(Uint8Array.from(count)).digest().subarray(0, FINGERPRINT_BYTES);
}

export function digestPrefix(digestHex: string): Uint8Array {
  return Buffer.from(digestHex.slice(0, DIGEST_PREFIX_BYTES * 2), 'hex');
}

const prefixHex = (prefix: Uint8Array) => Buffer.from(prefix).toString('hex');

/**
 * The shortest bound above `before` and not above `after` (Negentropy's minimal bound): the
 * time alone when the times differ, else the shortest prefix of `after`'s id that exceeds
 * `before`'s. Ids of one kind share a form, and every fingerprint id sorts below `sha256:`.
 */
export function boundBetween(before: SyncItem, after: SyncItem): SyncBound {
  if (before.time !== after.time) return { time: after.time, id: '' };
  const code = after.id.startsWith('sha256:');
  if (code && !before.id.startsWith('sha256:')) return { time: after.time, id: 'sha256:' };
  let k = code ? 'sha256:'.length : 0;
  while (k < after.id.length && before.id[k] === after.id[k]) k++;
  return { time: after.time, id: after.id.slice(0, k + 1) };
}

export interface Outcome {
  /** The next message's ranges; undefined when nothing is left to reconcile (initiator only). */
  readonly ranges: Range[] | undefined;
  /** Items the sender of the processed message lacks (learnt from id-list replies). */
  readonly haves: SyncItem[];
  /** Items the sender holds that this side lacks. */
  readonly needs: NamedItem[];
}

export interface ReconcilerOptions {
  /** Bytes one message may take (the node's maxMessageBytes less framing slack). */
  readonly maxBytes: number;
  readonly maxRanges?: number;
}

const keyOf = (lower: SyncBound, upper: SyncBound | undefined) => `${lower.time}/${lower.id}|${upper ? `${upper.time}/${upper.id}` : '∞'}`;

/** Bytes of a range's bound and mode on the wire at most: a time varint, an id header and up to 32 bytes of digits, the mode. */
const MAX_BOUND_BYTES = 8 + 1 + 32 + 1;
/** Bytes of a varint. */
const varintBytes = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : Math.ceil(Math.log2(n + 1) / 7));

/** Builds one message's ranges within the budget, merging adjacent skips; counts their wire bytes. */
class Output {
  readonly ranges: Range[] = [];
  bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxRanges: number,
  ) {}

  /** True when `ranges` more ranges with `payload` bytes still fit, with room for the range that closes the message. */
  fits(ranges: number, payload: number): boolean {
    return this.ranges.length + ranges + 1 <= this.maxRanges && this.bytes + (ranges + 1) * MAX_BOUND_BYTES + payload + FINGERPRINT_BYTES <= this.maxBytes;
  }

  push(range: Range, payload: number): void {
    const last = this.ranges.at(-1);
    if (range.mode === Mode.skip && last?.mode === Mode.skip) {
      this.ranges[this.ranges.length - 1] = range;
      return;
    }
    this.ranges.push(range);
    // A bound: time varint (≤ 8 bytes; deltas are usually 1–4), id header, packed digits; then the mode.
    const digits = range.upper === undefined ? 0 : range.upper.id.replace('sha256:', '').length;
    this.bytes += (range.upper === undefined ? 1 : varintBytes(range.upper.time) + 1 + Math.ceil(digits / 2)) + 1 + payload;
  }

  get onlySkips(): boolean {
    return this.ranges.every((r) => r.mode === Mode.skip);
  }
}

/** What one incoming range turns into: output ranges (with their payload bytes) and what was learnt. */
interface Plan {
  readonly ranges: ReadonlyArray<{ readonly range: Range; readonly payload: number }>;
  readonly haves?: readonly SyncItem[];
  readonly needs?: readonly NamedItem[];
  /** An id list this side sends (remembered for the reply). */
  readonly sent?: readonly [string, SyncItem[]];
}

/**
 * Ranges planned at once: their store reads run concurrently (each is a LevelDB round trip on
 * the thread pool; one after the other, 2,000 differing ranges cost seconds of latency). A
 * window's plans past the message budget are dropped, so at most this much work is wasted.
 */
const PLAN_WINDOW = 16;

const skip = (upper: SyncBound | undefined): Plan => ({ ranges: [{ range: { upper, mode: Mode.skip }, payload: 0 }] });

export class Reconciler {
  readonly #view: SetView;
  readonly #initiator: boolean;
  readonly #maxBytes: number;
  readonly #maxRanges: number;
  /** Id lists this side sent in its last message, by range: what an id-list reply answers. */
  #sentLists = new Map<string, SyncItem[]>();

  constructor(view: SetView, role: 'initiator' | 'responder', options: ReconcilerOptions) {
    this.#view = view;
    this.#initiator = role === 'initiator';
    this.#maxBytes = options.maxBytes;
    this.#maxRanges = Math.min(options.maxRanges ?? MAX_RANGES, MAX_RANGES);
  }

  /** The first message: one fingerprint of the whole set. */
  async initiate(): Promise<Range[]> {
    const [all] = await this.#view.summaries([LOWEST], undefined);
    return [{ upper: undefined, mode: Mode.fingerprint, fingerprint: fingerprintOf(all as SyncSummary) }];
  }

  /** Processes the other side's message; returns this side's answer and what it learnt. */
  async process(incoming: readonly Range[]): Promise<Outcome> {
    const out = new Output(this.#maxBytes, this.#maxRanges);
    const haves: SyncItem[] = [];
    const needs: NamedItem[] = [];
    const sent = this.#sentLists;
    this.#sentLists = new Map();
    for (const range of incoming) this.#check(range);
    // Lower bounds, and this side's summary of every range that needs one, in one store call.
    const lowers: SyncBound[] = [];
    let lower = LOWEST;
    for (const range of incoming) {
      lowers.push(lower);
      lower = range.upper ?? lower;
    }
    const wanted = incoming.map((r) => r.mode === Mode.fingerprint || r.mode === Mode.wantIdList || r.mode === Mode.idList);
    const asked = lowers.filter((_, i) => wanted[i]);
    const summaries = asked.length === 0 ? [] : await this.#summariesOf(asked, incoming.filter((_, i) => wanted[i]).map((r) => r.upper));
    const own: Array<SyncSummary | undefined> = [];
    let next = 0;
    for (const w of wanted) own.push(w ? summaries[next++] : undefined);

    for (let start = 0; start < incoming.length; start += PLAN_WINDOW) {
      const end = Math.min(incoming.length, start + PLAN_WINDOW);
      const plans = await Promise.all(
        incoming.slice(start, end).map((range, k) => this.#plan(range, lowers[start + k] as SyncBound, own[start + k], sent)),
      );
      for (let k = 0; k < plans.length; k++) {
        const plan = plans[k] as Plan;
        const payload = plan.ranges.reduce((n, r) => n + r.payload, 0);
        if (!out.fits(plan.ranges.length, payload)) {
          await this.#close(out, lowers[start + k] as SyncBound);
          return { ranges: out.ranges, haves, needs };
        }
        for (const r of plan.ranges) out.push(r.range, r.payload);
        if (plan.haves) for (const h of plan.haves) haves.push(h);
        if (plan.needs) for (const n of plan.needs) needs.push(n);
        if (plan.sent) this.#sentLists.set(plan.sent[0], plan.sent[1]);
      }
    }
    if (this.#initiator && out.onlySkips) return { ranges: undefined, haves, needs };
    return { ranges: out.ranges, haves, needs };
  }

  /** Modes each side may receive. */
  #check(range: Range): void {
    if (range.mode === Mode.wantIdList && !this.#initiator) throw new ProtocolError('WANT_IDLIST sent to the responder');
    if (range.mode === Mode.idListReply && !this.#initiator) throw new ProtocolError('IDLIST_REPLY sent to the responder');
    if (range.mode === Mode.idList && this.#initiator) throw new ProtocolError('IDLIST sent to the initiator');
  }

  async #plan(range: Range, lower: SyncBound, own: SyncSummary | undefined, sent: ReadonlyMap<string, SyncItem[]>): Promise<Plan> {
    const upper = range.upper;
    switch (range.mode) {
      case Mode.skip:
        return skip(upper);
      case Mode.fingerprint:
        if (Buffer.compare(fingerprintOf(own as SyncSummary), range.fingerprint) === 0) return skip(upper);
        return this.#differs(lower, upper, own as SyncSummary);
      case Mode.wantIdList:
        return this.#differs(lower, upper, own as SyncSummary);
      case Mode.idList:
        return this.#answerList(lower, upper, own as SyncSummary, range.prefixes);
      case Mode.idListReply: {
        const mine = sent.get(keyOf(lower, upper));
        if (!mine || mine.length !== range.listed) throw new ProtocolError('IDLIST_REPLY for a range no id list was sent for');
        const haves = mine.filter((_, i) => (((range.have[i >> 3] as number) >> (i & 7)) & 1) === 0);
        return { ...skip(upper), haves, needs: range.extras };
      }
    }
  }

  /** Summaries of [lowers[i], uppers[i]) where the ranges may have gaps between them (skips). */
  async #summariesOf(lowers: readonly SyncBound[], uppers: ReadonlyArray<SyncBound | undefined>): Promise<SyncSummary[]> {
    // Ask for consecutive ranges [l0, u0), [u0, l1), [l1, u1), …: the gaps are the skipped ranges.
    const bounds: SyncBound[] = [];
    const pick: number[] = [];
    for (let i = 0; i < lowers.length; i++) {
      const l = lowers[i] as SyncBound;
      const previousUpper = i > 0 ? uppers[i - 1] : undefined;
      const adjacent = previousUpper !== undefined && previousUpper.time === l.time && previousUpper.id === l.id;
      if (i > 0 && !adjacent) bounds.push(previousUpper as SyncBound);
      pick.push(bounds.length);
      bounds.push(l);
    }
    const all = await this.#view.summaries(bounds, uppers.at(-1));
    return pick.map((k) => all[k] as SyncSummary);
  }

  /** A range whose fingerprints differ (or for which an id list was asked): id list, or cut. */
  async #differs(lower: SyncBound, upper: SyncBound | undefined, own: SyncSummary): Promise<Plan> {
    if (own.count > IDLIST_MAX) return this.#cut(lower, upper, own);
    if (!this.#initiator) return { ranges: [{ range: { upper, mode: Mode.wantIdList }, payload: 0 }] };
    const items = await this.#view.items(lower, upper, IDLIST_MAX + 1);
    if (items.length > IDLIST_MAX) return this.#cut(lower, upper, own); // it grew meanwhile
    return {
      ranges: [{ range: { upper, mode: Mode.idList, prefixes: items.map((i) => digestPrefix(i.digest)) }, payload: 2 + items.length * DIGEST_PREFIX_BYTES }],
      sent: [keyOf(lower, upper), items],
    };
  }

  /** Cuts a range into BRANCHING fingerprinted pieces: at bucket starts, else at items. */
  async #cut(lower: SyncBound, upper: SyncBound | undefined, own: SyncSummary): Promise<Plan> {
    const fingerprint = (to: SyncBound | undefined, summary: SyncSummary) => ({ range: { upper: to, mode: Mode.fingerprint, fingerprint: fingerprintOf(summary) } as Range, payload: FINGERPRINT_BYTES });
    const pieces = await this.#view.split(lower, upper, BRANCHING);
    if (pieces.length >= 2) {
      return { ranges: pieces.map((piece, k) => fingerprint(k + 1 < pieces.length ? (pieces[k + 1] as SyncPiece).from : upper, piece)) };
    }
    // No bucket starts inside: cut at items. Past MAX_SPLIT_READ items the last piece is the
    // unread rest, summarised by the store.
    const read = await this.#view.items(lower, upper, Math.min(own.count, MAX_SPLIT_READ) + 1);
    const complete = read.length <= MAX_SPLIT_READ;
    const items = complete ? read : read.slice(0, MAX_SPLIT_READ);
    // Shrunk meanwhile to one item or none: fingerprint what is there now.
    if (items.length < 2) return { ranges: [fingerprint(upper, summarise(items))] };
    const ranges: Plan['ranges'][number][] = [];
    const parts = Math.min(complete ? BRANCHING : BRANCHING - 1, items.length);
    let start = 0;
    for (let k = 1; k <= parts; k++) {
      const end = Math.floor((k * items.length) / parts);
      const last = end === items.length;
      const pieceUpper = !last ? boundBetween(items[end - 1] as SyncItem, items[end] as SyncItem) : complete ? upper : boundBetween(items[end - 1] as SyncItem, read[end] as SyncItem);
      ranges.push(fingerprint(pieceUpper, summarise(items.slice(start, end))));
      start = end;
    }
    if (!complete) {
      const from = boundBetween(items.at(-1) as SyncItem, read[items.length] as SyncItem);
      const [rest] = await this.#view.summaries([from], upper);
      ranges.push(fingerprint(upper, rest as SyncSummary));
    }
    return { ranges };
  }

  /** The responder's answer to an id list: which listed items it holds, and its own the initiator lacks. */
  async #answerList(lower: SyncBound, upper: SyncBound | undefined, own: SyncSummary, prefixes: readonly Uint8Array[]): Promise<Plan> {
    if (own.count > IDLIST_REPLY_MAX) return this.#cut(lower, upper, own);
    const items = await this.#view.items(lower, upper, IDLIST_REPLY_MAX + 1);
    if (items.length > IDLIST_REPLY_MAX) return this.#cut(lower, upper, own);
    const theirs = new Set(prefixes.map(prefixHex));
    const mine = new Set(items.map((i) => i.digest.slice(0, DIGEST_PREFIX_BYTES * 2)));
    const have = new Uint8Array(Math.ceil(prefixes.length / 8));
    prefixes.forEach((p, i) => {
      if (mine.has(prefixHex(p))) have[i >> 3] = (have[i >> 3] as number) | (1 << (i & 7));
    });
    const extras = items.filter((i) => !theirs.has(i.digest.slice(0, DIGEST_PREFIX_BYTES * 2))).map((i) => ({ id: i.id, prefix: digestPrefix(i.digest) }));
    return { ranges: [{ range: { upper, mode: Mode.idListReply, listed: prefixes.length, have, extras }, payload: 4 + have.length + extras.length * NAMED_ITEM_BYTES }] };
  }

  /** Ends a message whose budget ran out: the rest of the set, from `lower`, as one fingerprint. */
  async #close(out: Output, lower: SyncBound): Promise<void> {
    const [rest] = await this.#view.summaries([lower], undefined);
    out.push({ upper: undefined, mode: Mode.fingerprint, fingerprint: fingerprintOf(rest as SyncSummary) }, FINGERPRINT_BYTES);
  }
}
