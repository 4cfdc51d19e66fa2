#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './cli/exit.js';

/**
 * The CLI with its commands. Each command's module is imported only when it may run: `schemaops db …` must not
 * pay for loading the Kubernetes client, the operator or the local control plane.
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('schemaops')
    .description('Takes a PostgreSQL database to a declared schema revision and back, safely')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  const only = argv[2];
  const { registerDbCommand } = await import('./cli/db.js');
  registerDbCommand(program);
  if (only === 'db') return program;
  const [operator, localCluster, demo] = await Promise.all([
    import('./cli/operator.js'),
    import('./localcluster/command.js'),
    import('./demo/command.js'),
  ]);
  operator.registerOperatorCommand(program);
  localCluster.registerLocalClusterCommand(program);
  demo.registerDemoCommand(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    throw err;
  }
}

await main(process.argv);
