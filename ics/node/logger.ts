// The root logger (pino, JSON lines on stderr); parts take `child({ component })`.
// Secrets are redacted by path before anything is written.
import { type Logger, pino } from 'pino';

export const REDACTED_PATHS = [
  'passphrase',
  '*.passphrase',
  'privateKey',
  '*.privateKey',
  'secretKey',
  '*.secretKey',
  'password',
  '*.password',
];

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    { level, base: undefined, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    pino.destination({ dest: (destination as { fd?: number }).fd ?? 2, sync: true }),
  );
}

export type { Logger };
