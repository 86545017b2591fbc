// Parsing of CLI argument values: durations, key=value metadata, repeatable options.
import { IcsError } from '../errors.ts';

const DURATION = /^(\d+)\s*(s|m|h|d|w|y)?$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** `90d`, `12h`, `3600` (seconds) → seconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new IcsError('BAD_REQUEST', `invalid duration "${text}" (e.g. 3600, 90m, 12h, 30d, 1y)`);
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] ?? 1);
  if (!(seconds > 0)) throw new IcsError('BAD_REQUEST', `duration "${text}" must be positive`);
  return seconds;
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `model=cam-3` pairs → object; refuses malformed or repeated names. */
export function parsePairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new IcsError('BAD_REQUEST', `expected name=value, got "${pair}"`);
    const name = pair.slice(0, at);
    if (name in out) throw new IcsError('BAD_REQUEST', `"${name}" given twice`);
    out[name] = pair.slice(at + 1);
  }
  return out;
}
