import type { Command } from 'commander';

/** Registers `schemaops local-cluster`. */
export function registerLocalClusterCommand(program: Command): void {
  program
    .command('local-cluster')
    .description('Run the local control plane (a Kubernetes API server with simulated controllers) in the foreground')
    .action(() => {
      throw new Error('not built yet');
    });
}
