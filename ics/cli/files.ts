// Files a command reads or writes for the user: outputs are never overwritten, and a missing
// input is the caller's mistake (BAD_REQUEST), not a server error.
import { access, readFile, writeFile } from 'node:fs/promises';
import { IcsError } from '../errors.ts';

/** Writes a new file; an existing one is refused (BAD_REQUEST), never overwritten. */
export async function writeNewFile(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new IcsError('BAD_REQUEST', `${path} exists: it is never overwritten`);
    throw error;
  }
}

/** An input file's bytes; a missing or unreadable one is the caller's mistake (BAD_REQUEST). */
export async function readInputFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new IcsError('BAD_REQUEST', `cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})`, { cause });
  }
}

/** Refuses early, before anything is signed or registered, an output file that exists. */
export async function refuseExisting(path: string): Promise<void> {
  if (await access(path).then(() => true, () => false)) throw new IcsError('BAD_REQUEST', `${path} exists: it is never overwritten`);
}
