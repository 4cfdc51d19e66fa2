import type { Command } from 'commander';
import { runDemo } from './demo.js';

/** Registers `schemaops demo`. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Migrate and roll back a sample app on the local control plane with a real PostgreSQL')
    .option('--no-wait', 'exit after the rollback instead of running until Ctrl-C')
    .action(async (opts: { wait: boolean }) => {
      await runDemo({ wait: opts.wait, write: (line) => process.stdout.write(`${line}\n`) });
    });
}
