import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { FaultInjector } from './apiserver/faults.js';
import { ApiServer } from './apiserver/server.js';
import { registryAccess, type ClusterAccess } from './controllers/access.js';
import { GarbageCollector } from './controllers/garbagecollector.js';
import { JobController, pvcDirectory } from './controllers/jobs.js';
import { WorkloadController } from './controllers/workloads.js';

export type { FaultInjector, FailRule, DelayRule } from './apiserver/faults.js';
export type { KubeObject } from './apiserver/types.js';
export type { ClusterAccess } from './controllers/access.js';
export { controlPrefix } from './apiserver/server.js';

/** Which simulated controllers run beside the API server; all are on unless switched off. */
export interface LocalClusterControllers {
  /** Deployments and StatefulSets reach spec.replicas after `delayMs` (default 200). */
  workloads?: boolean | { delayMs?: number };
  /** Jobs run their first container's command locally. */
  jobs?: boolean | { retryDelayMs?: number };
  /** Dependents are deleted when their owners are. */
  garbageCollector?: boolean;
}

export interface LocalClusterOptions {
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Data directory (PVC directories, pod logs); a temporary one, removed on stop, when omitted. */
  dataDir?: string;
  controllers?: LocalClusterControllers;
  /** BOOKMARK interval for watches that allow bookmarks (default 5000 ms). */
  bookmarkIntervalMs?: number;
}

/** A running local control plane. */
export interface LocalCluster {
  /** The API server's base URL, http://127.0.0.1:PORT. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Fault injection: cut watches, expire resourceVersions, fail or delay requests. */
  readonly faults: FaultInjector;
  /** In-process access to the stored objects, with the server's semantics. */
  readonly access: ClusterAccess;
  /** A kubeconfig (YAML) for kubectl and @kubernetes/client-node. */
  kubeconfig(options?: { namespace?: string }): string;
  /** Writes the kubeconfig to a file (mode 0600). */
  writeKubeconfig(path: string, options?: { namespace?: string }): void;
  /** The local directory that backs PersistentVolumeClaim `name` in `namespace` for Jobs. */
  pvcDir(namespace: string, name: string): string;
  /** Stops the controllers (killing Job processes) and the server. */
  stop(): Promise<void>;
}

interface Stoppable {
  start(): void;
  stop(): void;
}

function enabled<T extends object>(setting: boolean | T | undefined): T | undefined {
  if (setting === false) return undefined;
  return typeof setting === 'object' ? setting : ({} as T);
}

function startControllers(
  access: ClusterAccess,
  dataDir: string,
  settings: LocalClusterControllers,
): Stoppable[] {
  const controllers: Stoppable[] = [];
  const workloads = enabled(settings.workloads);
  if (workloads)
    controllers.push(
      new WorkloadController(access, workloads.delayMs === undefined ? {} : { delayMs: workloads.delayMs }),
    );
  const jobs = enabled(settings.jobs);
  if (jobs)
    controllers.push(
      new JobController(
        access,
        jobs.retryDelayMs === undefined ? { dataDir } : { dataDir, retryDelayMs: jobs.retryDelayMs },
      ),
    );
  if (settings.garbageCollector !== false) controllers.push(new GarbageCollector(access));
  for (const controller of controllers) controller.start();
  return controllers;
}

/** Renders the kubeconfig of a local cluster. */
export function renderKubeconfig(url: string, namespace = 'default'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'schemaops-local', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'schemaops-local', user: { token: 'schemaops-local' } }],
    contexts: [
      {
        name: 'schemaops-local',
        context: { cluster: 'schemaops-local', user: 'schemaops-local', namespace },
      },
    ],
    'current-context': 'schemaops-local',
  });
}

/** Starts the API server on 127.0.0.1 and the chosen controllers. */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'schemaops-cluster-'));
  mkdirSync(join(dataDir, 'logs'), { recursive: true });
  const serverOptions: ConstructorParameters<typeof ApiServer>[0] = { logDir: join(dataDir, 'logs') };
  if (options.port !== undefined) serverOptions.port = options.port;
  if (options.bookmarkIntervalMs !== undefined) serverOptions.bookmarkIntervalMs = options.bookmarkIntervalMs;
  const server = new ApiServer(serverOptions);
  const port = await server.listen();
  const url = `http://127.0.0.1:${port}`;
  const access = registryAccess(server.registry, 'kube-controller-manager');
  const controllers = startControllers(access, dataDir, options.controllers ?? {});
  let stopped = false;
  return {
    url,
    port,
    dataDir,
    faults: server.faults,
    access,
    kubeconfig: (o) => renderKubeconfig(url, o?.namespace),
    writeKubeconfig: (path, o) => writeFileSync(path, renderKubeconfig(url, o?.namespace), { mode: 0o600 }),
    pvcDir: (namespace, name) => pvcDirectory(dataDir, namespace, name),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      for (const controller of controllers) controller.stop();
      await server.close();
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
