import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './exit.js';
import { redact, secretsOf } from '../redact.js';
import { errorJson } from './errors.js';

/** The version `schemaops --version` prints. */
export const VERSION = '0.2.0';

/** The first word of the command line that is not an option: the command group asked for, if any. */
function commandGroup(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((arg) => !arg.startsWith('-'));
}

/** `--json` anywhere before `--`: errors, usage errors included, are then printed as JSON too. */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * The CLI with its commands. Each command group's module is imported only when it may run: `schemaops db …`
 * must not pay for loading the Kubernetes client, the operator or the local control plane.
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('schemaops')
    .description('Takes a PostgreSQL database to a declared schema revision and back, safely')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  const { registerDbCommand } = await import('./db.js');
  registerDbCommand(program);
  if (commandGroup(argv) === 'db') return program;
  const [operator, localCluster, demo] = await Promise.all([
    import('./operator.js'),
    import('../localcluster/command.js'),
    import('../demo/command.js'),
  ]);
  operator.registerOperatorCommand(program);
  localCluster.registerLocalClusterCommand(program);
  demo.registerDemoCommand(program);
  return program;
}

/** Runs the CLI; the exit code is left in process.exitCode. */
export async function runCli(argv: readonly string[]): Promise<void> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // --help and --version end here too, with exit code 0. Commander has already printed the message.
    if (err.exitCode === 0) {
      process.exitCode = 0;
      return;
    }
    process.exitCode = EXIT_USAGE;
    if (wantsJson(argv)) {
      const message = redact(err.message.replace(/^error:\s*/, ''), secretsOf(process.env.DATABASE_URL));
      process.stdout.write(`${JSON.stringify(errorJson('UsageError', message))}\n`);
    }
  }
}
