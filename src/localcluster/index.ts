import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  adminGet,
  apiServerArgs,
  controllerManagerArgs,
  schedulerArgs,
  startEtcd,
  waitUntilReady,
  writeControlPlaneFiles,
  type ControlPlaneFiles,
} from './controlplane.js';
import { ApiConnection } from './kubelet/api.js';
import { claimDirectory, LocalKubelet } from './kubelet/index.js';
import { freePort } from './postgres.js';
import { ComponentProcess, findBinary } from './process.js';

export { RUN_COMMAND_ANNOTATION, LOCAL_STORAGE_CLASS } from './kubelet/index.js';
export { ADMIN_USER } from './controlplane.js';

export interface LocalClusterOptions {
  /** kube-apiserver's port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Data directory (etcd, certificates, PVC directories, pod and component logs); a temporary one, removed on stop, when omitted. */
  dataDir?: string;
  /** How long a pod that is not run as a process takes to become Running and Ready (default 200 ms). */
  podReadyDelayMs?: number;
  /** More kube-apiserver flags. */
  apiServerArgs?: readonly string[];
}

/** A running local cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the local kubelet. */
export interface LocalCluster {
  /** kube-apiserver's base URL, https://127.0.0.1:PORT. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The CA that signed kube-apiserver's serving certificate (PEM). */
  readonly caData: string;
  /** A token of the admin user (group system:masters). */
  readonly adminToken: string;
  /** A kubeconfig (YAML): the admin's, or one for another bearer token (a ServiceAccount's). */
  kubeconfig(options?: { namespace?: string; token?: string; server?: string }): string;
  /** Writes that kubeconfig to a file (mode 0600). */
  writeKubeconfig(path: string, options?: { namespace?: string; token?: string; server?: string }): void;
  /** The local directory that backs PersistentVolumeClaim `name` in `namespace`. */
  pvcDir(namespace: string, name: string): string;
  /** Stops kube-apiserver and starts it again on the same port and store (clients see it go and come back). */
  restartApiServer(): Promise<void>;
  /** Stops every component and the kubelet; nothing is left running. */
  stop(): Promise<void>;
}

export const NODE_NAME = 'local';

/** Renders a kubeconfig for a server, its CA and a bearer token. */
export function renderKubeconfig(options: {
  server: string;
  caData: string;
  token: string;
  namespace?: string;
}): string {
  const cluster: Record<string, unknown> = { server: options.server };
  if (options.server.startsWith('https:'))
    cluster['certificate-authority-data'] = Buffer.from(options.caData).toString('base64');
  else cluster['insecure-skip-tls-verify'] = true; // client-node wants it for http://, where it means nothing
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'schemaops-local', cluster }],
    users: [{ name: 'schemaops-local', user: { token: options.token } }],
    contexts: [
      {
        name: 'schemaops-local',
        context: {
          cluster: 'schemaops-local',
          user: 'schemaops-local',
          namespace: options.namespace ?? 'default',
        },
      },
    ],
    'current-context': 'schemaops-local',
  });
}

async function startApiServer(options: {
  files: ControlPlaneFiles;
  etcd: string;
  port: number;
  logDir: string;
  extraArgs: readonly string[] | undefined;
}): Promise<ComponentProcess> {
  const { files, etcd, port, logDir, extraArgs } = options;
  const args = apiServerArgs({ etcd, port, files, ...(extraArgs ? { extraArgs } : {}) });
  const apiServer = new ComponentProcess(
    'kube-apiserver',
    findBinary('kube-apiserver'),
    args,
    join(logDir, 'kube-apiserver.log'),
  );
  const url = `https://127.0.0.1:${port}`;
  await waitUntilReady(
    apiServer,
    async () => (await adminGet(url, files, '/readyz'))?.status === 200,
    90_000,
  );
  return apiServer;
}

/** Starts the components in order, each once the one before is ready; stops what started if one fails. */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'schemaops-cluster-'));
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const started: ComponentProcess[] = [];
  let kubelet: LocalKubelet | undefined;
  const stopAll = async () => {
    await kubelet?.stop();
    for (const component of [...started].reverse()) await component.stop();
  };
  try {
    const files = writeControlPlaneFiles(join(dataDir, 'pki'));
    const { etcd, url: etcdUrl } = await startEtcd(dataDir, logDir);
    started.push(etcd);
    const port = options.port ?? (await freePort());
    const apiServerOptions = { files, etcd: etcdUrl, port, logDir, extraArgs: options.apiServerArgs };
    let apiServer = await startApiServer(apiServerOptions);
    started.push(apiServer);
    const url = `https://127.0.0.1:${port}`;
    const caData = readFileSync(files.caFile, 'utf8');
    const kubeconfig = (o: { namespace?: string; token?: string; server?: string } = {}) =>
      renderKubeconfig({
        server: o.server ?? url,
        caData,
        token: o.token ?? files.adminToken,
        ...(o.namespace ? { namespace: o.namespace } : {}),
      });
    const componentConfig = join(files.dir, 'components.kubeconfig');
    writeFileSync(componentConfig, kubeconfig(), { mode: 0o600 });
    for (const [name, args] of [
      ['kube-controller-manager', controllerManagerArgs(componentConfig, files)],
      ['kube-scheduler', schedulerArgs(componentConfig)],
    ] as const) {
      started.push(new ComponentProcess(name, findBinary(name), args, join(logDir, `${name}.log`)));
    }
    const api = new ApiConnection(url, Buffer.from(caData), files.adminToken);
    kubelet = new LocalKubelet(api, {
      nodeName: NODE_NAME,
      dataDir,
      readyDelayMs: options.podReadyDelayMs ?? 200,
      tls: { cert: files.caFile, key: join(files.dir, 'apiserver.key') },
    });
    await kubelet.start();
    // The controller-manager is at work once the default namespace has its ServiceAccount (pods need it).
    const controllerManager = started.find((c) => c.name === 'kube-controller-manager')!;
    await waitUntilReady(
      controllerManager,
      async () =>
        (await adminGet(url, files, '/api/v1/namespaces/default/serviceaccounts/default'))?.status === 200,
      60_000,
    );
    let stopped = false;
    return {
      url,
      port,
      dataDir,
      caData,
      adminToken: files.adminToken,
      kubeconfig,
      writeKubeconfig: (path, o) => writeFileSync(path, kubeconfig(o), { mode: 0o600 }),
      pvcDir: (namespace, name) => claimDirectory(dataDir, namespace, name),
      restartApiServer: async () => {
        await apiServer.stop();
        const next = await startApiServer(apiServerOptions);
        started.splice(started.indexOf(apiServer), 1, next);
        apiServer = next;
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await stopAll();
        if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
