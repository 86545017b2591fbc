// SKS (Debian package `sks`, 1.1.6) as the HKP benchmark's baseline: a private `sks db` with
// an empty Berkeley DB in a throwaway directory, HKP on a loopback port, never the system
// service. No recon server: there is nobody to reconcile with, and `sks db` answers
// /pks/lookup and /pks/add on its own. Also the load generator SKS is measured with: it
// answers HTTP/1.0 and closes the connection after every answer, which autocannon does not
// handle (see closeLoad).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../deploy/free-port.ts';
import { runInProcess } from './harness.ts';
import type { LoadOptions, LoadResult } from './hkp.ts';

export const SKS = '/usr/sbin/sks';
/** A Unix socket's path must fit in sockaddr_un (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

export function sksInstalled(): boolean {
  return existsSync(SKS);
}

export interface RunningSks {
  readonly url: string;
  readonly pid: number;
  /** Stops sks and removes its directory. */
  stop(): Promise<void>;
}

function sks(dir: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(SKS, ['-basedir', dir, ...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`sks ${args.join(' ')} failed: ${`${stdout}${stderr}`.slice(-2000)}`));
      else resolve();
    });
  });
}

/**
 * Makes `dir` (which must not exist yet; removed again by stop(), or here if starting fails),
 * creates an empty key database and starts `sks db` on 127.0.0.1 at a free port; resolves once
 * it answers HTTP.
 */
export async function startSks(dir: string): Promise<RunningSks> {
  // Debian's build prefixes -basedir to its absolute paths: the configuration is read from
  // <dir>/etc/sks/sksconf, the database lives in <dir>/var/lib/sks and the command socket is
  // <dir>/var/run/sks/db_com_sock. A sksconf in <dir> itself would be ignored.
  const socket = join(dir, 'var/run/sks/db_com_sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) throw new Error(`${dir}: too long for sks's command socket (${socket})`);
  let child: ChildProcess | undefined;
  try {
    await mkdir(join(dir, 'etc/sks'), { recursive: true });
    await mkdir(join(dir, 'var/lib/sks'), { recursive: true });
    await mkdir(join(dir, 'var/run/sks'), { recursive: true });
    const port = await freePort();
    const settings = [
      'hkp_address: 127.0.0.1',
      `hkp_port: ${port}`,
      // Not listened on by `sks db`, but a port of ours rather than the default 11370.
      'recon_address: 127.0.0.1',
      `recon_port: ${await freePort()}`,
      // Debian's shipped sksconf: 8 KiB pages for the key database and the prefix tree.
      'pagesize: 16',
      'ptree_pagesize: 16',
      // Errors only: logging every key added or served would slow sks down, and the node
      // under test logs nothing either.
      'debuglevel: 1',
      'disable_mailsync:',
    ];
    await writeFile(join(dir, 'etc/sks/sksconf'), `${settings.join('\n')}\n`);
    // `sks db` will not create its database: building from an empty dump file does.
    const empty = join(dir, 'empty.pgp');
    await writeFile(empty, '');
    await sks(dir, ['-stdoutlog', 'build', empty]);

    const url = `http://127.0.0.1:${port}`;
    const started: ChildProcess = spawn(SKS, ['-basedir', dir, '-stdoutlog', 'db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + String(d)).slice(-4000);
    };
    started.stdout?.on('data', keep);
    started.stderr?.on('data', keep);
    const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    // The HTTP port is bound before the database is opened: wait for an answer, not a connection.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`sks db exited (${started.exitCode}): ${output}`);
      const ok = await fetch(`${url}/pks/lookup?op=stats`, { signal: AbortSignal.timeout(2000) }).then(
        async (r) => {
          await r.arrayBuffer();
          return r.ok;
        },
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`sks db did not answer within 60 s: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return {
      url,
      pid: started.pid as number,
      async stop() {
        if (started.exitCode === null) started.kill('SIGTERM');
        const timer = setTimeout(() => started.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (child && child.exitCode === null) {
      const gone = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The load generator for a server that closes the connection after every answer, as SKS
 * does (HTTP/1.0): in a process of its own (runInProcess), `connections` clients, each with one request in
 * flight (closed loop) on a connection of its own, the request sent whole as soon as the
 * connection is made and the answer read until the server closes it; then a new connection.
 * Raw sockets, no HTTP library, so that the client costs little of the shared CPU, as
 * autocannon does. autocannon itself cannot be used: it writes its next request as soon as an
 * answer is complete, into the socket SKS is closing, so every other request is lost (half the
 * keys never sent) and the next answer is booked against the lost request's start time.
 */
const CLOSE_LOAD_PROCESS = `
const w = input;
const net = require('node:net');
const target = new URL(w.url);
const port = Number(target.port);
const host = target.hostname;
const request = (i) => {
  const body = w.bodies ? Buffer.from(w.bodies[i % w.bodies.length]) : undefined;
  const headers = { host: target.host, connection: 'close', ...w.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
  const head = w.method + ' ' + w.paths[i % w.paths.length] + ' HTTP/1.1\\r\\n' + Object.entries(headers).map(([k, v]) => k + ': ' + v + '\\r\\n').join('') + '\\r\\n';
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
};
const latencies = [];
const counts = { ok: 0, non2xx: 0, errors: 0, timeouts: 0 };
let next = 0;
const deadline = w.amount === undefined ? performance.now() + w.duration * 1000 : Infinity;
const more = () => (w.amount === undefined ? performance.now() < deadline : next < w.amount);
const one = (i) => new Promise((resolve) => {
  const bytes = request(i);
  const start = performance.now();
  let status = '';
  let settled = false;
  const settle = (outcome) => {
    if (settled) return;
    settled = true;
    counts[outcome]++;
    socket.destroy();
    resolve();
  };
  const socket = net.connect({ port, host, noDelay: true }, () => socket.write(bytes));
  socket.on('data', (chunk) => {
    if (status.length < 12) status += chunk.toString('latin1', 0, 12 - status.length);
  });
  socket.once('end', () => {
    latencies.push(performance.now() - start);
    settle(/^HTTP\\/1\\.[01] 2/.test(status) ? 'ok' : 'non2xx');
  });
  socket.once('error', () => settle('errors'));
  socket.setTimeout(30000, () => settle('timeouts'));
});
const client = async () => { while (more()) await one(next++); };
const first = performance.now();
Promise.all(Array.from({ length: w.connections }, client)).then(() => {
  const seconds = (performance.now() - first) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((p / 100) * latencies.length) - 1))];
  done({ total: latencies.length, seconds, perSecond: latencies.length / seconds, p50: at(50), p99: at(99), non2xx: counts.non2xx, errors: counts.errors, timeouts: counts.timeouts });
});
`;

/** Runs `options` (paths and bodies taken in turn) with CLOSE_LOAD_PROCESS: a new connection per request. Same result shape as autocannon's load(). */
export function closeLoad(options: LoadOptions & { paths: readonly string[] }): Promise<LoadResult> {
  return runInProcess<LoadResult>(CLOSE_LOAD_PROCESS, { ...options, method: options.method ?? 'GET' });
}
