// A seeded PRNG for tests (mulberry32, Tommy Ettinger's 32-bit generator): "random" data that
// is the same on every run, so that a test with a statistical bound never fails by chance.
// Not for anything secret.

export interface SeededRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  bytes(n: number): Buffer;
  hex(n: number): string;
}

export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const u32 = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const next = () => u32() / 2 ** 32;
  const bytes = (n: number) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) {
      const word = u32();
      for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (word >>> (8 * k)) & 0xff;
    }
    return out;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    bytes,
    hex: (n) => bytes(n).toString('hex'),
  };
}
