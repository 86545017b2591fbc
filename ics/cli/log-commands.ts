// `ics log verify`: a gateway's offline check of a verdict's transparency-log proofs.
// Definitions only: the action loads log-actions.ts when it runs.
import type { Command } from 'commander';
import type { LogVerifyFlags } from './log-actions.ts';

const actions = () => import('./log-actions.ts');
const collect = (value: string, previous: string[]) => [...previous, value];

export function registerLogCommands(program: Command): void {
  const log = program.command('log').description("a node's transparency log: every accepted record version, provable");
  log
    .command('verify <answer>')
    .description('check the answer of GET /ics/v1/verify/{id}?proof=1 (a file, or - for stdin): the record is in each log it names; exit 0 verified, 1 refused, 2 error')
    .option('--key <vkey>', "a domain log's verifier key, or a file holding it (GET /ics/v1/log/<domain>/key; repeatable)", collect, [])
    .option('--json', 'machine-readable output')
    .action(async (answer: string, flags: LogVerifyFlags) => (await actions()).logVerify(answer, flags));
}
