// The CLI's way to a running node: when `ics serve` holds the data directory, write commands
// go to its admin API (the HKP listener's /ics/v1/admin) with the local operator's token from
// admin.token, instead of opening the store the node holds. Offline use stays as it was.
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { userInfo } from 'node:os';
import { IcsError, type IcsErrorCode } from '../errors.ts';
import type { IngestOutcome } from '../ingest/index.ts';
import { DataDir } from '../node/offline.ts';

export interface AdminClient {
  /** The node's HKP / JSON API base URL. */
  readonly url: string;
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** GET `path` into `file` (created, mode 0600), streamed. */
  download(path: string, file: string): Promise<void>;
}

/** A download (a backup of a large store) may take long; a node that stops sending is cut off after this. */
const DOWNLOAD_TIMEOUT_MS = 60 * 60_000;

/** The admin API of the node serving `data`, or undefined when none runs there. */
export async function servingAdmin(data: string): Promise<AdminClient | undefined> {
  const dir = new DataDir(data);
  const serving = await dir.runningNode();
  if (!serving) return undefined;
  if (!serving.hkp) throw new IcsError('UNAVAILABLE', `data directory ${dir.root} is in use by a running node (pid ${serving.pid}) with no HKP listener: stop it first, then run the command again`);
  if (!serving.hkp.startsWith('http://')) {
    // Over HTTPS the CLI would need the listener's CA; not yet.
    throw new IcsError('UNAVAILABLE', `data directory ${dir.root} is in use by a running node (pid ${serving.pid}) that serves HTTPS only: stop it first, or use its admin API (${serving.hkp}/ics/v1/admin) with a user's credentials`);
  }
  const token = (
    await readFile(dir.adminTokenFile, 'utf8').catch((cause: unknown) => {
      throw new IcsError('UNAVAILABLE', `the running node (pid ${serving.pid}) left no admin token in ${dir.adminTokenFile}: is it still starting?`, { cause });
    })
  ).trim();
  const operator = (() => {
    try {
      return userInfo().username;
    } catch {
      return undefined;
    }
  })();
  const url = serving.hkp;
  const request = (method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal) =>
    fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(operator && /^[A-Za-z0-9._-]{1,64}$/.test(operator) && { 'ics-operator': operator }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal,
    }).catch((cause: unknown) => {
      throw new IcsError('UNAVAILABLE', `the running node at ${url} does not answer`, { cause });
    });
  const refusal = async (response: Response) => {
    const answer = (await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
    return new IcsError((answer?.error?.code ?? 'INTERNAL') as IcsErrorCode, `${answer?.error?.message ?? `HTTP ${response.status}`} (from the running node at ${url})`);
  };
  return {
    url,
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      const response = await request(method, path, body, AbortSignal.timeout(60_000));
      if (!response.ok) throw await refusal(response);
      return (await response.json()) as T;
    },
    async download(path: string, file: string): Promise<void> {
      const response = await request('GET', path, undefined, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS));
      if (!response.ok || !response.body) throw await refusal(response);
      await pipeline(Readable.fromWeb(response.body as NodeReadableStream), createWriteStream(file, { flags: 'wx', mode: 0o600 })).catch((cause: unknown) => {
        throw new IcsError('UNAVAILABLE', `the download from the running node at ${url} was cut short`, { cause });
      });
    },
  };
}

/** An admin API answer as the CLI prints outcomes (the dropped signatures' sample as the list). */
export function outcomeOf(answer: Omit<IngestOutcome, 'dropped'> & { dropped: { sample: IngestOutcome['dropped'] } }): IngestOutcome {
  return { ...answer, dropped: answer.dropped.sample } as IngestOutcome;
}
