// A token bucket per peer: requests are served at `rate` per second with bursts of `burst`;
// a request over the rate waits (the stream is not read meanwhile, so the peer's sends back
// up into its own flow-control window) instead of being refused.
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.#tokens = burst;
    this.#last = performance.now();
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
  }

  /** Ms to wait before one token is available (0: take it now). Takes the token. */
  take(): number {
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.rate);
  }
}
