import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isConflictOrExists, isNotFound, type ApiConnection, type KubeObject } from './api.js';
import { isRecord, text } from './container.js';
import { claimDirectory, podLogFile, PodRunner } from './pods.js';

export { RUN_COMMAND_ANNOTATION, podLogFile, claimDirectory } from './pods.js';

/** The StorageClass whose claims this kubelet provisions as directories (the cluster's default). */
export const LOCAL_STORAGE_CLASS = 'local';
const PROVISIONER = 'localcluster.schemaops.dev/directory';

export interface KubeletOptions {
  readonly nodeName: string;
  readonly dataDir: string;
  readonly readyDelayMs: number;
  /** The serving certificate and key for the logs endpoint (kube-apiserver does not check them). */
  readonly tls: { cert: string; key: string };
}

const microTime = (): string => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * The local kubelet: registers a Node and keeps its Lease fresh, runs the pods bound to it (PodRunner),
 * provisions claims of the local StorageClass as directories, and serves pod logs to `kubectl logs`.
 */
export class LocalKubelet {
  private readonly abort = new AbortController();
  private readonly pods: PodRunner;
  private server: Server | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;

  private readonly api: ApiConnection;
  private readonly options: KubeletOptions;

  constructor(api: ApiConnection, options: KubeletOptions) {
    this.api = api;
    this.options = options;
    this.pods = new PodRunner(api, options);
  }

  async start(): Promise<void> {
    const port = await this.serveLogs();
    await this.register(port);
    await this.ensureStorageClass();
    const { signal } = this.abort;
    const node = encodeURIComponent(`spec.nodeName=${this.options.nodeName}`);
    void this.api.listWatch(
      `/api/v1/pods?fieldSelector=${node}`,
      (t, pod) => this.pods.handle(t, pod),
      signal,
    );
    void this.api.listWatch('/api/v1/persistentvolumeclaims', (t, claim) => this.provision(t, claim), signal);
    this.leaseTimer = setInterval(() => void this.renewLease().catch(() => undefined), 10_000);
    this.leaseTimer.unref();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.leaseTimer);
    this.pods.stop();
    // close() waits for every open connection to end: kube-apiserver keeps its log connections alive.
    const closed = new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    this.server?.closeAllConnections();
    await closed;
  }

  private async register(port: number): Promise<void> {
    const name = this.options.nodeName;
    const labels = {
      'kubernetes.io/hostname': name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
    };
    await this.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } });
    const ready = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: reason,
      lastHeartbeatTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    const resources = { cpu: '16', memory: '64Gi', pods: '500', 'ephemeral-storage': '100Gi' };
    const status = {
      capacity: resources,
      allocatable: resources,
      conditions: [
        ready('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
        ready('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
        ready('PIDPressure', 'False', 'KubeletHasSufficientPID'),
        ready('Ready', 'True', 'KubeletReady'),
      ],
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      daemonEndpoints: { kubeletEndpoint: { Port: port } },
      nodeInfo: {
        machineID: name,
        systemUUID: name,
        bootID: name,
        kernelVersion: '',
        osImage: 'schemaops local kubelet',
        containerRuntimeVersion: 'local://processes',
        kubeletVersion: 'v0.0.0-local',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    };
    await this.api.call('PATCH', `/api/v1/nodes/${name}/status`, { status }, 'application/merge-patch+json');
    // Admission taints a new Node not-ready; the node lifecycle controller (not run here) would lift it.
    await this.api.call(
      'PATCH',
      `/api/v1/nodes/${name}`,
      { spec: { taints: null } },
      'application/merge-patch+json',
    );
    await this.renewLease();
  }

  private async create(path: string, body: unknown): Promise<void> {
    await this.api.call('POST', path, body).catch((err: unknown) => {
      if (!isConflictOrExists(err)) throw err;
    });
  }

  private async renewLease(): Promise<void> {
    const name = this.options.nodeName;
    const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime() };
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases`;
    try {
      await this.api.call('PATCH', `${path}/${name}`, { spec }, 'application/merge-patch+json');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.create(path, { metadata: { name }, spec });
    }
  }

  private async ensureStorageClass(): Promise<void> {
    await this.create('/apis/storage.k8s.io/v1/storageclasses', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: {
        name: LOCAL_STORAGE_CLASS,
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      },
      provisioner: PROVISIONER,
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    });
  }

  /** A pending claim of the local class gets a directory and a PersistentVolume bound to it; a deleted one loses both. */
  private provision(type: 'SYNC' | 'DELETED', claim: KubeObject): void {
    const spec = isRecord(claim.spec) ? claim.spec : {};
    if (spec.storageClassName !== LOCAL_STORAGE_CLASS) return;
    const { namespace = 'default', name, uid = '' } = claim.metadata;
    const dir = claimDirectory(this.options.dataDir, namespace, name);
    const pv = `/api/v1/persistentvolumes/pvc-${uid}`;
    if (type === 'DELETED') {
      void this.api.call('DELETE', pv).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    const phase = text(isRecord(claim.status) ? claim.status.phase : '');
    if ((phase !== '' && phase !== 'Pending') || spec.volumeName) return;
    mkdirSync(dir, { recursive: true });
    const requests =
      isRecord(spec.resources) && isRecord(spec.resources.requests) ? spec.resources.requests : {};
    void this.create('/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `pvc-${uid}`, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER } },
      spec: {
        capacity: { storage: text(requests.storage, '1Gi') },
        accessModes: Array.isArray(spec.accessModes) ? spec.accessModes : ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Delete',
        storageClassName: LOCAL_STORAGE_CLASS,
        hostPath: { path: dir, type: 'DirectoryOrCreate' },
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name, uid },
      },
    }).catch(() => undefined);
  }

  /** GET /containerLogs/{namespace}/{pod}/{container}[?follow=true]: what kube-apiserver asks for `kubectl logs`. */
  private async serveLogs(): Promise<number> {
    const server = createServer({
      cert: readFileSync(this.options.tls.cert),
      key: readFileSync(this.options.tls.key),
    });
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'https://local');
      const [, route, namespace = '', pod = ''] = url.pathname.split('/');
      if (route !== 'containerLogs') return res.writeHead(404).end('not found\n');
      const file = podLogFile(this.options.dataDir, decodeURIComponent(namespace), decodeURIComponent(pod));
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      if (url.searchParams.get('follow') !== 'true') {
        if (!existsSync(file)) return res.end();
        return createReadStream(file).pipe(res);
      }
      void this.follow(file, namespace, pod, res);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  private async follow(
    file: string,
    namespace: string,
    pod: string,
    res: NodeJS.WritableStream & { destroyed: boolean },
  ) {
    let offset = 0;
    for (;;) {
      const size = existsSync(file) ? statSync(file).size : 0;
      if (size > offset) {
        await new Promise<void>((resolve) =>
          createReadStream(file, { start: offset, end: size - 1 })
            .on('end', resolve)
            .pipe(res, { end: false }),
        );
        offset = size;
      }
      if (res.destroyed || this.abort.signal.aborted || !this.pods.isRunning(namespace, pod)) break;
      await sleep(200);
    }
    res.end();
  }
}
