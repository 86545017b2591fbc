// Activity over the last hour for the overview's charts: requests this listener answered and
// changes the store recorded (every source: API, CLI, sync), per minute. Sampled from two
// counters the node keeps anyway, once a minute; the minute in progress is read at render
// time, so the charts are current without any script on the page.

export interface Counts {
  readonly requests: number;
  readonly changes: number;
}

export interface Minute extends Counts {
  /** Start of the minute, ms since the epoch. */
  readonly at: number;
}

/** One hour of minutes. */
const KEPT = 60;
const MINUTE_MS = 60_000;

export class Activity {
  readonly #samples: Array<Counts & { at: number }> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly read: () => Promise<Counts>) {}

  async start(): Promise<void> {
    await this.#sample();
    this.#timer = setInterval(() => void this.#sample().catch(() => undefined), MINUTE_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #sample(): Promise<void> {
    this.#samples.push({ at: Date.now(), ...(await this.read()) });
    if (this.#samples.length > KEPT + 1) this.#samples.shift();
  }

  /** Per-minute counts, oldest first, the minute in progress last. */
  async minutes(): Promise<Minute[]> {
    const points = [...this.#samples, { at: Date.now(), ...(await this.read()) }];
    const out: Minute[] = [];
    for (let i = 1; i < points.length; i++) {
      const from = points[i - 1] as Counts & { at: number };
      const to = points[i] as Counts & { at: number };
      out.push({ at: from.at, requests: Math.max(0, to.requests - from.requests), changes: Math.max(0, to.changes - from.changes) });
    }
    return out;
  }
}

export interface Bar {
  readonly x: number;
  readonly y: number;
  readonly height: number;
  readonly value: number;
  readonly label: string;
}

/** Bars of an SVG chart `width`×`height` (one per minute, right-aligned to now), scaled to the largest. */
export function bars(minutes: readonly Minute[], pick: (m: Minute) => number, width: number, height: number): { bars: Bar[]; max: number; barWidth: number } {
  const barWidth = width / KEPT;
  const max = Math.max(1, ...minutes.map(pick));
  const offset = KEPT - minutes.length;
  return {
    max,
    barWidth,
    bars: minutes.map((m, i) => {
      const value = pick(m);
      const h = Math.round((value / max) * (height - 2));
      return { x: Math.round((offset + i) * barWidth * 10) / 10, y: height - h, height: h, value, label: new Date(m.at).toISOString().slice(11, 16) };
    }),
  };
}
