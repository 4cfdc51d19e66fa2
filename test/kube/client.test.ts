import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Job,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../src/api/v1alpha1/group.js';
import { createKubeClient, loadKubeConfig } from '../../src/kube/client.js';
import {
  isAlreadyExists,
  isConflict,
  isNotFound,
  KubeApiError,
  type KubeClient,
  type StoredSchemaMigration,
} from '../../src/kube/types.js';
import { RUN_COMMAND_ANNOTATION } from '../../src/localcluster/index.js';
import { applyShippedCrd } from '../localcluster/support.js';
import { startClusterWithFaults, type ClusterWithFaults } from '../support/fault-proxy.js';
import { waitFor } from '../localcluster/support.js';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const ns = 'kube-client';

let cluster: ClusterWithFaults;
let kc: KubeConfig;
let client: KubeClient;
let core: CoreV1Api;
let apps: AppsV1Api;
let custom: CustomObjectsApi;

const migrationSpec = {
  targetRevision: '1732200000000_add-orders-index',
  database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } } },
  migrations: { configMaps: [{ name: 'orders-migrations' }] },
};

async function createMigration(namespace: string, name: string): Promise<StoredSchemaMigration> {
  const body = { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, spec: migrationSpec };
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body,
  });
  const stored = await client.getSchemaMigration({ namespace, name });
  if (!stored) throw new Error(`SchemaMigration ${namespace}/${name} was not stored`);
  return stored;
}

async function createNamespace(name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
}

function podTemplate(labels: Record<string, string>) {
  return { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'app:1' }] } };
}

beforeAll(async () => {
  cluster = await startClusterWithFaults();
  kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  client = createKubeClient(kc);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  await applyShippedCrd(cluster.cluster.kubeconfig());
  // A new CRD is served a moment after it is created.
  await waitFor(async () => Array.isArray(await client.listSchemaMigrations()), {
    what: 'the SchemaMigration CRD to be served',
  });
  await createNamespace(ns);
});

afterAll(async () => {
  await cluster.stop();
});

