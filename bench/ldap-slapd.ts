// OpenLDAP's slapd as the LDAP benchmark's baseline (Debian package `slapd`): a private
// instance with its own configuration and mdb database under a directory of ours, listening
// on a loopback port, never the system service. Also turns an OpenLDAP cn=config schema LDIF
// (olcAttributeTypes / olcObjectClasses, as GnuPG and this project publish them) into the
// slapd.conf schema format, which slapadd, slaptest and slapd -f read.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';

export const SLAPD = '/usr/sbin/slapd';
export const SLAPADD = '/usr/sbin/slapadd';
export const SLAPTEST = '/usr/sbin/slaptest';
/** Debian's location of the back-ends (back_mdb) and of the core schema. */
const MODULE_PATH = '/usr/lib/ldap';
const CORE_SCHEMA = '/etc/ldap/schema/core.schema';

export function slapdInstalled(): boolean {
  return existsSync(SLAPD) && existsSync(SLAPADD) && existsSync(CORE_SCHEMA);
}

/** olcAttributeTypes / olcObjectClasses values of a cn=config schema LDIF as slapd.conf lines. */
export function schemaFromOlcLdif(ldif: string): string {
  const out: string[] = [];
  let current: string | undefined;
  const flush = () => {
    if (current !== undefined) out.push(current);
    current = undefined;
  };
  for (const line of ldif.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') {
      flush();
      continue;
    }
    if (line.startsWith(' ') && current !== undefined) {
      current += ` ${line.trim()}`;
      continue;
    }
    flush();
    const m = /^olc(AttributeTypes|ObjectClasses):\s*(?:\{\d+\})?(.*)$/.exec(line);
    if (m) current = `${m[1] === 'AttributeTypes' ? 'attributetype' : 'objectclass'} ${m[2]?.trim()}`;
  }
  flush();
  return `${out.join('\n')}\n`;
}

export interface SlapdConfig {
  readonly dir: string;
  readonly suffix: string;
  /** slapd.conf-format schema files, after core.schema. */
  readonly schemas: readonly string[];
  /** `index` lines, e.g. `pgpCertID eq`. */
  readonly indexes: readonly string[];
  /** mdb maximum size. */
  readonly maxSizeBytes: number;
}

/** Writes slapd.conf (and the database directory); returns its path. */
export async function writeSlapdConf(c: SlapdConfig): Promise<string> {
  const db = join(c.dir, 'db');
  await mkdir(db, { recursive: true });
  const file = join(c.dir, 'slapd.conf');
  const lines = [
    `modulepath ${MODULE_PATH}`,
    'moduleload back_mdb',
    `include ${CORE_SCHEMA}`,
    ...c.schemas.map((s) => `include ${s}`),
    `pidfile ${join(c.dir, 'slapd.pid')}`,
    `argsfile ${join(c.dir, 'slapd.args')}`,
    'loglevel 0',
    'sizelimit unlimited',
    'threads 4',
    'database mdb',
    `suffix "${c.suffix}"`,
    `directory ${db}`,
    `maxsize ${c.maxSizeBytes}`,
    'access to * by * read',
    ...c.indexes.map((i) => `index ${i}`),
  ];
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

export function runTool(file: string, args: readonly string[], input?: NodeJS.ReadableStream): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : undefined) : 0;
      if (code === undefined) reject(error);
      else resolve({ code, stderr: String(stderr) });
    });
    if (input && child.stdin) input.pipe(child.stdin);
    else child.stdin?.end();
  });
}

export interface RunningSlapd {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts slapd in the foreground (-d 0) on 127.0.0.1:`port` and waits until it accepts connections. */
export async function startSlapd(conf: string, port: number): Promise<RunningSlapd> {
  const url = `ldap://127.0.0.1:${port}/`;
  const child: ChildProcess = spawn(SLAPD, ['-f', conf, '-h', url, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`slapd exited (${child.exitCode}): ${stderr.slice(-2000)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`slapd did not start: ${stderr.slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
