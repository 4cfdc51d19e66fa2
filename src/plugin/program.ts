import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../duration.js';
import { VERSION } from '../cli/program.js';
import { approveCommand, restoreCommand, retryCommand } from './commands/annotate.js';
import { backupsCommand, historyCommand, planCommand, statusCommand } from './commands/read.js';
import { rollbackCommand } from './commands/rollback.js';
import { waitCommand } from './commands/wait.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, PluginError } from './errors.js';
import { createPluginClient, type ConnectionOptions } from './kube.js';
import type { Session } from './session.js';
import { OUTPUT_FORMATS } from './view.js';

interface GlobalOptions extends ConnectionOptions {
  readonly verbose?: boolean;
}

function duration(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

const outputOption = () =>
  new Option('-o, --output <format>', 'output format: json or yaml').choices(OUTPUT_FORMATS);
const yesOption = () => new Option('-y, --yes', 'do not ask for confirmation');

function sessionFor(command: Command): Session {
  const options = command.optsWithGlobals<GlobalOptions>();
  return {
    client: createPluginClient(options),
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    verbose: options.verbose ?? false,
  };
}

type Action<O> = (session: Session, name: string, options: O) => Promise<number | void>;

/** Runs a command's action with a session; its exit code (when it returns one) goes to process.exitCode. */
function run<O>(action: Action<O>) {
  return async (name: string, options: O, command: Command) => {
    const code = await action(sessionFor(command), name, options);
    process.exitCode = code ?? EXIT_OK;
  };
}

function registerReadCommands(program: Command): void {
  program
    .command('status')
    .description('phase, conditions, target and current revision, the plan, workload, backup and restore')
    .argument('<name>', 'the SchemaMigration')
    .addOption(outputOption())
    .action(run(statusCommand));
  program
    .command('history')
    .description('the finished runs (status.history), newest first')
    .argument('<name>', 'the SchemaMigration')
    .addOption(outputOption())
    .action(run(historyCommand));
  program
    .command('plan')
    .description('the plan under way or awaiting approval; --sql prints its exact SQL')
    .argument('<name>', 'the SchemaMigration')
    .option('--sql', "print the plan's SQL (from the ConfigMap <name>-plan, checked against the plan's hash)")
    .addOption(outputOption())
    .action(run(planCommand));
  program
    .command('backups')
    .description('the verified backups (status.backups), newest first')
    .argument('<name>', 'the SchemaMigration')
    .option('--tables <file>', "one backup's rows per table")
    .addOption(outputOption())
    .action(run(backupsCommand));
}

function registerWriteCommands(program: Command): void {
  program
    .command('approve')
    .description("shows the plan and its SQL, asks, then approves exactly that plan's hash")
    .argument('<name>', 'the SchemaMigration')
    .addOption(yesOption())
    .action(run(approveCommand));
  program
    .command('rollback')
    .description('sets spec.targetRevision and follows the operator (asks before allowing data loss)')
    .argument('<name>', 'the SchemaMigration')
    .requiredOption('--to <revision>', 'a revision, base, or -N: N migrations before the current revision')
    .option('--timeout <duration>', "how long to wait for the operator's reaction", duration, 60_000)
    .addOption(yesOption())
    .action(
      run((s, name, o: { to: string; timeout: number; yes?: boolean }) =>
        rollbackCommand(s, name, { to: o.to, timeoutMs: o.timeout, yes: o.yes ?? false }),
      ),
    );
  program
    .command('retry')
    .description('retries a failed or restored run without a spec change')
    .argument('<name>', 'the SchemaMigration')
    .action(run((s, name) => retryCommand(s, name)));
  program
    .command('restore')
    .description('restores the database from one of status.backups (asks first)')
    .argument('<name>', 'the SchemaMigration')
    .requiredOption('--backup <file>', 'the backup file, as `backups` lists it')
    .addOption(yesOption())
    .action(run(restoreCommand));
  program
    .command('wait')
    .description('waits for Ready (exit 0); exit 1 when it stalls, 2 on timeout')
    .argument('<name>', 'the SchemaMigration')
    .option('--for <condition>', 'the condition to wait for', 'ready')
    .option('--timeout <duration>', 'how long to wait', duration, 300_000)
    .action(
      run((s, name, o: { for: string; timeout: number }) =>
        waitCommand(s, name, { for: o.for, timeoutMs: o.timeout }),
      ),
    );
}

export function buildProgram(): Command {
  const program = new Command('kubectl schemaops')
    .description("The SRE's view of schemaops SchemaMigrations (smig, schemaops.dev/v1alpha1)")
    .version(VERSION)
    .option('--kubeconfig <path>', 'the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'the kubeconfig context to use')
    .option('-n, --namespace <namespace>', "the namespace (default: the context's)")
    .option('-v, --verbose', 'say on stderr what is being watched')
    .showHelpAfterError()
    .exitOverride();
  registerReadCommands(program);
  registerWriteCommands(program);
  return program;
}

/** Runs the plugin; the exit code is left in process.exitCode. Errors go to stderr, one line, no stack. */
export async function runPlugin(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    process.exitCode = err instanceof PluginError ? err.exitCode : EXIT_FAILED;
  }
}
