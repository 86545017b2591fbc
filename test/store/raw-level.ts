// Raw access to a closed LevelDB store's database, for tests that look at or change what the
// store wrote (its key layout, saved structures) with the store itself out of the way.
import { ClassicLevel } from 'classic-level';

export async function raw<T>(path: string, use: (db: ClassicLevel<Buffer, Buffer>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}
