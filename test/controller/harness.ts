import { afterAll, beforeAll } from '@jest/globals';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../src/api/v1alpha1/group.js';
import { TransientError, type ReconcileContext } from '../../src/controller/context.js';
import { reconcile } from '../../src/controller/reconcile.js';
import { createKubeClient } from '../../src/kube/client.js';
import type { KubeClient, ObjectRef, StoredSchemaMigration } from '../../src/kube/types.js';
import type { LocalCluster, LocalClusterOptions } from '../../src/localcluster/index.js';
import { freshDatabase } from '../support/db.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { installOperator, startTestCluster, waitFor, type TestCluster } from '../localcluster/support.js';

export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * The local cluster with the project's manifests installed, admin API clients for the test's own objects,
 * the operator's client (its shipped ServiceAccount and RBAC), and every log line the operator wrote.
 */
export interface Harness {
  cluster: LocalCluster;
  test: TestCluster;
  /** The admin's kubeconfig: what the test sets up and inspects. */
  kc: KubeConfig;
  /** The operator's kubeconfig: a token of its ServiceAccount, through the fault proxy. */
  operatorKc: KubeConfig;
  /** That kubeconfig as a file, for an operator process or `loadConfig`. */
  operatorKubeconfigPath: string;
  /** Faults between the operator and kube-apiserver: cut watches, 410 Gone, error and slow answers. */
  faults: FaultProxy;
  /** The operator's client. */
  kube: KubeClient;
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  custom: CustomObjectsApi;
  logs: string[];
  context(kube?: KubeClient): ReconcileContext;
  stop(): Promise<void>;
}

/**
 * The harness for one test file: started before its tests, stopped after them. `use` receives it, for the
 * file's `let h: Harness`.
 */
export function harnessForFile(use: (harness: Harness) => void, options: LocalClusterOptions = {}): void {
  let started: Harness | undefined;
  beforeAll(async () => {
    started = await startHarness(options);
    use(started);
  });
  // Stopping the control plane gives each component its grace period: longer than a hook's default when busy.
  afterAll(async () => {
    await started?.stop();
  }, 120_000);
}

export async function startHarness(options: LocalClusterOptions = {}): Promise<Harness> {
  const test = await startTestCluster({ podReadyDelayMs: 50, ...options });
  const cluster = test.cluster;
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  const { token } = await installOperator(test);
  const faults = await startFaultProxy(cluster.url, cluster.caData, cluster.adminToken);
  const operatorKubeconfigPath = join(test.dir, 'operator-via-proxy.kubeconfig');
  cluster.writeKubeconfig(operatorKubeconfigPath, { token, server: faults.url });
  const operatorKc = new KubeConfig();
  operatorKc.loadFromFile(operatorKubeconfigPath);
  const kube = createKubeClient(operatorKc);
  await waitFor(async () => Array.isArray(await kube.listSchemaMigrations()), {
    what: 'the CRD to be served',
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  return {
    cluster,
    test,
    kc,
    operatorKc,
    operatorKubeconfigPath,
    faults,
    kube,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    logs,
    context: (client = createKubeClient(operatorKc)) => ({ kube: client, log, now: () => new Date() }),
    stop: async () => {
      await faults.close();
      await test.close();
    },
  };
}

export interface Fixture {
  namespace: string;
  databaseUrl: string;
  ref: ObjectRef;
}

export interface FixtureOptions {
  files: Record<string, string>;
  workload?: { kind: 'Deployment' | 'StatefulSet'; replicas: number };
  pvc?: boolean;
}

let counter = 0;

function podTemplate(labels: Record<string, string>) {
  return { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'orders-api:1' }] } };
}

/** A namespace with a database Secret, a migrations ConfigMap, and optionally a workload and a backup PVC. */
export async function createFixture(h: Harness, options: FixtureOptions): Promise<Fixture> {
  const namespace = `shop-${++counter}`;
  const databaseUrl = await freshDatabase('ctl');
  await h.core.createNamespace({ body: { metadata: { name: namespace } } });
  await h.core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'orders-db' }, stringData: { url: databaseUrl } },
  });
  await h.core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: 'orders-migrations' }, data: options.files },
  });
  if (options.workload) {
    const labels = { app: 'orders-api' };
    const spec = {
      replicas: options.workload.replicas,
      selector: { matchLabels: labels },
      template: podTemplate(labels),
    };
    const metadata = { name: 'orders-api' };
    if (options.workload.kind === 'Deployment')
      await h.apps.createNamespacedDeployment({ namespace, body: { metadata, spec } });
    else
      await h.apps.createNamespacedStatefulSet({
        namespace,
        body: { metadata, spec: { ...spec, serviceName: 'orders-api' } },
      });
    await waitFor(
      async () =>
        (await h.kube.getWorkload(options.workload!.kind, { namespace, name: 'orders-api' }))
          ?.currentReplicas === options.workload!.replicas,
      { what: 'the workload to start' },
    );
  }
  if (options.pvc) {
    await h.core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: 'orders-backups' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    });
  }
  return { namespace, databaseUrl, ref: { namespace, name: 'orders' } };
}

