import type { Command } from 'commander';
import { startLocalCluster } from './index.js';

interface LocalClusterFlags {
  port: string;
  kubeconfig: string;
  dataDir?: string;
}

/** Registers `schemaops local-cluster`. */
export function registerLocalClusterCommand(program: Command): void {
  program
    .command('local-cluster')
    .description(
      'Run a local Kubernetes cluster in the foreground: etcd, kube-apiserver, kube-controller-manager and ' +
        'kube-scheduler (built by scripts/setup.sh), and a local kubelet that runs pods as processes',
    )
    .requiredOption('--port <port>', "kube-apiserver's port on 127.0.0.1 (0 picks a free one)")
    .requiredOption('--kubeconfig <path>', 'where to write the kubeconfig for kubectl and clients')
    .option(
      '--data-dir <dir>',
      'data directory: etcd, certificates, PVC directories, pod and component logs (default: a temporary one)',
    )
    .action(async (flags: LocalClusterFlags) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        program.error(`--port must be a port number, got ${flags.port}`);
      }
      const options: Parameters<typeof startLocalCluster>[0] = port === 0 ? {} : { port };
      if (flags.dataDir !== undefined) options.dataDir = flags.dataDir;
      const cluster = await startLocalCluster(options);
      cluster.writeKubeconfig(flags.kubeconfig);
      process.stdout.write(
        `local cluster serving at ${cluster.url}; kubeconfig written to ${flags.kubeconfig}; data in ${cluster.dataDir}\n`,
      );
      await new Promise<void>((resolve) => {
        const shutdown = (): void => {
          process.off('SIGINT', shutdown);
          process.off('SIGTERM', shutdown);
          resolve();
        };
        process.on('SIGINT', shutdown);
        process.on('SIGTERM', shutdown);
      });
      await cluster.stop();
      process.stdout.write('local cluster stopped\n');
    });
}
