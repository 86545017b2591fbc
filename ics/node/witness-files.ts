// Where the node keeps what it witnessed of its peers' logs (tlog/witness.ts), in its data
// directory: log/witnessed.json — per peer and domain, the last checkpoint it cosigned (written
// whole, by rename, after each change) — and log/evidence/<peer>.<domain>.json, one file per
// split view found, holding both signed checkpoints. An operator who has dealt with a split
// view moves its evidence file away; sync with that peer resumes for the domain at its next run.
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Witnessed, WitnessMemory } from '../tlog/index.ts';
import type { DataDir } from './datadir.ts';

export const WITNESS_DIR = 'log';

type Book = Record<string, Record<string, Witnessed>>;

/** Peer ids and domain names are checked by sync; this keeps a file name to them. */
const safe = (text: string) => text.replace(/[^A-Za-z0-9._-]/g, '_');

export class WitnessFiles implements WitnessMemory {
  readonly #dir: string;
  #book: Promise<Book> | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(dataDir: DataDir) {
    this.#dir = dataDir.resolve(WITNESS_DIR);
  }

  #load(): Promise<Book> {
    this.#book ??= readFile(join(this.#dir, 'witnessed.json'), 'utf8').then(
      (text) => JSON.parse(text) as Book,
      () => ({}),
    );
    return this.#book;
  }

  async get(peer: string, domain: string): Promise<Witnessed | undefined> {
    return (await this.#load())[peer]?.[domain];
  }

  async list(domain: string): Promise<Array<readonly [string, Witnessed]>> {
    return Object.entries(await this.#load()).flatMap(([peer, domains]) => (domains[domain] ? [[peer, domains[domain]] as const] : []));
  }

  async set(peer: string, domain: string, witnessed: Witnessed): Promise<void> {
    const book = await this.#load();
    book[peer] = { ...book[peer], [domain]: witnessed };
    // One write at a time, each of the whole book as it is then.
    this.#writing = this.#writing.then(async () => {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      const file = join(this.#dir, 'witnessed.json');
      await writeFile(`${file}.tmp`, `${JSON.stringify(book, null, 2)}\n`, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    });
    await this.#writing;
  }

  #evidenceFile(peer: string, domain: string): string {
    return join(this.#dir, 'evidence', `${safe(peer)}.${safe(domain)}.json`);
  }

  async has(peer: string, domain: string): Promise<boolean> {
    return access(this.#evidenceFile(peer, domain)).then(
      () => true,
      () => false,
    );
  }

  async keep(peer: string, domain: string, evidence: Record<string, unknown>): Promise<void> {
    await mkdir(join(this.#dir, 'evidence'), { recursive: true, mode: 0o700 });
    await writeFile(this.#evidenceFile(peer, domain), `${JSON.stringify(evidence, null, 2)}\n`, { mode: 0o600 });
  }
}
