import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  makeInformer,
  type V1ConfigMap,
  type V1Job,
} from '@kubernetes/client-node';
import { RUN_COMMAND_ANNOTATION } from '../../src/localcluster/index.js';
import { freshDatabase, query } from '../support/db.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startTestCluster, waitFor, type TestCluster } from './support.js';

const run = promisify(execFile);
let t: TestCluster;
let faults: FaultProxy;
let kc: KubeConfig;
let core: CoreV1Api;
let batch: BatchV1Api;

beforeAll(async () => {
  t = await startTestCluster({ podReadyDelayMs: 20 });
  faults = await startFaultProxy(t.cluster.url, t.cluster.caData, t.cluster.adminToken);
  kc = new KubeConfig();
  kc.loadFromString(t.cluster.kubeconfig({ server: faults.url }));
  core = kc.makeApiClient(CoreV1Api);
  batch = kc.makeApiClient(BatchV1Api);
});

afterAll(async () => {
  await faults?.close();
  await t?.close();
});

/** The Job's condition of that type when it is True: the Job finished that way. */
const finished = (job: V1Job, type: 'Complete' | 'Failed') =>
  job.status?.conditions?.find((c) => c.type === type && c.status === 'True');

/** The processes whose command line names this cluster's data directory: its components and pods. */
async function processesOf(dataDir: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout.split('\n').filter((line) => line.includes(dataDir));
}

