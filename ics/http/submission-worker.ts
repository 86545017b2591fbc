// The worker behind BodyDecoder: form bodies in, packet bytes (or the keytext) out, one at a time.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { IcsError } from '../errors.ts';
import { decodeKeytextForm, ownBuffer } from './submission-body.ts';

/** Niceness of this thread: decoding a large submission yields the CPU to lookups (and to everything else). */
const WORKER_NICENESS = 10;

const port = parentPort;
if (!port) throw new Error('submission-worker.ts runs as a worker thread');
// Linux: /proc/thread-self names this thread's id, and setpriority on a thread id applies to
// that thread alone. Elsewhere the worker keeps the process's priority.
try {
  const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(threadId) && threadId > 0) setPriority(threadId, WORKER_NICENESS);
} catch {
  // not Linux, or not permitted: same priority as the rest
}
port.on('message', ({ id, body }: { id: number; body: Uint8Array }) => {
  try {
    const decoded = decodeKeytextForm(body);
    if ('bytes' in decoded) {
      const buffer = ownBuffer(decoded.bytes);
      port.postMessage({ id, bytes: new Uint8Array(buffer) }, [buffer]);
    } else {
      port.postMessage({ id, text: decoded.text });
    }
  } catch (error) {
    const code = error instanceof IcsError ? error.code : 'INTERNAL';
    port.postMessage({ id, error: { code, message: (error as Error).message } });
  }
});
