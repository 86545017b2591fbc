// The store's schema in PostgreSQL: the migrations under migrations/ (NNN_name.sql, applied in
// order, each in one transaction with its version), and the check at open that the database
// is ours and not newer than this version. A database holding other tables, or an ICS schema
// from a later version, is refused before anything is written to it.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { PoolClient } from 'pg';
import { IcsError } from '../../errors.ts';

/** What the version table names as the schema's owner: a table of that name from anything else is foreign. */
export const SCHEMA_PRODUCT = 'cm4it-ics-store';
const VERSION_TABLE = 'ics_schema_version';
const MIGRATIONS = new URL('./migrations/', import.meta.url);
const MIGRATION_FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;

export interface Migration {
  readonly version: number;
  readonly file: string;
  readonly sql: string;
}

/** The migrations shipped with this version, in order (versions 1, 2, … without gaps). */
export async function migrations(): Promise<Migration[]> {
  const dir = fileURLToPath(MIGRATIONS);
  const out: Migration[] = [];
  for (const file of (await readdir(dir)).sort()) {
    const match = MIGRATION_FILE.exec(file);
    if (!match) continue;
    out.push({ version: Number(match[1]), file, sql: await readFile(`${dir}${file}`, 'utf8') });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new IcsError('INTERNAL', `store migrations are not numbered 1, 2, …: ${m.file}`);
  });
  return out;
}

/** The schema version this code reads and writes. */
export async function currentSchemaVersion(): Promise<number> {
  return (await migrations()).length;
}

function schemaError(reason: 'schema-foreign' | 'schema-newer', message: string, details: Record<string, unknown> = {}): IcsError {
  return new IcsError('UNAVAILABLE', message, { details: { reason, ...details } });
}

async function tablesOf(client: PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name',
  );
  return rows.map((r) => r.table_name);
}

async function storedVersion(client: PoolClient): Promise<{ product: string; version: number } | undefined> {
  const { rows } = await client.query<{ product: string; version: number }>(`SELECT product, version FROM ${VERSION_TABLE}`);
  if (rows.length !== 1) throw schemaError('schema-foreign', `the database's ${VERSION_TABLE} table holds ${rows.length} rows, not one: it is not an ICS store`);
  return rows[0];
}

/** SQLSTATEs of a concurrent CREATE of the same table or row: another process migrated meanwhile. */
const RACED = new Set(['42P07', '23505']);

/**
 * Brings the database's schema to this version's: creates it in an empty schema, applies the
 * migrations it lacks, refuses (UNAVAILABLE, `details.reason`) a schema that is foreign or newer.
 * Two processes opening one new database at once: one migrates, the other retries and finds it done.
 */
export async function migrate(client: PoolClient): Promise<{ from: number; to: number }> {
  try {
    return await migrateOnce(client);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && RACED.has(code)) return migrateOnce(client);
    throw error;
  }
}

async function migrateOnce(client: PoolClient): Promise<{ from: number; to: number }> {
  const all = await migrations();
  const tables = await tablesOf(client);
  let from = 0;
  if (tables.includes(VERSION_TABLE)) {
    const stored = await storedVersion(client);
    if (stored?.product !== SCHEMA_PRODUCT) {
      throw schemaError('schema-foreign', `the database's ${VERSION_TABLE} names ${JSON.stringify(stored?.product)}, not ${SCHEMA_PRODUCT}: it is not an ICS store`);
    }
    from = stored.version;
    if (from > all.length) {
      throw schemaError('schema-newer', `the database holds ICS store schema ${from}; this version reads up to ${all.length}: upgrade the node`, {
        found: from,
        supported: all.length,
      });
    }
  } else if (tables.length > 0) {
    throw schemaError('schema-foreign', `the database holds other tables (${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', …' : ''}) and no ICS schema: give the store a database (or schema) of its own`, {
      tables: tables.slice(0, 20),
    });
  }
  for (const migration of all.slice(from)) {
    await client.query('BEGIN');
    try {
      if (migration.version === 1) {
        await client.query(`CREATE TABLE ${VERSION_TABLE} (product text PRIMARY KEY, version integer NOT NULL)`);
        await client.query(`INSERT INTO ${VERSION_TABLE} (product, version) VALUES ($1, 0)`, [SCHEMA_PRODUCT]);
      }
      // Applied only over the version it follows: a concurrent migrator makes this update miss.
      const { rowCount } = await client.query(`UPDATE ${VERSION_TABLE} SET version = $1 WHERE product = $2 AND version = $3`, [
        migration.version,
        SCHEMA_PRODUCT,
        migration.version - 1,
      ]);
      if (rowCount !== 1) throw Object.assign(new Error('schema migrated concurrently'), { code: '23505' });
      await client.query(migration.sql);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
  return { from, to: all.length };
}
