// What `ics enrol` does (its definition is in enrol-commands.ts): one step of the device
// agent, or (--watch) the agent for as long as the process runs.
import { readFile } from 'node:fs/promises';
import { checkAlgorithm } from '../enrol/index.ts';
import { IcsError } from '../errors.ts';
import { type AgentOutcome, type AgentPending, DeviceAgent, privateKeyPem, watch } from '../est/device-agent.ts';
import { parseDuration } from './args.ts';
import { print } from './context.ts';
import type { GlobalOptions } from './options.ts';

export type EnrolFlags = GlobalOptions & {
  server: string;
  ca: string;
  birthCert: string;
  birthKey: string;
  dir: string;
  label?: string;
  algorithm: string;
  renewBefore?: string;
  passphraseFile?: string;
  watch?: boolean;
};

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new IcsError('BAD_REQUEST', `${what} ${path} cannot be read`, { cause });
  }
}

function describe(outcome: AgentOutcome | AgentPending): string {
  if (outcome.action === 'pending') return `pending: ${outcome.message} (asking again in ${outcome.retryAfterSeconds} s)`;
  const what = outcome.action === 'current' ? 'certificate current' : outcome.action === 'enrolled' ? 'enrolled' : 'renewed';
  const fellBack = outcome.fellBack ? ` (simplereenroll refused, enrolled with the birth certificate: ${outcome.fellBack})` : '';
  return `${what}: ${outcome.urn} serial ${outcome.serial}, valid until ${outcome.notAfter.toISOString()}, renewal from ${outcome.renewAt.toISOString()}${fellBack}`;
}

export async function enrol(flags: EnrolFlags): Promise<void> {
  const passphrase = flags.passphraseFile !== undefined ? (await readText(flags.passphraseFile, 'passphrase file')).trim() : process.env.ICS_KEY_PASSPHRASE;
  if (passphrase === '') throw new IcsError('BAD_REQUEST', 'the passphrase is empty');
  const agent = new DeviceAgent({
    server: { url: flags.server, ca: await readText(flags.ca, 'trust anchors'), ...(flags.label !== undefined && { label: flags.label }) },
    birth: {
      cert: await readText(flags.birthCert, 'birth certificate'),
      key: privateKeyPem(await readText(flags.birthKey, 'birth key'), flags.birthKey, passphrase),
      ...(passphrase !== undefined && { passphrase }),
    },
    ...(passphrase !== undefined && { passphrase }),
    dir: flags.dir,
    algorithm: checkAlgorithm(flags.algorithm),
    ...(flags.renewBefore !== undefined && { renewBeforeMs: parseDuration(flags.renewBefore) * 1000 }),
  });
  if (!flags.watch) {
    const outcome = await agent.step();
    print(flags, outcome, () => describe(outcome));
    // Not yet: a script runs the command again after retryAfterSeconds.
    if (outcome.action === 'pending') process.exitCode = 1;
    return;
  }
  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());
  await watch(agent, stop.signal, (event) => {
    if ('error' in event) {
      const line = { error: event.error.message, retryInSeconds: Math.round(event.retryInMs / 1000) };
      process.stderr.write(flags.json ? `${JSON.stringify(line)}\n` : `enrol failed: ${line.error}; retrying in ${line.retryInSeconds} s\n`);
    } else print({ json: false }, event, () => (flags.json ? JSON.stringify(event) : describe(event)));
  });
}
