import { Command } from 'commander';
import { ConfigError, loadConfig, SETTINGS, type SettingName } from '../config.js';
import { startOperator } from '../runtime/operator.js';
import { EXIT_USAGE } from './exit.js';

const HELP: Record<SettingName, string> = {
  kubeconfig: 'kubeconfig file (default: ~/.kube/config, or in-cluster)',
  namespaces: 'comma-separated namespaces to watch (default: all)',
  maxConcurrentReconciles: 'SchemaMigrations worked on at once (default 4)',
  metricsAddr: 'where /metrics is served (default :8080)',
  healthAddr: 'where /healthz and /readyz are served (default :8081)',
  leaderElect: 'elect a leader on a Lease: true|false (default: true in a cluster)',
  leaseName: 'the Lease (default schemaops-leader)',
  leaseNamespace: "the Lease's namespace (default: $POD_NAMESPACE or default)",
  leaseDuration: 'lease duration (default 15s)',
  renewDeadline: 'a leader that cannot renew for this long stops (default 10s)',
  retryPeriod: 'how often to try to acquire or renew (default 2s)',
  resyncPeriod: 'every SchemaMigration is looked at again this often (default 10m)',
  watchIdleTimeout: 'a watch silent this long is restarted (default 5m)',
  logLevel: 'trace|debug|info|warn|error (default info)',
};

function camel(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Registers `schemaops operator`; every setting is a flag, or the environment variable named in its help. */
export function registerOperatorCommand(program: Command): void {
  const command = program
    .command('operator')
    .description('Run the SchemaMigration controller against the current kubeconfig (or in-cluster config)');
  for (const [name, source] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    // A switch may stand alone (`--leader-elect`) or take true|false.
    const value = name === 'leaderElect' ? '[value]' : '<value>';
    command.option(`${source.flag} ${value}`, `${HELP[name]} [$${source.env}]`);
  }
  command.action(async (opts: Record<string, string | boolean | undefined>) => {
    const flags: Partial<Record<SettingName, string>> = {};
    for (const [name, source] of Object.entries(SETTINGS) as [
      SettingName,
      (typeof SETTINGS)[SettingName],
    ][]) {
      const value = opts[camel(source.flag)];
      if (value !== undefined) flags[name] = String(value);
    }
    let config;
    try {
      config = loadConfig(flags);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`error: ${err.message}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    const operator = await startOperator(config);
    await new Promise<void>((resolve) => {
      const shutdown = () => void operator.stop().then(resolve, resolve);
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    });
  });
}
