import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION } from '../api/v1alpha1/group.js';
import { Label, MANAGED_BY } from '../api/v1alpha1/keys.js';
import type { ObjectRef } from './types.js';

export interface WatchOptions {
  /** Namespaces to watch; every namespace when empty. */
  readonly namespaces: readonly string[];
  /** Every this often, every known SchemaMigration is handed over again. */
  readonly resyncPeriodMs: number;
  /** A watch that has delivered nothing for this long is restarted. */
  readonly idleTimeoutMs: number;
  readonly log: Logger;
}

export interface Watches {
  /** Resolves once every informer has listed (the first sync). */
  readonly synced: Promise<void>;
  isSynced(): boolean;
  stop(): Promise<void>;
}

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

type AnyInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

/**
 * Keeps an informer running: restarted with exponential backoff after an error, and restarted when it has
 * been silent for longer than the idle bound (a watch that went quiet without closing).
 */
class SupervisedInformer {
  readonly informer: AnyInformer;
  readonly first: Promise<void>;
  private readonly what: string;
  private readonly log: Logger;
  private delay = RESTART_MIN_MS;
  private lastActivity = Date.now();
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(informer: AnyInformer, what: string, log: Logger) {
    this.informer = informer;
    this.what = what;
    this.log = log;
    const touch = () => {
      this.lastActivity = Date.now();
    };
    informer.on('connect', () => {
      touch();
      this.delay = RESTART_MIN_MS;
    });
    for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, touch);
    informer.on('error', (err: unknown) => this.restartLater(err));
    this.first = informer.start();
  }

  private restartLater(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
    // The library's own message carries the whole response; the status code says enough.
    const code = (err as { code?: unknown } | undefined)?.code;
    const message =
      typeof code === 'number' ? `HTTP ${code}` : err instanceof Error ? err.message : String(err);
    this.log.warn({ watch: this.what, err: message, retryInMs: this.delay }, 'watch failed; restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.lastActivity = Date.now();
      this.informer.start().catch((e: unknown) => this.restartLater(e));
    }, this.delay);
    this.delay = Math.min(this.delay * 2, RESTART_MAX_MS);
  }

  /** Restarts the informer when it has been silent too long. */
  async checkIdle(idleTimeoutMs: number): Promise<void> {
    if (this.stopped || this.restartTimer || Date.now() - this.lastActivity < idleTimeoutMs) return;
    this.log.info({ watch: this.what, idleMs: Date.now() - this.lastActivity }, 'watch silent; restarting');
    this.lastActivity = Date.now();
    await this.informer.stop();
    this.informer.start().catch((e: unknown) => this.restartLater(e));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }
}

function refOf(object: KubernetesObject): ObjectRef | undefined {
  const { namespace, name } = object.metadata ?? {};
  return namespace && name ? { namespace, name } : undefined;
}

function migrationInformer(kc: KubeConfig, namespace: string | undefined): AnyInformer {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const base = `/apis/${GROUP}/${VERSION}`;
  const path = namespace ? `${base}/namespaces/${namespace}/${PLURAL}` : `${base}/${PLURAL}`;
  const list = () =>
    (namespace
      ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace })
      : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as Promise<
      KubernetesListObject<KubernetesObject>
    >;
  return makeInformer(kc, path, list);
}

function jobInformer(kc: KubeConfig, namespace: string | undefined): AnyInformer {
  const batch = kc.makeApiClient(BatchV1Api);
  const selector = `${Label.managedBy}=${MANAGED_BY}`;
  const path = namespace ? `/apis/batch/v1/namespaces/${namespace}/jobs` : '/apis/batch/v1/jobs';
  const list = () =>
    namespace
      ? batch.listNamespacedJob({ namespace, labelSelector: selector })
      : batch.listJobForAllNamespaces({ labelSelector: selector });
  return makeInformer<V1Job>(kc, path, list, selector);
}

