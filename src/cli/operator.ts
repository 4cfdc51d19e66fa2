import { Command, InvalidArgumentError, Option } from 'commander';
import { startOperator } from '../runtime/operator.js';

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${flag} must be a whole number of at least 1`);
    return n;
  };
}

/** Registers `schemaops operator`. */
export function registerOperatorCommand(program: Command): void {
  program
    .command('operator')
    .description('Run the SchemaMigration controller against the current kubeconfig (or in-cluster config)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--namespace <name>', 'watch one namespace (default: all)')
    .option(
      '--max-concurrent-reconciles <n>',
      'SchemaMigrations worked on at once',
      positiveInt('--max-concurrent-reconciles'),
      4,
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['trace', 'debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .action(
      async (opts: {
        kubeconfig?: string;
        namespace?: string;
        maxConcurrentReconciles: number;
        logLevel: string;
      }) => {
        const operator = startOperator({
          ...(opts.kubeconfig ? { kubeconfigPath: opts.kubeconfig } : {}),
          ...(opts.namespace ? { namespace: opts.namespace } : {}),
          concurrency: opts.maxConcurrentReconciles,
          logLevel: opts.logLevel,
        });
        await new Promise<void>((resolve) => {
          const shutdown = () => {
            operator.stop().then(resolve, resolve);
          };
          process.once('SIGTERM', shutdown);
          process.once('SIGINT', shutdown);
        });
      },
    );
}
