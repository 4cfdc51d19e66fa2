#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerDbCommand } from './cli/db.js';
import { registerLocalClusterCommand } from './localcluster/command.js';
import { registerOperatorCommand } from './cli/operator.js';
import { registerDemoCommand } from './demo/command.js';
import { EXIT_USAGE } from './cli/exit.js';

export function buildProgram(): Command {
  const program = new Command('schemaops')
    .description('Takes a PostgreSQL database to a declared schema revision and back, safely')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerDbCommand(program);
  registerOperatorCommand(program);
  registerLocalClusterCommand(program);
  registerDemoCommand(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
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
