// What `ics log verify` does (its definition is in log-commands.ts): checks, offline, the
// answer a node gave to `GET /ics/v1/verify/{id}?proof=1` — the record's digest is its bytes',
// and each log proof holds under the verifier key pinned for its domain (tlog/verify.ts, the
// routine a gateway embeds). Loads tlog/ and record/, never a front end.
import { createHash } from 'node:crypto';
import { IcsError } from '../errors.ts';
import { DEFAULT_LIMITS, dearmor } from '../record/index.ts';
import { type LogProof, parseVerifierKey, verifyLogProof } from '../tlog/index.ts';
import { print } from './context.ts';
import { readInputFile } from './files.ts';

export interface LogVerifyFlags {
  key: string[];
  json?: boolean;
}

interface VerifyAnswer {
  readonly verdict?: { readonly trusted?: unknown; readonly status?: unknown };
  readonly record?: { readonly id?: unknown; readonly digest?: unknown; readonly armored?: unknown };
  readonly log?: readonly LogProof[];
}

async function readAnswer(file: string): Promise<VerifyAnswer> {
  const text = file === '-' ? await new Response(process.stdin as unknown as ReadableStream).text() : (await readInputFile(file)).toString('utf8');
  try {
    return JSON.parse(text) as VerifyAnswer;
  } catch {
    throw new IcsError('BAD_REQUEST', `${file} is not the JSON answer of GET /ics/v1/verify/{id}?proof=1`);
  }
}

/** A verifier key given as text, or a file holding one. */
async function keyText(value: string): Promise<string> {
  return /^[^\s+/]+(\/[^\s+]+)*\+[0-9a-f]{8}\+/.test(value) ? value : (await readInputFile(value)).toString('utf8').trim();
}

export async function logVerify(file: string, flags: LogVerifyFlags): Promise<void> {
  const answer = await readAnswer(file);
  const { record, log } = answer;
  if (typeof record?.id !== 'string' || typeof record.digest !== 'string' || typeof record.armored !== 'string' || !Array.isArray(log)) {
    throw new IcsError('BAD_REQUEST', `${file} holds no record and log proofs (ask with ?proof=1)`);
  }
  const keys = await Promise.all(flags.key.map(async (k) => parseVerifierKey(await keyText(k))));
  if (keys.length === 0) throw new IcsError('BAD_REQUEST', "give the log's verifier key with --key (GET /ics/v1/log/<domain>/key, obtained once and kept)");
  const bytes = await dearmor(record.armored, DEFAULT_LIMITS);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== record.digest) throw new IcsError('BAD_REQUEST', `the record's bytes hash to ${digest}, not the digest ${record.digest} the answer names`);
  const checked: Array<{ domain: string; index: number; size: number; origin: string }> = [];
  const problems: string[] = [];
  for (const proof of log) {
    const key = keys.find((k) => k.name.endsWith(`/${proof.domain}`));
    if (!key) {
      problems.push(`${proof.domain}: no --key for this domain's log`);
      continue;
    }
    try {
      const { checkpoint } = verifyLogProof(proof, key, { id: record.id, digest: record.digest });
      checked.push({ domain: proof.domain, index: proof.index, size: checkpoint.size, origin: checkpoint.origin });
    } catch (error) {
      problems.push(`${proof.domain}: ${(error as Error).message}`);
    }
  }
  const ok = problems.length === 0 && checked.length > 0;
  if (checked.length === 0 && problems.length === 0) problems.push('the answer carries no log proof');
  const [id, digestNamed] = [record.id, record.digest];
  const result = { ok, record: { id, digest: digestNamed }, verdict: answer.verdict, checked, problems };
  print(flags, result, () =>
    [
      ...checked.map((c) => `ok: ${id} (digest ${digestNamed.slice(0, 16)}…) is leaf ${c.index} of ${c.origin}, checkpoint of ${c.size} signed by its key`),
      ...problems.map((p) => `REFUSED: ${p}`),
    ].join('\n'),
  );
  process.exitCode = ok ? 0 : 1;
}