describe('loadKubeConfig', () => {
  it('loads the kubeconfig file it is given, and otherwise the one KUBECONFIG names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kube-client-test-'));
    const path = join(dir, 'kubeconfig');
    const previous = process.env.KUBECONFIG;
    try {
      cluster.writeKubeconfig(path, { namespace: 'elsewhere' });
      const fromFile = loadKubeConfig({ kubeconfigPath: path });
      expect(fromFile.getCurrentCluster()?.server).toBe(cluster.url);
      expect(fromFile.getContextObject(fromFile.getCurrentContext())?.namespace).toBe('elsewhere');

      process.env.KUBECONFIG = path;
      expect(loadKubeConfig().getCurrentCluster()?.server).toBe(cluster.url);
    } finally {
      if (previous === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = previous;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SchemaMigrations', () => {
  it('gets one SchemaMigration, and undefined for a missing one', async () => {
    await createMigration(ns, 'orders');
    const stored = await client.getSchemaMigration({ namespace: ns, name: 'orders' });
    expect(stored).toMatchObject({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: 'orders', namespace: ns },
      spec: migrationSpec,
    });
    expect(stored?.metadata.uid).toEqual(expect.any(String));
    expect(stored?.metadata.resourceVersion).toEqual(expect.any(String));
    await expect(client.getSchemaMigration({ namespace: ns, name: 'missing' })).resolves.toBeUndefined();
  });

  it('lists the SchemaMigrations of one namespace, or of all of them', async () => {
    await createNamespace('list-a');
    await createNamespace('list-b');
    await createMigration('list-a', 'first');
    await createMigration('list-a', 'second');
    await createMigration('list-b', 'third');

    const inA = await client.listSchemaMigrations('list-a');
    expect(inA.map((m) => m.metadata.name).sort()).toEqual(['first', 'second']);
    expect(await client.listSchemaMigrations('list-empty')).toEqual([]);
    const everywhere = await client.listSchemaMigrations();
    expect(everywhere.map((m) => `${m.metadata.namespace}/${m.metadata.name}`)).toEqual(
      expect.arrayContaining(['list-a/first', 'list-a/second', 'list-b/third']),
    );
  });

  it('merge-patches only the status, deletes fields set to null, and refuses a stale resourceVersion', async () => {
    const created = await createMigration(ns, 'status');

    const patched = await client.patchSchemaMigrationStatus(
      { namespace: ns, name: 'status' },
      { phase: 'Pending', currentRevision: 'base', observedGeneration: 1 },
      created.metadata.resourceVersion,
    );
    expect(patched.status).toEqual({ phase: 'Pending', currentRevision: 'base', observedGeneration: 1 });
    expect(patched.spec).toMatchObject(migrationSpec);
    expect(patched.metadata.generation).toBe(created.metadata.generation);
    expect(patched.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);

    const stale = await client
      .patchSchemaMigrationStatus(
        { namespace: ns, name: 'status' },
        { phase: 'Failed' },
        created.metadata.resourceVersion,
      )
      .catch((err: unknown) => err);
    expect(stale).toBeInstanceOf(KubeApiError);
    expect(stale).toMatchObject({ status: 409, reason: 'Conflict' });
    expect(isConflict(stale)).toBe(true);

    const cleared = await client.patchSchemaMigrationStatus(
      { namespace: ns, name: 'status' },
      { currentRevision: null },
      undefined,
    );
    expect(cleared.status).toEqual({ phase: 'Pending', observedGeneration: 1 });
    const reread = await client.getSchemaMigration({ namespace: ns, name: 'status' });
    expect(reread?.status).toEqual({ phase: 'Pending', observedGeneration: 1 });
    expect(reread?.spec).toMatchObject(migrationSpec);
  });

  it('fails a status patch of a missing SchemaMigration with NotFound', async () => {
    const err = await client
      .patchSchemaMigrationStatus({ namespace: ns, name: 'missing' }, { phase: 'Pending' }, undefined)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 404, reason: 'NotFound' });
    expect(isNotFound(err)).toBe(true);
  });

  it('sets and clears the finalizers, with the resourceVersion as a precondition', async () => {
    const ref = { namespace: ns, name: 'finalized' };
    const created = await createMigration(ns, 'finalized');

    const withFinalizer = await client.setSchemaMigrationFinalizers(
      ref,
      ['schemaops.dev/cleanup'],
      created.metadata.resourceVersion,
    );
    expect(withFinalizer.metadata.finalizers).toEqual(['schemaops.dev/cleanup']);
    expect((await client.getSchemaMigration(ref))?.metadata.finalizers).toEqual(['schemaops.dev/cleanup']);

    const stale = await client
      .setSchemaMigrationFinalizers(ref, [], created.metadata.resourceVersion)
      .catch((err: unknown) => err);
    expect(isConflict(stale)).toBe(true);

    const cleared = await client.setSchemaMigrationFinalizers(
      ref,
      [],
      withFinalizer.metadata.resourceVersion,
    );
    expect(cleared.metadata.finalizers ?? []).toEqual([]);
    expect((await client.getSchemaMigration(ref))?.metadata.finalizers ?? []).toEqual([]);
  });
});

