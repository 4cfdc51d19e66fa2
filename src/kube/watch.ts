import {
  BatchV1Api,
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Job,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION } from '../api/v1alpha1/group.js';
import { Label, MANAGED_BY } from '../api/v1alpha1/keys.js';
import type { ObjectRef } from './types.js';

export interface Watches {
  /** Resolves once every informer has listed (the first sync). */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

/** Runs an informer forever: on any error it is restarted with exponential backoff, never left stopped. */
function keepRunning<T extends KubernetesObject>(
  informer: Informer<T>,
  what: string,
  log: Logger,
): { first: Promise<void>; stop: () => Promise<void> } {
  let stopped = false;
  let delay = RESTART_MIN_MS;
  let timer: NodeJS.Timeout | undefined;
  informer.on('connect', () => {
    delay = RESTART_MIN_MS;
  });
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    log.warn(
      { watch: what, err: err instanceof Error ? err.message : String(err), retryInMs: delay },
      'watch failed; restarting',
    );
    timer = setTimeout(() => {
      informer.start().catch(() => undefined); // a failed start reports through 'error' again
    }, delay);
    delay = Math.min(delay * 2, RESTART_MAX_MS);
  });
  return {
    first: informer.start(),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}

function refOf(object: KubernetesObject): ObjectRef | undefined {
  const { namespace, name } = object.metadata ?? {};
  return namespace && name ? { namespace, name } : undefined;
}

/**
 * Watches SchemaMigrations (in one namespace or all) and the backup Jobs the operator owns, calling
 * `changed` with the SchemaMigration each event concerns.
 */
export function watchSchemaMigrations(
  kc: KubeConfig,
  options: { namespace?: string; log: Logger },
  changed: (ref: ObjectRef) => void,
): Watches {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const batch = kc.makeApiClient(BatchV1Api);
  const { namespace } = options;
  const migrationsPath = namespace
    ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`
    : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
  const listMigrations = () =>
    (namespace
      ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace })
      : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as Promise<
      KubernetesListObject<KubernetesObject>
    >;
  const selector = `${Label.managedBy}=${MANAGED_BY}`;
  const jobsPath = namespace ? `/apis/batch/v1/namespaces/${namespace}/jobs` : '/apis/batch/v1/jobs';
  const listJobs = () =>
    namespace
      ? batch.listNamespacedJob({ namespace, labelSelector: selector })
      : batch.listJobForAllNamespaces({ labelSelector: selector });

  const migrations = makeInformer(kc, migrationsPath, listMigrations);
  const jobs = makeInformer<V1Job>(kc, jobsPath, listJobs, selector);
  const onMigration = (object: KubernetesObject) => {
    const ref = refOf(object);
    if (ref) changed(ref);
  };
  const onJob = (job: V1Job) => {
    const owner = job.metadata?.labels?.[Label.migration];
    if (owner && job.metadata?.namespace) changed({ namespace: job.metadata.namespace, name: owner });
  };
  for (const verb of ['add', 'update', 'delete'] as const) {
    migrations.on(verb, onMigration);
    jobs.on(verb, onJob);
  }
  const running = [
    keepRunning(migrations, 'schemamigrations', options.log),
    keepRunning(jobs, 'jobs', options.log),
  ];
  return {
    synced: Promise.all(running.map((r) => r.first)).then(() => undefined),
    stop: async () => {
      await Promise.all(running.map((r) => r.stop()));
    },
  };
}
