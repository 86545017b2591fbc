// Durations as a policy writes them (schemas/policy.schema.json `duration`: `30d`, `12h`).
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Seconds of a duration in the schema's form; undefined for any other text. */
export function durationSeconds(text: string): number | undefined {
  const match = /^([1-9][0-9]{0,5})([smhdw])$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (UNIT_SECONDS[match[2] as string] ?? Number.NaN);
}
