// A throwaway PostgreSQL server for tests and benchmarks (test/helpers/postgres.ts,
// bench/store-postgres.ts): `initdb` in a temporary directory (trust
// authentication, user `ics`), started by `pg_ctl` on 127.0.0.1 on a free port with its unix
// socket in that directory, a new database per call of `createDatabase`, and everything
// stopped and removed by `stop`. The binaries are Debian's (package postgresql, under
// /usr/lib/postgresql/<version>/bin, which is not on the PATH), found as
// scripts/install-test-deps.sh finds them. PostgreSQL refuses to run as root: as root (a CI
// container), the server runs as the `postgres` user the Debian package creates.
import { execFile, execFileSync } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { freePort } from './free-port.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const PACKAGE = 'postgresql';
/** The OS user the server runs as when the tests run as root. */
const SERVER_USER = 'postgres';
/** The database superuser initdb makes (trust authentication: no password). */
export const DB_USER = 'ics';

function missing(why: string): Error {
  return new Error(`${why}: install the Debian package ${PACKAGE} (scripts/install-test-deps.sh installs every tool the tests need)`);
}

function versionOf(dir: string): number {
  return Number(/postgresql\/(\d+)/.exec(dir)?.[1] ?? 0);
}

/**
 * The directory holding initdb and pg_ctl: $ICS_PG_BINDIR, else the newest
 * /usr/lib/postgresql/<version>/bin, else `pg_config --bindir`, else initdb's on the PATH.
 */
export async function postgresBinDir(): Promise<string> {
  const candidates: string[] = [];
  if (process.env.ICS_PG_BINDIR) candidates.push(process.env.ICS_PG_BINDIR);
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[])).map((v) => join(root, v, 'bin')).sort((a, b) => versionOf(b) - versionOf(a));
  candidates.push(...versions);
  for (const command of [['pg_config', '--bindir'], ['sh', '-c', 'dirname "$(command -v initdb)"']] as const) {
    try {
      candidates.push(execFileSync(command[0], command.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    } catch {
      // not there: the next way
    }
  }
  const found = candidates.find((dir) => dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
  if (!found) throw missing('initdb and pg_ctl not found');
  return found;
}


export interface PostgresServer {
  readonly port: number;
  readonly dir: string;
  /** A new, empty database; its URL. */
  createDatabase(): Promise<string>;
  /** The URL of database `name` on this server. */
  url(name: string): string;
  /** Runs SQL as the superuser in database `name`. */
  query(name: string, sql: string): Promise<pg.QueryResult>;
  /**
   * A streaming replica of this server (pg_basebackup -R from it, started on a port of its
   * own): read-only, the same databases, replaying what the primary writes.
   */
  startReplica(): Promise<PostgresServer>;
  /** Stops the server (immediate shutdown) and removes its directory. */
  stop(): Promise<void>;
}

let databases = 0;

/** Starts a server in a new temporary directory; with `primaryPort`, a streaming replica of the server on that port. */
export async function startPostgres(primaryPort?: number): Promise<PostgresServer> {
  const bin = await postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'ics-pg-'));
  const as = async (command: string, args: string[]) => {
    const path = join(bin, command);
    const [file, argv] = asRoot ? ['runuser', ['-u', SERVER_USER, '--', path, ...args]] : [path, args];
    try {
      return await run(file, argv, { cwd: dir, timeout: 120_000 });
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${command} failed: ${e.stderr || e.stdout || e.message}`);
    }
  };
  try {
    if (asRoot) {
      let uid: number;
      let gid: number;
      try {
        uid = Number(execFileSync('id', ['-u', SERVER_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
        gid = Number(execFileSync('id', ['-g', SERVER_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      } catch {
        throw missing(`running as root, and there is no ${SERVER_USER} user to run the server as`);
      }
      await chown(dir, uid, gid);
    }
    const data = join(dir, 'data');
    if (primaryPort === undefined) await as('initdb', ['-D', data, '-A', 'trust', '-U', DB_USER, '-E', 'UTF8', '--locale=C', '--no-sync']);
    // A base backup of the primary, with standby.signal and primary_conninfo (-R): initdb's
    // trust rules admit replication connections from 127.0.0.1.
    else await as('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', DB_USER, '-D', data, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await as('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', `-h 127.0.0.1 -p ${port} -k ${dir} -c max_connections=200`, 'start']);
        break;
      } catch (error) {
        // Another process may have taken the port between the probe and the start.
        if (attempt >= 3) throw error;
      }
    }
    const url = (name: string) => `postgres://${DB_USER}@127.0.0.1:${port}/${name}`;
    const admin = new pg.Client({ connectionString: url('postgres') });
    await admin.connect();
    admin.on('error', () => {});
    const query = async (name: string, sql: string) => {
      const client = new pg.Client({ connectionString: url(name) });
      await client.connect();
      try {
        return await client.query(sql);
      } finally {
        await client.end();
      }
    };
    return {
      port,
      dir,
      url,
      query,
      startReplica: () => startPostgres(port),
      async createDatabase() {
        databases += 1;
        const name = `ics_test_${process.pid}_${databases}`;
        await admin.query(`CREATE DATABASE ${name}`);
        return url(name);
      },
      async stop() {
        await admin.end().catch(() => undefined);
        await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await as('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