/** A SchemaMigration spec for the fixture; override any part. */
export function migrationSpec(
  fixture: FixtureOptions,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    targetRevision: 'latest',
    database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } } },
    migrations: { configMaps: [{ name: 'orders-migrations' }] },
    ...(fixture.workload ? { workload: { kind: fixture.workload.kind, name: 'orders-api' } } : {}),
    ...(fixture.pvc ? { backup: { pvc: 'orders-backups', image: 'postgres:16', retain: 3 } } : {}),
    policy: { allowDataLoss: true },
    ...overrides,
  };
}

export async function createMigration(h: Harness, f: Fixture, spec: Record<string, unknown>): Promise<void> {
  await h.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: f.namespace,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: f.ref.name }, spec },
  });
}

export async function patchMigration(h: Harness, f: Fixture, body: Record<string, unknown>): Promise<void> {
  await h.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace: f.namespace, plural: PLURAL, name: f.ref.name, body },
    mergePatch,
  );
}

/** What a test sees at each pass of the loop: the object and the workload's replicas. */
export interface Tick {
  object: StoredSchemaMigration | undefined;
  replicas: number | undefined;
}

/**
 * Runs reconciles as the work queue would (requeues and backoff shortened) until the condition holds,
 * failing at the deadline. Returns the workload's replicas seen at each pass.
 */
