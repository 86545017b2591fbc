// Bounds submissions in progress across every plugin of a host: each holds its body and parsed
// records in memory, so a burst waits in a queue and beyond the queue is refused (503).
import { IcsError } from '../errors.ts';
import { MAX_CONCURRENT_WRITES, MAX_QUEUED_WRITES, RETRY_AFTER_SECONDS } from './limits.ts';

export class WriteGate {
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  /**
   * Resolves with `release` once a slot is free; throws UNAVAILABLE (503 with Retry-After)
   * when the queue is full too. `release` gives the slot back once, to the next in line.
   */
  async acquire(): Promise<() => void> {
    if (this.#active >= MAX_CONCURRENT_WRITES) {
      if (this.#waiting.length >= MAX_QUEUED_WRITES) {
        throw new IcsError('UNAVAILABLE', `${MAX_CONCURRENT_WRITES} submissions in progress and ${MAX_QUEUED_WRITES} waiting`, {
          details: { retryAfter: RETRY_AFTER_SECONDS },
        });
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.#waiting.shift();
      if (next) next(); // the slot passes on without being freed
      else this.#active--;
    };
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}
