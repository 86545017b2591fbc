// Password hashes of local users (config `auth.users`): scrypt, checked in constant time.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/** scrypt cost (2^15, r 8, p 1: ~32 MiB and ~50 ms per check) — OWASP's minimum for scrypt. */
const COST = { N: 32768, r: 8, p: 1 };
const KEY_BYTES = 32;
/** Passwords longer than this are refused before hashing (scrypt cost grows with input). */
export const MAX_PASSWORD_BYTES = 1024;
/**
 * scrypt checks run at once, node-wide; the others wait their turn. Each holds its ~32 MiB
 * while it runs: without a bound, a burst of logins (or of clients whose remembered check
 * expired together) takes 32 MiB each at once. They are CPU-bound, so more at once would not
 * finish sooner.
 */
export const CONCURRENT_CHECKS = 2;

let running = 0;
const waiting: Array<() => void> = [];

/** Runs `check` when fewer than CONCURRENT_CHECKS others run. */
async function inTurn<T>(check: () => Promise<T>): Promise<T> {
  if (running >= CONCURRENT_CHECKS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await check();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** scrypt checks running now (for tests). */
export function checksRunning(): number {
  return running;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, KEY_BYTES, { ...COST, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
  const [scheme, n, r, p, salt, hash] = encoded.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await inTurn(() =>
    scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
      maxmem: 64 * 1024 * 1024,
    }),
  );
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