export async function converge(
  h: Harness,
  f: Fixture,
  until: (object: StoredSchemaMigration | undefined) => boolean,
  options: { ctx?: ReconcileContext; timeoutMs?: number; workload?: 'Deployment' | 'StatefulSet' } = {},
): Promise<number[]> {
  const ctx = options.ctx ?? h.context();
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const replicas: number[] = [];
  for (;;) {
    let wait = 20;
    try {
      const result = await reconcile(ctx, f.ref);
      if (result.requeueAfterMs !== undefined) wait = Math.min(result.requeueAfterMs, 50);
    } catch (err) {
      if (!(err instanceof TransientError)) throw err;
      wait = 50;
    }
    const object = await h.kube.getSchemaMigration(f.ref);
    if (options.workload) {
      const state = await h.kube.getWorkload(options.workload, {
        namespace: f.namespace,
        name: 'orders-api',
      });
      if (state) replicas.push(state.currentReplicas);
    }
    if (until(object)) return replicas;
    if (Date.now() > deadline) {
      throw new Error(`did not converge; status: ${JSON.stringify(object?.status)}`);
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}

/**
 * Every version of the fixture's SchemaMigration the API server stored, in order, from a watch opened before the
 * run (so no write is missed, however quickly the next one follows).
 */
export async function recordVersions(
  h: Harness,
  f: Fixture,
): Promise<{ seen: () => StoredSchemaMigration[]; stop: () => void }> {
  const seen: StoredSchemaMigration[] = [];
  const request = await new Watch(h.kc).watch(
    `/apis/${GROUP}/${VERSION}/namespaces/${f.namespace}/${PLURAL}`,
    { fieldSelector: `metadata.name=${f.ref.name}` },
    (_type, object: StoredSchemaMigration) => seen.push(object),
    () => undefined,
  );
  return { seen: () => [...seen], stop: () => request.abort() };
}

/** Every status.phase the API server stored for the fixture's SchemaMigration, in order (see recordVersions). */
export async function recordPhases(
  h: Harness,
  f: Fixture,
): Promise<{ phases: () => string[]; stop: () => void }> {
  const versions = await recordVersions(h, f);
  const phases = () => versions.seen().flatMap((o) => (o.status?.phase ? [o.status.phase] : []));
  return { phases, stop: versions.stop };
}

/**
 * How many pods of the fixture's workload existed after each pod event, from a watch opened before the run: a
 * moment with none is seen however briefly it lasted.
 */
export async function recordPodCounts(
  h: Harness,
  f: Fixture,
): Promise<{ counts: () => number[]; stop: () => void }> {
  const alive = new Set<string>();
  const counts: number[] = [];
  const request = await new Watch(h.kc).watch(
    `/api/v1/namespaces/${f.namespace}/pods`,
    { labelSelector: 'app=orders-api' },
    (type, pod: { metadata?: { name?: string } }) => {
      const name = pod.metadata?.name ?? '';
      if (type === 'DELETED') alive.delete(name);
      else alive.add(name);
      counts.push(alive.size);
    },
    () => undefined,
  );
  return { counts: () => [...counts], stop: () => request.abort() };
}

/** Consecutive repeats folded into one: the phases a person watching would see change. */
export const transitions = (phases: readonly string[]) => phases.filter((p, i) => p !== phases[i - 1]);

export const condition = (object: StoredSchemaMigration | undefined, type: string) =>
  object?.status?.conditions?.find((c) => c.type === type);

export const isReady = (object: StoredSchemaMigration | undefined) =>
  condition(object, 'Ready')?.status === 'True' &&
  object?.status?.observedGeneration === object?.metadata.generation;

export const isStalled = (object: StoredSchemaMigration | undefined) =>
  condition(object, 'Stalled')?.status === 'True';

/** The backup Job a run with a workload starts once it is down (the touched tables, or a full fallback). */
export const whileDownBackup = (job: {
  spec?: { template?: { spec?: { containers?: { env?: { name: string }[] }[] } } };
}) =>
  job.spec?.template?.spec?.containers?.[0]?.env?.some((e) => e.name === 'SCOPE' || e.name === 'FALLBACK') ===
  true;

export async function listBackupJobs(h: Harness, f: Fixture): Promise<string[]> {
  const jobs = await h.batch.listNamespacedJob({ namespace: f.namespace });
  return jobs.items.map((j) => j.metadata?.name ?? '').sort();
}

export { freshDatabase };

/** Thrown by a client from stopsAt: the operator "stopped" there (a crash, a lost write). */
export class OperatorStopped extends Error {}

/** A client that stops the operator (throws) the first time `method` is called with arguments that match. */
export function stopsAt<K extends keyof KubeClient>(
  kube: KubeClient,
  method: K,
  when: (...args: Parameters<KubeClient[K]>) => boolean = () => true,
): KubeClient {
  let stopped = false;
  return new Proxy(kube, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== method || typeof value !== 'function') return value;
      return (...args: Parameters<KubeClient[K]>) => {
        if (!stopped && when(...args)) {
          stopped = true;
          throw new OperatorStopped(`operator stopped before ${String(method)}`);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Runs reconciles with `kube` until it stops the operator; fails if it never does. */
export async function runUntilStopped(h: Harness, f: Fixture, kube: KubeClient): Promise<void> {
  let stopped: unknown;
  try {
    await converge(h, f, () => false, { ctx: h.context(kube), timeoutMs: 20_000 });
  } catch (err) {
    stopped = err;
  }
  if (stopped instanceof OperatorStopped) return;
  throw stopped instanceof Error ? stopped : new Error('the operator never stopped');
}

/** A Deployment of the fixture's namespace as the operator sees it. */
export function deployment(h: Harness, f: Fixture, name = 'orders-api') {
  return h.kube.getWorkload('Deployment', { namespace: f.namespace, name });
}

/** Another Deployment in the fixture's namespace (its own labels), waited for until its pods exist. */
export async function createDeployment(
  h: Harness,
  f: Fixture,
  deploy: { name: string; replicas: number; spec?: Record<string, unknown> },
): Promise<void> {
  const { name, replicas, spec = {} } = deploy;
  const labels = { app: name };
  await h.apps.createNamespacedDeployment({
    namespace: f.namespace,
    body: {
      metadata: { name },
      spec: { replicas, selector: { matchLabels: labels }, template: podTemplate(labels), ...spec },
    },
  });
  await waitFor(async () => (await deployment(h, f, name))?.currentReplicas === replicas, {
    what: `Deployment ${name} to start`,
  });
}

export async function deleteMigration(h: Harness, f: Fixture): Promise<void> {
  await h.custom.deleteNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    namespace: f.namespace,
    name: f.ref.name,
  });
}