describe('Secrets, ConfigMaps and PVCs', () => {
  it('reads a Secret key, a missing key and a missing Secret', async () => {
    const url = 'postgres://app:s3cret@db:5432/orders';
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'orders-db' }, data: { url: Buffer.from(url).toString('base64') } },
    });
    await expect(client.getSecretValue({ namespace: ns, name: 'orders-db' }, 'url')).resolves.toEqual({
      found: true,
      value: url,
    });
    await expect(client.getSecretValue({ namespace: ns, name: 'orders-db' }, 'password')).resolves.toEqual({
      found: true,
      value: undefined,
    });
    await expect(client.getSecretValue({ namespace: ns, name: 'other-db' }, 'url')).resolves.toEqual({
      found: false,
    });
  });

  it('turns a server error on a Secret read into a KubeApiError that carries no Secret data', async () => {
    cluster.faults.failNext({ path: `/api/v1/namespaces/${ns}/secrets/orders-db`, status: 500 });
    const err = await client
      .getSecretValue({ namespace: ns, name: 'orders-db' }, 'url')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 500, reason: 'InternalError' });
    expect((err as Error).message).not.toMatch(/s3cret|HTTP-Code|Headers/);
  });

  it('reads one ConfigMap and lists those matching labels, sorted by name', async () => {
    const labels = { app: 'orders', part: 'migrations' };
    for (const [name, metaLabels] of [
      ['orders-2', labels],
      ['orders-1', labels],
      ['orders-other', { app: 'orders' }],
    ] as const) {
      await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name, labels: metaLabels }, data: { [`${name}.sql`]: 'SELECT 1;' } },
      });
    }
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'empty' } } });

    await expect(client.getConfigMapData({ namespace: ns, name: 'orders-1' })).resolves.toEqual({
      'orders-1.sql': 'SELECT 1;',
    });
    await expect(client.getConfigMapData({ namespace: ns, name: 'empty' })).resolves.toEqual({});
    await expect(client.getConfigMapData({ namespace: ns, name: 'missing' })).resolves.toBeUndefined();
    await expect(client.listConfigMapData(ns, labels)).resolves.toEqual([
      { name: 'orders-1', data: { 'orders-1.sql': 'SELECT 1;' } },
      { name: 'orders-2', data: { 'orders-2.sql': 'SELECT 1;' } },
    ]);
    await expect(client.listConfigMapData(ns, { app: 'nothing' })).resolves.toEqual([]);
  });

  it('reads binaryData too, as bytes beside the text of data', async () => {
    const sql = Buffer.from('-- Up Migration\nCREATE TABLE café (id int);\n', 'utf8');
    const latin1 = Buffer.from([0x2d, 0x2d, 0x20, 0xe9, 0x0a]);
    const labels = { app: 'orders', part: 'binary-migrations' };
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: { name: 'orders-binary', labels },
        data: { '1_text.sql': 'SELECT 1;' },
        binaryData: { '2_utf8.sql': sql.toString('base64'), '3_latin1.sql': latin1.toString('base64') },
      },
    });
    const expected = { '1_text.sql': 'SELECT 1;', '2_utf8.sql': sql, '3_latin1.sql': latin1 };
    const read = await client.getConfigMapData({ namespace: ns, name: 'orders-binary' });
    expect(read).toEqual(expected);
    expect(Buffer.isBuffer(read?.['2_utf8.sql'])).toBe(true);
    await expect(client.listConfigMapData(ns, labels)).resolves.toEqual([
      { name: 'orders-binary', data: expected },
    ]);
  });

  it('tells whether a PersistentVolumeClaim exists', async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'orders-backups' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    });
    await expect(client.pvcExists({ namespace: ns, name: 'orders-backups' })).resolves.toBe(true);
    await expect(client.pvcExists({ namespace: ns, name: 'missing' })).resolves.toBe(false);
  });
});

