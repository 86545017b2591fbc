// The data directory's format version (format.json), so that a newer `ics` can migrate a
// directory an older one wrote and an older `ics` refuses one it cannot read, before it
// touches anything. Format 1 is the layout DataDir documents; directories made before the
// version was written are of that layout and get the file on their next open. The store
// inside keeps its own format (store/level), checked when it opens.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IcsError } from '../errors.ts';

/** The format this version writes and reads. */
export const DATA_FORMAT = 1;

export const FORMAT_FILE = 'format.json';

interface FormatFile {
  readonly format: number;
}

/** The directory's format: 0 for a directory written before formats were versioned. */
export async function dataFormatOf(root: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(join(root, FORMAT_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new IcsError('UNAVAILABLE', `cannot read ${join(root, FORMAT_FILE)}`, { cause: error });
  }
  const format = (() => {
    try {
      return (JSON.parse(text) as Partial<FormatFile>).format;
    } catch {
      return undefined;
    }
  })();
  if (!Number.isInteger(format) || (format as number) < 1) throw new IcsError('BAD_REQUEST', `${join(root, FORMAT_FILE)}: not a data directory format ({"format": <integer>})`);
  return format as number;
}

export async function writeDataFormat(root: string, format = DATA_FORMAT): Promise<void> {
  const file = join(root, FORMAT_FILE);
  await writeFile(`${file}.new`, `${JSON.stringify({ format } satisfies FormatFile)}\n`, { mode: 0o644 });
  await rename(`${file}.new`, file);
}

/** Steps from format n to n + 1, by n. */
const MIGRATIONS: Record<number, (root: string) => Promise<void>> = {
  // The unversioned layout is format 1's: only the file is new.
  0: async () => undefined,
};

/**
 * Brings the directory to DATA_FORMAT, one step at a time, each recorded as it completes;
 * refuses (UNAVAILABLE) a directory a newer version wrote. Returns the steps taken.
 */
export async function migrateDataDir(root: string): Promise<Array<{ from: number; to: number }>> {
  const steps: Array<{ from: number; to: number }> = [];
  for (let format = await dataFormatOf(root); format !== DATA_FORMAT; format++) {
    if (format > DATA_FORMAT) {
      throw new IcsError('UNAVAILABLE', `data directory ${root} is of format ${format}, written by a newer ics; this version reads format ${DATA_FORMAT} and older: upgrade ics (or restore a backup this version made)`, {
        details: { format, supported: DATA_FORMAT },
      });
    }
    const step = MIGRATIONS[format];
    if (!step) throw new IcsError('INTERNAL', `no migration from data directory format ${format}`);
    await step(root);
    await writeDataFormat(root, format + 1);
    steps.push({ from: format, to: format + 1 });
  }
  return steps;
}
