// Bulk work on the main thread (a large submission's parsing) takes turns in one lane and
// uses at most a share of the thread's time: after each slice it waits in proportion to the
// slice it ran. Lookups meanwhile get the rest. Without it, a flood of certifications that
// fits every size limit, sent four at a time, held the thread most of the time and lookups
// slowed 8× (issue "Abuse limits"); the flood is now what waits.
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/** Share of the main thread's time that bulk work may use while it runs. */
export const BULK_SHARE = 0.1;

/** Bodies this large or larger are bulk (a real key with its certifications is a few KiB). */
export const BULK_BYTES = 64 * 1024;

export class BulkLane {
  #busy = false;
  readonly #waiting: Array<() => void> = [];

  constructor(readonly share = BULK_SHARE) {
    if (!(share > 0 && share <= 1)) throw new RangeError('share must be in (0, 1]');
  }

  /** Runs `task` once the lane is free; `pace` is awaited between its slices (ParseOptions.pace). */
  async run<T>(task: (pace: () => Promise<void>) => Promise<T>): Promise<T> {
    if (this.#busy) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#busy = true;
    let sliceStart = performance.now();
    const pace = async () => {
      const rest = ((performance.now() - sliceStart) * (1 - this.share)) / this.share;
      await (rest >= 1 ? sleep(rest) : nextTurn());
      sliceStart = performance.now();
    };
    try {
      return await task(pace);
    } finally {
      const next = this.#waiting.shift();
      if (next) next(); // the lane passes on without being freed
      else this.#busy = false;
    }
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}