describe('workloads', () => {
  it('reads, scales down and annotates a Deployment', async () => {
    const ref = { namespace: ns, name: 'orders-api' };
    const labels = { app: 'orders-api' };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: ref.name, annotations: { owner: 'shop' } },
        spec: { replicas: 3, selector: { matchLabels: labels }, template: podTemplate(labels) },
      },
    });
    await expect(
      client.getWorkload('Deployment', { namespace: ns, name: 'missing' }),
    ).resolves.toBeUndefined();
    const up = await waitFor(
      async () => {
        const state = await client.getWorkload('Deployment', ref);
        return state?.availableReplicas === 3 ? state : undefined;
      },
      { what: 'the Deployment to reach 3 available replicas' },
    );
    expect(up).toMatchObject({
      replicas: 3,
      currentReplicas: 3,
      availableReplicas: 3,
      annotations: { owner: 'shop' },
    });

    await client.scaleWorkload('Deployment', ref, 0);
    expect((await client.getWorkload('Deployment', ref))?.replicas).toBe(0);
    const down = await waitFor(
      async () => {
        const state = await client.getWorkload('Deployment', ref);
        return state?.currentReplicas === 0 ? state : undefined;
      },
      { what: 'the Deployment to scale down' },
    );
    expect(down.replicas).toBe(0);

    await client.annotateWorkload('Deployment', ref, { 'schemaops.dev/original-replicas': '3' });
    expect((await client.getWorkload('Deployment', ref))?.annotations).toMatchObject({
      owner: 'shop',
      'schemaops.dev/original-replicas': '3',
    });
    await client.annotateWorkload('Deployment', ref, { 'schemaops.dev/original-replicas': null });
    const annotations = (await client.getWorkload('Deployment', ref))?.annotations;
    expect(annotations).toMatchObject({ owner: 'shop' });
    expect(annotations).not.toHaveProperty(['schemaops.dev/original-replicas']);
  });

  it('counts a terminating pod as still there after scale-down, though status.replicas already says 0', async () => {
    const ref = { namespace: ns, name: 'slow-stop' };
    const labels = { app: 'slow-stop' };
    const template = {
      metadata: { labels, annotations: { [RUN_COMMAND_ANNOTATION]: 'true' } },
      spec: {
        containers: [
          {
            name: 'app',
            image: 'app:1',
            // Serves until SIGTERM, then takes a moment to drain, as a real app does.
            command: ['sh', '-c', "trap 'sleep 2; exit 0' TERM; while true; do sleep 0.1; done"],
          },
        ],
      },
    };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: ref.name },
        spec: { replicas: 1, selector: { matchLabels: labels }, template },
      },
    });
    await waitFor(async () => (await client.getWorkload('Deployment', ref))?.availableReplicas === 1, {
      what: 'the pod to serve',
    });
    await client.scaleWorkload('Deployment', ref, 0);
    const draining = await waitFor(
      async () => {
        const deployment = await apps.readNamespacedDeployment(ref);
        return (deployment.status?.replicas ?? 0) === 0
          ? await client.getWorkload('Deployment', ref)
          : undefined;
      },
      { what: 'status.replicas to reach 0' },
    );
    expect(draining?.currentReplicas).toBe(1);
    await waitFor(async () => (await client.getWorkload('Deployment', ref))?.currentReplicas === 0, {
      what: 'the terminating pod to be gone',
    });
  });

  it('reads, scales and annotates a StatefulSet, with replicas defaulting to 1', async () => {
    const ref = { namespace: ns, name: 'orders-db' };
    const labels = { app: 'orders-db' };
    await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: ref.name },
        spec: { serviceName: 'orders-db', selector: { matchLabels: labels }, template: podTemplate(labels) },
      },
    });
    const up = await waitFor(
      async () => {
        const state = await client.getWorkload('StatefulSet', ref);
        return state?.availableReplicas === 1 ? state : undefined;
      },
      { what: 'the StatefulSet to reach 1 available replica' },
    );
    expect(up).toEqual({
      uid: expect.any(String),
      replicas: 1,
      currentReplicas: 1,
      availableReplicas: 1,
      annotations: {},
    });

    await client.scaleWorkload('StatefulSet', ref, 0);
    await waitFor(
      async () => {
        const state = await client.getWorkload('StatefulSet', ref);
        return state?.currentReplicas === 0 && state.availableReplicas === 0;
      },
      { what: 'the StatefulSet to scale down' },
    );
    await client.annotateWorkload('StatefulSet', ref, { 'schemaops.dev/paused': 'true' });
    expect(await client.getWorkload('StatefulSet', ref)).toEqual({
      uid: up.uid,
      replicas: 0,
      currentReplicas: 0,
      availableReplicas: 0,
      annotations: { 'schemaops.dev/paused': 'true' },
    });
    await client.annotateWorkload('StatefulSet', ref, { 'schemaops.dev/paused': null });
    expect((await client.getWorkload('StatefulSet', ref))?.annotations).toEqual({});
  });

  it('fails to scale a missing workload with NotFound', async () => {
    const err = await client
      .scaleWorkload('StatefulSet', { namespace: ns, name: 'missing' }, 1)
      .catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
  });
});

