// The `ics` command: node life (init, serve, trust) and operations on records. Only the
// command definitions load here; each action imports what it needs when it runs, so that
// `ics --help` or `ics show` does not load the front ends (seconds of CPU).
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { IcsError } from '../errors.ts';
import { registerBrokerCommands } from './broker-commands.ts';
import { registerCaCommands } from './ca-commands.ts';
import { registerCertCommands } from './cert-commands.ts';
import { registerEnrolCommand } from './enrol-commands.ts';
import { registerLogCommands } from './log-commands.ts';
import { registerNodeCommands } from './node-commands.ts';
import { registerOperations } from './operations.ts';

const program = new Command()
  .name('ics')
  .description('CM4IT identity certificate server: multi-signed identity records for IoT devices and code')
  .version((createRequire(import.meta.url)('../../package.json') as { version: string }).version)
  .showHelpAfterError()
  // Root options only before the subcommand: `ics code publish --version 3.2.1` is the code's version.
  .enablePositionalOptions()
  .exitOverride();

registerNodeCommands(program);
registerOperations(program);
registerCaCommands(program);
registerCertCommands(program);
registerEnrolCommand(program);
registerBrokerCommands(program);
registerLogCommands(program);

program
  .command('demo')
  .description('walk through the record model in memory: register, countersign, set status, verify, deprecate code')
  .option('--json', 'print the verdicts as JSON')
  .action(async (options: { json?: boolean }) => {
    const { runDemo } = await import('./demo.ts');
    await runDemo({ json: options.json === true, out: process.stdout });
  });

// Exit codes: 0 success (verify: trusted), 1 verify: not trusted / import with rejections, 2 error.
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof IcsError) {
    process.stderr.write(`ics: ${error.code}: ${error.message}\n`);
    const details = error.details?.errors ?? error.details?.reasons;
    if (Array.isArray(details) && error.code !== 'CONFIG_INVALID') {
      for (const d of details) process.stderr.write(`  ${JSON.stringify(d)}\n`);
    }
    process.exitCode = 2;
  } else {
    process.stderr.write(`ics: internal error: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 2;
  }
}
