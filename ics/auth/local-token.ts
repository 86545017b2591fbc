// The local operator's credential: a random bearer token the serving node writes into its data
// directory (admin.token, mode 0600) at start and removes at stop, so that `ics` commands run
// on the same machine — by whoever may read the data directory, who could read its keys
// anyway — reach the running node's admin API without a password, like a database's local
// socket. Never logged; compared in constant time.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, rm, writeFile } from 'node:fs/promises';

/** The principal name the local operator's changes are recorded under (with the OS user the CLI names). */
export const LOCAL_OPERATOR = 'local-operator';

export class LocalOperatorToken {
  readonly #token = randomBytes(32).toString('base64url');

  private constructor(readonly file: string) {}

  /** A new token written to `file` (replacing one a crashed node left). */
  static async create(file: string): Promise<LocalOperatorToken> {
    const token = new LocalOperatorToken(file);
    await rm(file, { force: true });
    await writeFile(file, `${token.#token}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);
    return token;
  }

  /** True for `Bearer <this token>`. */
  matches(header: string): boolean {
    const match = /^Bearer +([A-Za-z0-9_-]{1,128}) *$/.exec(header);
    if (!match?.[1]) return false;
    const given = Buffer.from(match[1]);
    const expected = Buffer.from(this.#token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  async remove(): Promise<void> {
    await rm(this.file, { force: true });
  }
}