/** Whether a Job has finished: Complete or Failed. */
function jobEnded(job: KubernetesObject): boolean {
  const conditions = (job as V1Job).status?.conditions ?? [];
  return conditions.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

/** A pod of one of the operator's Jobs that has ended (Succeeded or Failed). */
function jobPodEnded(pod: KubernetesObject): boolean {
  const phase = (pod as V1Pod).status?.phase;
  return (
    pod.metadata?.labels?.[Label.managedBy] === MANAGED_BY && (phase === 'Succeeded' || phase === 'Failed')
  );
}

type WorkloadResource = 'deployments' | 'statefulsets';
const KIND_OF: Record<WorkloadResource, string> = { deployments: 'Deployment', statefulsets: 'StatefulSet' };

function workloadInformer(
  kc: KubeConfig,
  namespace: string | undefined,
  resource: WorkloadResource,
): AnyInformer {
  const apps = kc.makeApiClient(AppsV1Api);
  const path = namespace ? `/apis/apps/v1/namespaces/${namespace}/${resource}` : `/apis/apps/v1/${resource}`;
  const list = (): Promise<KubernetesListObject<KubernetesObject>> => {
    if (resource === 'deployments')
      return namespace ? apps.listNamespacedDeployment({ namespace }) : apps.listDeploymentForAllNamespaces();
    return namespace ? apps.listNamespacedStatefulSet({ namespace }) : apps.listStatefulSetForAllNamespaces();
  };
  return makeInformer<KubernetesObject>(kc, path, list);
}

function podInformer(kc: KubeConfig, namespace: string | undefined): AnyInformer {
  const core = kc.makeApiClient(CoreV1Api);
  const path = namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
  const list = () => (namespace ? core.listNamespacedPod({ namespace }) : core.listPodForAllNamespaces());
  return makeInformer<KubernetesObject>(kc, path, list);
}

interface HeldWorkload {
  spec?: { workload?: { kind?: string; name?: string } };
  status?: {
    workload?: { kind?: string; name?: string };
    plan?: { workload?: { kind?: string; name?: string } };
  };
}

/** Whether a SchemaMigration's run names this workload: the one it scaled down, or the one its plan acts on. */
export function holdsWorkload(object: KubernetesObject, kind: string, name: string): boolean {
  const { spec, status } = object as HeldWorkload;
  const recorded = status?.workload;
  if (
    recorded &&
    (recorded.kind ?? spec?.workload?.kind) === kind &&
    (recorded.name ?? spec?.workload?.name) === name
  )
    return true;
  const planned = status?.plan?.workload;
  return planned?.kind === kind && planned.name === name;
}

/** Whether a SchemaMigration holds a workload down (or is bringing it back): its pods going away matter. */
function holdsAnyWorkload(object: KubernetesObject): boolean {
  return (object as HeldWorkload).status?.workload !== undefined;
}

/**
 * Watches SchemaMigrations, the backup Jobs the operator owns, and the Deployments, StatefulSets and Pods of
 * the workloads runs hold (in the given namespaces, or all), calling `changed` with the SchemaMigration each
 * event concerns, and again for every one at each resync.
 */
export function watchSchemaMigrations(
  kc: KubeConfig,
  options: WatchOptions,
  changed: (ref: ObjectRef, cause: 'event' | 'resync') => void,
): Watches {
  const scopes = options.namespaces.length > 0 ? [...options.namespaces] : [undefined];
  const onMigration = (object: KubernetesObject) => {
    const ref = refOf(object);
    if (ref) changed(ref, 'event');
  };
  const onJob = (job: KubernetesObject) => {
    const owner = job.metadata?.labels?.[Label.migration];
    if (owner && job.metadata?.namespace)
      changed({ namespace: job.metadata.namespace, name: owner }, 'event');
  };
  // A Job's progress (pods started, ready) changes nothing for its run: only its end does, or its going away.
  const onJobEnd = (job: KubernetesObject) => {
    if (jobEnded(job)) onJob(job);
  };
  const migrations = scopes.map((ns) => migrationInformer(kc, ns));
  const jobs = scopes.map((ns) => jobInformer(kc, ns));
  // A run waiting for its workload's pods to go or to come back wakes on the change, not on a poll.
  const wake = (namespace: string | undefined, holds: (object: KubernetesObject) => boolean) => {
    if (!namespace) return;
    for (const informer of migrations)
      for (const object of informer.list(namespace)) {
        const ref = refOf(object);
        if (ref && holds(object)) changed(ref, 'event');
      }
  };
  const onWorkload = (resource: WorkloadResource) => (object: KubernetesObject) => {
    const name = object.metadata?.name;
    if (name) wake(object.metadata?.namespace, (o) => holdsWorkload(o, KIND_OF[resource], name));
  };
  const onPod = (pod: KubernetesObject) => wake(pod.metadata?.namespace, holdsAnyWorkload);
  const workloads = scopes.flatMap((ns) =>
    (['deployments', 'statefulsets'] as const).map((resource) => ({
      resource,
      scope: ns,
      informer: workloadInformer(kc, ns, resource),
    })),
  );
  const pods = scopes.map((ns) => podInformer(kc, ns));
  for (const verb of ['add', 'update', 'delete'] as const) {
    migrations.forEach((i) => i.on(verb, onMigration));
    jobs.forEach((i) => i.on(verb, verb === 'delete' ? onJob : onJobEnd));
    workloads.forEach((w) => w.informer.on(verb, onWorkload(w.resource)));
  }
  // Only a pod gone matters (a scale-down waits for the last one); readiness shows in the workload's status.
  pods.forEach((i) => i.on('delete', onPod));
  // The pod of a backup or restore Job that ended: its run goes on at once, not when the Job is marked.
  pods.forEach((i) => i.on('update', (pod) => (jobPodEnded(pod) ? onJob(pod) : undefined)));
  const supervised = [
    ...migrations.map(
      (i, n) => new SupervisedInformer(i, `schemamigrations@${scopes[n] ?? 'all'}`, options.log),
    ),
    ...jobs.map((i, n) => new SupervisedInformer(i, `jobs@${scopes[n] ?? 'all'}`, options.log)),
    ...workloads.map(
      (w) => new SupervisedInformer(w.informer, `${w.resource}@${w.scope ?? 'all'}`, options.log),
    ),
    ...pods.map((i, n) => new SupervisedInformer(i, `pods@${scopes[n] ?? 'all'}`, options.log)),
  ];
  let synced = false;
  const first = Promise.all(supervised.map((s) => s.first)).then(() => {
    synced = true;
  });
  const resync = setInterval(() => {
    for (const informer of migrations) {
      for (const ref of informer.list().map(refOf)) if (ref) changed(ref, 'resync');
    }
  }, options.resyncPeriodMs);
  const watchdog = setInterval(
    () => void Promise.all(supervised.map((s) => s.checkIdle(options.idleTimeoutMs))).catch(() => undefined),
    Math.max(100, Math.min(options.idleTimeoutMs / 4, 30_000)),
  );
  return {
    synced: first,
    isSynced: () => synced,
    stop: async () => {
      clearInterval(resync);
      clearInterval(watchdog);
      await Promise.all(supervised.map((s) => s.stop()));
    },
  };
}
