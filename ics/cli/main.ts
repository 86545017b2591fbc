// The `ics` command. For now it carries the record-model demonstration; the node
// (`ics init`, `ics serve`, operations) builds on the same record API.
import { Command } from 'commander';
import { IcsError } from '../errors.ts';
import { runDemo } from './demo.ts';

const program = new Command()
  .name('ics')
  .description('CM4IT identity certificate server: multi-signed identity records for IoT devices and code')
  .showHelpAfterError();

program
  .command('demo')
  .description('walk through the record model: register, countersign, set status, verify, deprecate code')
  .option('--json', 'print the verdicts as JSON')
  .action(async (options: { json?: boolean }) => {
    await runDemo({ json: options.json === true, out: process.stdout });
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof IcsError) {
    process.stderr.write(`ics: ${error.code}: ${error.publicMessage}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`ics: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 2;
  }
}