describe('Jobs', () => {
  function job(name: string, script: string): V1Job {
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: ns },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [{ name: 'migrate', image: 'postgres:16', command: ['/bin/sh', '-c', script] }],
          },
        },
      },
    };
  }

  it('creates a Job, reports AlreadyExists for a second create, and reads it back', async () => {
    const created = await client.createJob(job('create-once', 'true'));
    expect(created.metadata?.uid).toEqual(expect.any(String));

    const again = await client.createJob(job('create-once', 'true')).catch((err: unknown) => err);
    expect(again).toBeInstanceOf(KubeApiError);
    expect(again).toMatchObject({ status: 409, reason: 'AlreadyExists' });
    expect(isAlreadyExists(again)).toBe(true);
    expect(isConflict(again)).toBe(false);

    const read = await client.getJob({ namespace: ns, name: 'create-once' });
    expect(read?.metadata?.uid).toBe(created.metadata?.uid);
    await expect(client.getJob({ namespace: ns, name: 'missing' })).resolves.toBeUndefined();
  });

  it('rejects a Job without a namespace', async () => {
    const orphan = job('orphan', 'true');
    delete orphan.metadata?.namespace;
    await expect(client.createJob(orphan)).rejects.toMatchObject({ status: 400, reason: 'BadRequest' });
  });

  it('returns the termination message its pod wrote once the Job completes', async () => {
    const ref = { namespace: ns, name: 'report' };
    await expect(client.getJobPodEnd(ref)).resolves.toBeUndefined();
    await client.createJob(job('report', 'printf "migrated to 0003" > /dev/termination-log'));
    const done = await waitFor(
      async () => {
        const read = await client.getJob(ref);
        return read?.status?.succeeded === 1 ? read : undefined;
      },
      { what: 'the Job to complete', timeoutMs: 20_000 },
    );
    expect(done.status?.failed ?? 0).toBe(0);
    await expect(client.getJobPodEnd(ref)).resolves.toEqual({ exitCode: 0, message: 'migrated to 0003' });
  });

  it("says how a Job's pod ended: a failing one's exit code and message", async () => {
    const ref = { namespace: ns, name: 'broken' };
    await expect(client.getJobPodEnd(ref)).resolves.toBeUndefined();
    await client.createJob(job('broken', 'printf "no such table" > /dev/termination-log; exit 3'));
    const end = await waitFor(() => client.getJobPodEnd(ref), {
      what: 'the pod to end',
      timeoutMs: 20_000,
    });
    expect(end).toEqual({ exitCode: 3, message: 'no such table' });
  });

  it('picks the newest terminated pod, found by the batch.kubernetes.io/job-name label', async () => {
    const labels = { 'batch.kubernetes.io/job-name': 'legacy' };
    const pods: [string, string | undefined][] = [
      ['legacy-old', '2026-01-01T10:00:00Z'],
      ['legacy-new', '2026-01-01T10:05:00Z'],
      ['legacy-running', undefined],
    ];
    for (const [name, finishedAt] of pods) {
      await core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name, labels },
          spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'postgres:16' }] },
        },
      });
      const state = finishedAt
        ? { terminated: { exitCode: 0, finishedAt, message: `from ${name}` } }
        : { running: { startedAt: '2026-01-01T10:06:00Z' } };
      await core.patchNamespacedPodStatus(
        {
          namespace: ns,
          name,
          body: {
            status: {
              containerStatuses: [
                { name: 'migrate', image: 'postgres:16', imageID: '', ready: false, restartCount: 0, state },
              ],
            },
          },
        },
        merge,
      );
    }
    await expect(client.getJobPodEnd({ namespace: ns, name: 'legacy' })).resolves.toEqual({
      exitCode: 0,
      message: 'from legacy-new',
    });
  });
});

describe('errors', () => {
  it('turns a connection failure into a KubeApiError with status 0', async () => {
    const unreachable = new KubeConfig();
    unreachable.loadFromString(cluster.kubeconfig().replace(cluster.url, 'http://127.0.0.1:1'));
    const err = await createKubeClient(unreachable)
      .getConfigMapData({ namespace: ns, name: 'orders-1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 0, reason: 'Unknown' });
  });
});
