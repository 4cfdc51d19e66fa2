/* eslint-disable @typescript-eslint/no-unsafe-member-access -- API bodies are untyped JSON that the assertions check */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { freshDatabase, query } from '../support/db.js';
import { startTestCluster, waitFor, widgetCrd, type Json, type TestCluster } from './support.js';

const run = promisify(execFile);
let t: TestCluster;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let batch: BatchV1Api;
let custom: CustomObjectsApi;

beforeAll(async () => {
  t = await startTestCluster({ controllers: { workloads: { delayMs: 20 }, jobs: { retryDelayMs: 20 } } });
  kc = new KubeConfig();
  kc.loadFromString(t.cluster.kubeconfig());
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  batch = kc.makeApiClient(BatchV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  const created = await t.request(
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    widgetCrd,
  );
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await t.close();
});

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('@kubernetes/client-node against the local cluster', () => {
  it('keeps an informer in sync through a cut watch and a 410 Expired relist', async () => {
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
      expect(t.cluster.faults.cutWatches()).toBeGreaterThanOrEqual(1);
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'inf-b' } } });
      await waitFor(() => names.has('inf-b'), { what: 'inf-b after the cut' });
      expect(lists).toBe(1);

      t.cluster.faults.expireResourceVersions();
      t.cluster.faults.cutWatches();
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

  it('isolates the status subresource of a custom resource', async () => {
    const body = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 's1' },
      spec: { size: 1 },
      status: { phase: 'Ignored' },
    };
    const created = (await custom.createNamespacedCustomObject({
      group: 'example.com',
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
      body,
    })) as Json;
    expect(created.status).toBeUndefined();
    const withStatus = (await custom.patchNamespacedCustomObjectStatus(
      {
        group: 'example.com',
        version: 'v1',
        namespace: 'default',
        plural: 'widgets',
        name: 's1',
        body: { spec: { size: 99 }, status: { phase: 'Ready' } },
      },
      merge,
    )) as Json;
    expect(withStatus.status).toEqual({ phase: 'Ready' });
    expect(withStatus.spec.size).toBe(1);
    expect(withStatus.metadata.generation).toBe(1);
    const main = (await custom.patchNamespacedCustomObject(
      {
        group: 'example.com',
        version: 'v1',
        namespace: 'default',
        plural: 'widgets',
        name: 's1',
        body: { spec: { size: 2 }, status: { phase: 'Lost' } },
      },
      merge,
    )) as Json;
    expect(main.status).toEqual({ phase: 'Ready' });
    expect(main.metadata.generation).toBe(2);
  });

  it('answers a stale write with 409 Conflict', async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'stale' }, data: { a: '1' } },
    });
    await core.replaceNamespacedConfigMap({
      namespace: 'default',
      name: 'stale',
      body: { ...cm, data: { a: '2' } },
    });
    const err = await core
      .replaceNamespacedConfigMap({ namespace: 'default', name: 'stale', body: { ...cm, data: { a: '3' } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    const ex = err as ApiException<string>;
    expect(ex.code).toBe(409);
    const status = JSON.parse(ex.body) as Json;
    expect(status).toMatchObject({
      kind: 'Status',
      reason: 'Conflict',
      code: 409,
      details: { name: 'stale', kind: 'configmaps' },
    });
    expect(status.message).toContain('the object has been modified');
  });

  it('reads and writes the scale subresource of a Deployment and a custom resource', async () => {
    const labels = { app: 'api' };
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'api' },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'api', image: 'api:1' }] } },
        },
      },
    });
    const scale = await apps.readNamespacedDeploymentScale({ namespace: 'default', name: 'api' });
    expect(scale.apiVersion).toBe('autoscaling/v1');
    expect(scale.spec?.replicas).toBe(2);
    expect(scale.status?.selector).toBe('app=api');
    await apps.patchNamespacedDeploymentScale(
      { namespace: 'default', name: 'api', body: { spec: { replicas: 0 } } },
      merge,
    );
    const scaledDown = await waitFor(
      async () => {
        const d = await apps.readNamespacedDeployment({ namespace: 'default', name: 'api' });
        return d.status?.observedGeneration === 2 && d.status.replicas === undefined ? d : undefined;
      },
      { what: 'the deployment to report zero replicas' },
    );
    expect(scaledDown.spec?.replicas).toBe(0);
    expect(scaledDown.status?.readyReplicas).toBeUndefined();
    const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=api' });
    expect(pods.items).toHaveLength(0);

    await custom.createNamespacedCustomObject({
      group: 'example.com',
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
      body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'scaled' }, spec: { size: 1 } },
    });
    const crScale = (await custom.getNamespacedCustomObjectScale({
      group: 'example.com',
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
      name: 'scaled',
    })) as Json;
    expect(crScale).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', status: { replicas: 0 } });
    await custom.patchNamespacedCustomObjectScale(
      {
        group: 'example.com',
        version: 'v1',
        namespace: 'default',
        plural: 'widgets',
        name: 'scaled',
        body: { spec: { replicas: 4 } },
      },
      merge,
    );
    const widget = (await custom.getNamespacedCustomObject({
      group: 'example.com',
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
      name: 'scaled',
    })) as Json;
    expect(widget.spec.replicas).toBe(4);
    expect(widget.metadata.generation).toBe(2);
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
        return j.status?.conditions?.some(
          (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
        )
          ? j
          : undefined;
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
  });

  it('fails a Job after its backoff limit and records the termination message on the pod', async () => {
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'broken' },
        spec: {
          backoffLimit: 1,
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'c',
                  image: 'x',
                  command: ['sh', '-c', 'echo "disk full" > /dev/termination-log; exit 3'],
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
        return j.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True') ? j : undefined;
      },
      { what: 'the job to fail' },
    );
    expect(job.status?.failed).toBe(2);
    expect(job.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackoffLimitExceeded');
    const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'job-name=broken' });
    expect(pods.items).toHaveLength(2);
    const terminated = pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(3);
    expect(terminated?.message).toBe('disk full\n');
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
        return j.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True') ? j : undefined;
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
    const finished = await waitFor(
      async () => {
        const j = await batch.readNamespacedJob({ namespace: 'default', name: 'short-lived' });
        return j.status?.conditions?.find((c) => c.type === 'Complete' && c.status === 'True');
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
    expect(Date.now() - new Date(finished.lastTransitionTime!).getTime()).toBeGreaterThanOrEqual(900);
  });
});