describe('the local cluster', () => {
  it('runs the real components, and leaves no process or file behind when stopped', async () => {
    const other = await startTestCluster();
    const { dataDir } = other.cluster;
    const version = JSON.parse((await other.kubectl(['version', '-o', 'json'])).stdout) as {
      serverVersion: { gitVersion: string };
    };
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    const running = (await processesOf(dataDir)).join('\n');
    for (const component of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'])
      expect(running).toContain(component);
    const nodes = await other.kubectl([
      'get',
      'nodes',
      '-o',
      'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
    ]);
    expect(nodes.stdout).toBe('True');
    await other.close();
    expect(await processesOf(dataDir)).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('restarts kube-apiserver on the same port and store, and the kubelet goes on running pods after it', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'kept' } } });
    await t.cluster.restartApiServer();
    expect((await core.readNamespacedConfigMap({ namespace: 'default', name: 'kept' })).metadata?.name).toBe(
      'kept',
    );
    await t.kubectl(['create', 'deployment', 'after-restart', '--image=app:1', '--replicas=2']);
    await t.kubectl(['rollout', 'status', 'deployment/after-restart', '--timeout=60s']);
  });

  it('keeps a client-node informer in sync through a cut watch and a 410 Expired relist', async () => {
    const names = new Set<string>();
    let lists = 0;
    const informer = makeInformer(kc, '/api/v1/namespaces/default/configmaps', () => {
      lists += 1;
      return core.listNamespacedConfigMap({ namespace: 'default' });
    });
    informer.on('add', (cm: V1ConfigMap) => names.add(cm.metadata?.name ?? ''));
    informer.on('error', () => undefined);
    await informer.start();
    try {
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'inf-a' } } });
      await waitFor(() => names.has('inf-a'), { what: 'inf-a' });
      expect(faults.cutWatches()).toBeGreaterThanOrEqual(1);
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'inf-b' } } });
      await waitFor(() => names.has('inf-b'), { what: 'inf-b after the cut' });
      expect(lists).toBe(1);

      await faults.expireResourceVersions();
      faults.cutWatches();
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'inf-c' } } });
      await waitFor(() => names.has('inf-c'), { what: 'inf-c after the relist' });
      expect(lists).toBe(2);
      expect(informer.list('default').map((cm) => cm.metadata?.name)).toEqual(
        expect.arrayContaining(['inf-a', 'inf-b', 'inf-c']),
      );
    } finally {
      await informer.stop();
    }
  });

  it('rolls a Deployment out and scales it to 0, every pod gone', async () => {
    await t.kubectl(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=1']);
    await t.kubectl(['rollout', 'status', 'deployment/web', '--timeout=30s']);
    await t.kubectl(['scale', 'deployment', 'web', '--replicas=3']);
    await t.kubectl(['rollout', 'status', 'deployment/web', '--timeout=30s']);
    const status = await t.kubectl(['get', 'deploy', 'web', '-o', 'jsonpath={.status.availableReplicas}']);
    expect(status.stdout).toBe('3');
    await t.kubectl(['scale', 'deployment', 'web', '--replicas=0']);
    await waitFor(
      async () =>
        (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items.length === 0,
      { what: 'the pods to be gone' },
    );
  });

  it('stops a pod it runs with SIGTERM on deletion and removes it once the process is gone', async () => {
    const marker = join(t.dir, 'got-sigterm');
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'graceful', annotations: { [RUN_COMMAND_ANNOTATION]: 'true' } },
        spec: {
          containers: [
            {
              name: 'c',
              image: 'x',
              command: [
                'sh',
                '-c',
                `trap 'echo term > ${marker}; exit 0' TERM; while true; do sleep 0.1; done`,
              ],
            },
          ],
        },
      },
    });
    await waitFor(
      async () =>
        (await core.readNamespacedPod({ namespace: 'default', name: 'graceful' })).status?.phase ===
        'Running',
      { what: 'the pod to run' },
    );
    await core.deleteNamespacedPod({ namespace: 'default', name: 'graceful' });
    await waitFor(
      async () =>
        (await core.listNamespacedPod({ namespace: 'default', fieldSelector: 'metadata.name=graceful' }))
          .items.length === 0,
      { what: 'the pod to be removed' },
    );
    expect(readFileSync(marker, 'utf8')).toBe('term\n');
  });

  it('binds a claim of the default StorageClass to a directory-backed volume', async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: 'default',
      body: {
        metadata: { name: 'data' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    });
    const claim = await waitFor(
      async () => {
        const c = await core.readNamespacedPersistentVolumeClaim({ namespace: 'default', name: 'data' });
        return c.status?.phase === 'Bound' ? c : undefined;
      },
      { what: 'the claim to be bound' },
    );
    expect(claim.spec?.storageClassName).toBe('local');
    const volume = await core.readPersistentVolume({ name: claim.spec!.volumeName! });
    expect(volume.spec?.hostPath?.path).toBe(t.cluster.pvcDir('default', 'data'));
    expect(existsSync(t.cluster.pvcDir('default', 'data'))).toBe(true);
  });

  it('runs pg_dump in a Job with the URL from a Secret, writing to a PVC directory that pg_restore can read', async () => {
    const url = await freshDatabase('lcdump');
    await query(
      url,
      'CREATE TABLE orders (id int primary key, total numeric); INSERT INTO orders VALUES (1, 9.5)',
    );
    await core.createNamespacedSecret({
      namespace: 'default',
      body: { metadata: { name: 'orders-db' }, stringData: { url } },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace: 'default',
      body: {
        metadata: { name: 'backups' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    });
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'backup' },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: 'Never',
              volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'backups' } }],
              containers: [
                {
                  name: 'pg-dump',
                  image: 'postgres:16',
                  command: ['pg_dump'],
                  args: ['--format=custom', '--file=/backups/orders.dump', '$(DATABASE_URL)'],
                  env: [
                    { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } } },
                  ],
                  volumeMounts: [{ name: 'data', mountPath: '/backups' }],
                },
              ],
            },
          },
        },
      },
    });
    const job = await waitFor(
      async () => {
        const j = await batch.readNamespacedJob({ namespace: 'default', name: 'backup' });
        return finished(j, 'Complete') || finished(j, 'Failed') ? j : undefined;
      },
      { timeoutMs: 20_000, what: 'the backup job to finish' },
    );
    expect(job.status?.conditions?.map((c) => c.type)).toContain('Complete');
    expect(job.status?.succeeded).toBe(1);
    expect(job.status?.failed).toBeUndefined();
    const dump = join(t.cluster.pvcDir('default', 'backups'), 'orders.dump');
    expect(existsSync(dump)).toBe(true);
    expect(statSync(dump).size).toBeGreaterThan(0);
    const listing = await run('pg_restore', ['--list', dump]);
    expect(listing.stdout).toMatch(/TABLE public orders/);
    // kubectl logs reaches the kubelet through kube-apiserver.
    const logs = await t.kubectl(['logs', 'job/backup']);
    expect(logs.code).toBe(0);
  });

  it('fails a Job after its backoff limit and records the termination message on the pod', async () => {
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'broken' },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'c',
                  image: 'x',
                  command: [
                    'sh',
                    '-c',
                    'echo "about to fail"; echo "disk full" > /dev/termination-log; exit 3',
                  ],
                },
              ],
            },
          },
        },
      },
    });
    const job = await waitFor(
      async () => {
        const j = await batch.readNamespacedJob({ namespace: 'default', name: 'broken' });
        return finished(j, 'Failed') ? j : undefined;
      },
      { what: 'the job to fail' },
    );
    expect(job.status?.failed).toBe(1);
    expect(job.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackoffLimitExceeded');
    const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'job-name=broken' });
    expect(pods.items).toHaveLength(1);
    const terminated = pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(3);
    expect(terminated?.message).toBe('disk full\n');
    // kubectl logs reaches the kubelet's logs endpoint through kube-apiserver.
    expect((await t.kubectl(['logs', 'job/broken'])).stdout).toBe('about to fail\n');
  });

  it('stops a Job at activeDeadlineSeconds and garbage-collects its pods when deleted', async () => {
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'slow' },
        spec: {
          activeDeadlineSeconds: 1,
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [{ name: 'c', image: 'x', command: ['sleep', '30'] }],
            },
          },
        },
      },
    });
    const job = await waitFor(
      async () => {
        const j = await batch.readNamespacedJob({ namespace: 'default', name: 'slow' });
        return finished(j, 'Failed') ? j : undefined;
      },
      { what: 'the deadline' },
    );
    expect(job.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('DeadlineExceeded');
    await batch.deleteNamespacedJob({ namespace: 'default', name: 'slow', propagationPolicy: 'Background' });
    await waitFor(
      async () =>
        (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'job-name=slow' })).items
          .length === 0,
      {
        what: 'the pods to be collected',
      },
    );
  });

  it('deletes a finished Job and its pod ttlSecondsAfterFinished after it finished', async () => {
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'short-lived' },
        spec: {
          ttlSecondsAfterFinished: 1,
          template: {
            spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x', command: ['true'] }] },
          },
        },
      },
    });
    const complete = await waitFor(
      async () => {
        const j = await batch.readNamespacedJob({ namespace: 'default', name: 'short-lived' });
        return finished(j, 'Complete');
      },
      { what: 'the job to complete' },
    );
    const pods = () =>
      core.listNamespacedPod({ namespace: 'default', labelSelector: 'job-name=short-lived' });
    expect((await pods()).items).toHaveLength(1);
    await waitFor(
      async () => {
        const left = await batch.listNamespacedJob({
          namespace: 'default',
          fieldSelector: 'metadata.name=short-lived',
        });
        return left.items.length === 0 && (await pods()).items.length === 0;
      },
      { timeoutMs: 10_000, what: 'the TTL to delete the job and its pod' },
    );
    // Not before its time: at least the TTL after the Complete condition.
    expect(Date.now() - new Date(complete.lastTransitionTime!).getTime()).toBeGreaterThanOrEqual(900);
  });
});
