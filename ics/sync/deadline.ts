// Time limits on one sync operation whose timer goes when the operation ends.
// AbortSignal.timeout keeps its timer (and the signal, and what listens to it) until the time
// is up: with a 60 s request limit and a 5-minute idle limit, a busy node held thousands of
// such timers for messages long answered.

/** `run` with a signal that aborts after `ms` (a TimeoutError, as AbortSignal.timeout's). */
export async function withDeadline<T>(ms: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no progress in ${ms} ms`, 'TimeoutError')), ms);
  try {
    return await run(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}
