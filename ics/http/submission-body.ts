// The body of POST /pks/add as the record model takes it. GnuPG sends one form field,
// `keytext`, holding an ASCII-armored key; other clients send raw key material
// (application/pgp-keys), which needs no decoding. A large form body is decoded off the main
// thread (BodyDecoder, one worker, one body at a time): turning megabytes of
// percent-encoded base64 into packet bytes is the bulk of such a submission's CPU time, and
// on the thread that answers lookups it made a flood that fits every size limit slow down
// everyone else's lookups (issue "Abuse limits"). The main thread then only parses packets,
// which yields as it goes.
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, IcsError, type IcsErrorCode } from '../errors.ts';
import { BULK_BYTES } from '../net/bulk-lane.ts';
// The codec's own module, not the record model's index: the decoder's worker thread loads this
// file, and the index would load openpgp.js there (~20 MB resident) for nothing.
import { decodePublicKeyArmor } from '../record/armor.ts';

/** Form bodies this large or larger are decoded in the worker; smaller ones (every real key) inline. */
export const OFF_THREAD_BYTES = BULK_BYTES;

/** Packet bytes of the one plain armored key block, or the keytext as sent (the record model reads other shapes). */
export type DecodedBody = { readonly bytes: Uint8Array } | { readonly text: string };

/**
 * Form-encoded body (application/x-www-form-urlencoded, as URLSearchParams reads it) → its one
 * non-blank `keytext` field, decoded as far as `decodePublicKeyArmor` reads it. Works on bytes:
 * only the keytext value is decoded, in one pass, and never becomes a string on the plain path.
 */
export function decodeKeytextForm(body: Uint8Array): DecodedBody {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let keytext: Buffer | undefined;
  let fields = 0;
  for (let start = 0; start <= bytes.length; ) {
    let end = bytes.indexOf(AMPERSAND, start);
    if (end < 0) end = bytes.length;
    if (end > start) {
      let equals = bytes.indexOf(EQUALS_SIGN, start);
      if (equals < 0 || equals > end) equals = end;
      if (percentDecode(bytes, start, equals).toString('utf8') === 'keytext') {
        fields++;
        keytext = percentDecode(bytes, Math.min(equals + 1, end), end);
      }
    }
    start = end + 1;
  }
  if (fields !== 1 || !keytext || !keytext.some((c) => !WHITESPACE.has(c))) {
    throw new IcsError('BAD_REQUEST', fields > 1 ? 'keytext given more than once' : 'body must have one non-blank keytext field');
  }
  const packets = decodePublicKeyArmor(keytext);
  return packets ? { bytes: packets } : { text: keytext.toString('utf8') };
}

const AMPERSAND = 0x26;
const EQUALS_SIGN = 0x3d;
const PERCENT = 0x25;
const PLUS = 0x2b;
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE[i.toString(16).charCodeAt(0)] = i;
  HEX_VALUE[i.toString(16).toUpperCase().charCodeAt(0)] = i;
}

/** `bytes[start, end)` with '+' as space and %XX as its byte; a '%' not followed by two hex digits stays. */
export function percentDecode(bytes: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    if (c === PERCENT && i + 2 < end) {
      const high = HEX_VALUE[bytes[i + 1] as number] as number;
      const low = HEX_VALUE[bytes[i + 2] as number] as number;
      if (high >= 0 && low >= 0) {
        out[n++] = (high << 4) | low;
        i += 2;
        continue;
      }
    }
    out[n++] = c === PLUS ? 0x20 : c;
  }
  return out.subarray(0, n);
}

interface WorkerAnswer {
  readonly id: number;
  readonly bytes?: Uint8Array;
  readonly text?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

interface Pending {
  readonly resolve: (decoded: DecodedBody) => void;
  readonly reject: (error: Error) => void;
}

/** An ArrayBuffer that holds exactly `view`, so that it can be transferred (copied when shared). */
export function ownBuffer(view: Uint8Array): ArrayBuffer {
  const buffer = view.buffer;
  if (buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength) return buffer;
  return new Uint8Array(view).buffer;
}

/**
 * Decodes form bodies, large ones in one worker thread started on first use; the worker takes
 * them one at a time in arrival order. If it dies, the bodies in it fail (500) and the next
 * large body starts a new one.
 */
export class BodyDecoder {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;

  constructor(readonly offThreadBytes = OFF_THREAD_BYTES) {}

  async decodeForm(body: Uint8Array): Promise<DecodedBody> {
    if (body.byteLength < this.offThreadBytes || this.#closed) return decodeKeytextForm(body);
    const worker = this.#start();
    const id = this.#nextId++;
    const buffer = ownBuffer(body);
    return new Promise<DecodedBody>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, body: new Uint8Array(buffer) }, [buffer]);
    });
  }

  /** The worker thread, if one runs (tests end it to check recovery). */
  get workerForTests(): Worker | undefined {
    return this.#worker;
  }

  /** Stops the worker; bodies still in it fail. Later bodies are decoded inline. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
    this.#failAll(new IcsError('UNAVAILABLE', 'the server is stopping'));
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    // A .mjs entry: worker threads do not inherit the main thread's TypeScript loader.
    const worker = new Worker(new URL('./submission-worker.mjs', import.meta.url));
    worker.unref(); // never what keeps the process alive
    worker.on('message', (answer: WorkerAnswer) => {
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      this.#pending.delete(answer.id);
      if (answer.error) pending.reject(new IcsError(knownCode(answer.error.code), answer.error.message));
      else if (answer.bytes) pending.resolve({ bytes: Buffer.from(answer.bytes.buffer, answer.bytes.byteOffset, answer.bytes.byteLength) });
      else pending.resolve({ text: answer.text ?? '' });
    });
    const lost = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(new IcsError('INTERNAL', `submission decoder stopped: ${error.message}`));
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`exit code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

function knownCode(code: string): IcsErrorCode {
  return code in ERROR_CODES ? (code as IcsErrorCode) : 'INTERNAL';
}
