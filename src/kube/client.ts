import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1ContainerStatus,
  type V1Job,
  type V1LabelSelector,
  type V1Pod,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../api/v1alpha1/group.js';
import type { WorkloadKind } from '../api/v1alpha1/spec.js';
import {
  isAlreadyExists,
  KubeApiError,
  type ConfigMapData,
  type JobPodEnd,
  type KubeClient,
  type ObjectRef,
  type SecretValue,
  type StoredSchemaMigration,
  type WorkloadState,
} from './types.js';
import { call } from './errors.js';

/** A ConfigMap's `data` as text and its `binaryData` decoded from base64 into bytes, in one map by key. */
function configMapData(configMap: V1ConfigMap): ConfigMapData {
  const entries: ConfigMapData = { ...configMap.data };
  for (const [key, base64] of Object.entries(configMap.binaryData ?? {}))
    entries[key] = Buffer.from(base64, 'base64');
  return entries;
}

/** Job pods carry one of these labels, depending on the Kubernetes version that created them. */
const jobNameLabels = ['job-name', 'batch.kubernetes.io/job-name'] as const;

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Loads a kubeconfig from a file, or the default chain: KUBECONFIG, ~/.kube/config, in-cluster. */
export function loadKubeConfig(options: { kubeconfigPath?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfigPath !== undefined) kc.loadFromFile(options.kubeconfigPath);
  else kc.loadFromDefault();
  reuseConnections(kc);
  return kc;
}

type DispatcherFactory = (cluster: unknown, options: unknown) => unknown;

/**
 * client-node 2.0.1 builds a new connection pool for every request when the kubeconfig carries TLS settings
 * (a CA, or insecure-skip-tls-verify): a new TCP and TLS handshake per call. Keep one pool per cluster and user.
 */
export function reuseConnections(kc: KubeConfig): void {
  const target = kc as unknown as { createDispatcher?: DispatcherFactory; schemaopsPooled?: boolean };
  const create = target.createDispatcher?.bind(kc);
  if (!create || target.schemaopsPooled) return;
  const pools = new Map<string, unknown>();
  target.createDispatcher = (cluster, options) => {
    const key = JSON.stringify([kc.getCurrentCluster()?.name, kc.getCurrentUser()?.name]);
    if (!pools.has(key)) pools.set(key, create(cluster, options));
    return pools.get(key);
  };
  target.schemaopsPooled = true;
}

async function readOrUndefined<T>(
  what: string,
  request: () => Promise<T>,
  sensitive = false,
): Promise<T | undefined> {
  try {
    return await call(what, request, sensitive);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

function labelSelector(matchLabels: Record<string, string>): string {
  return Object.entries(matchLabels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

function named(kind: string, ref: ObjectRef): string {
  return `${kind} ${ref.namespace}/${ref.name}`;
}

/** The termination state of the pod's first container (by the spec's order, not the status array's). */
function firstContainerStatus(pod: V1Pod): V1ContainerStatus | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  const firstName = pod.spec?.containers[0]?.name;
  return statuses.find((s) => s.name === firstName) ?? statuses[0];
}

function terminatedAt(pod: V1Pod): number {
  const finished = firstContainerStatus(pod)?.state?.terminated?.finishedAt;
  return (finished ?? pod.metadata?.creationTimestamp)?.getTime() ?? 0;
}

/** The most recently terminated pod, by the first container's finish time, then creation time. */
function newestTerminated(pods: V1Pod[]): V1Pod | undefined {
  const terminated = pods.filter((pod) => firstContainerStatus(pod)?.state?.terminated !== undefined);
  return terminated.sort((a, b) => terminatedAt(b) - terminatedAt(a))[0];
}

/** A label selector as the API's query string: `a=b,c in (d,e),!f`. */
export function selectorString(selector: V1LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = `(${(e.values ?? []).join(',')})`;
    if (e.operator === 'In') parts.push(`${e.key} in ${values}`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin ${values}`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/**
 * A Deployment or StatefulSet as the reconciler sees it (spec.replicas defaults to 1, as in Kubernetes).
 * `pods` is how many of its pods exist; without it, status.replicas stands in (it leaves terminating pods out).
 */
export function toWorkloadState(
  workload: {
    metadata?: { uid?: string; annotations?: Record<string, string> };
    spec?: { replicas?: number };
    status?: { replicas?: number; availableReplicas?: number };
  },
  pods?: number,
): WorkloadState {
  return {
    uid: workload.metadata?.uid ?? '',
    replicas: workload.spec?.replicas ?? 1,
    currentReplicas: pods ?? workload.status?.replicas ?? 0,
    availableReplicas: workload.status?.availableReplicas ?? 0,
    annotations: workload.metadata?.annotations ?? {},
  };
}

/** The KubeClient over @kubernetes/client-node. */
export function createKubeClient(kc: KubeConfig): KubeClient {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const crd = { group: GROUP, version: VERSION, plural: PLURAL };

  const listJobPods = async (ref: ObjectRef): Promise<V1Pod[]> => {
    for (const label of jobNameLabels) {
      const pods = await call(`listing pods of ${named('Job', ref)}`, () =>
        core.listNamespacedPod({ namespace: ref.namespace, labelSelector: `${label}=${ref.name}` }),
      );
      if (pods.items.length > 0) return pods.items;
    }
    return [];
  };

  return {
    getSchemaMigration: (ref) =>
      readOrUndefined(
        `reading ${named('SchemaMigration', ref)}`,
        async () => (await custom.getNamespacedCustomObject({ ...crd, ...ref })) as StoredSchemaMigration,
      ),

    listSchemaMigrations: async (namespace) => {
      const list = (await call(`listing SchemaMigrations in ${namespace ?? 'all namespaces'}`, () =>
        namespace === undefined
          ? custom.listClusterCustomObject(crd)
          : custom.listNamespacedCustomObject({ ...crd, namespace }),
      )) as { items?: StoredSchemaMigration[] };
      return list.items ?? [];
    },

    patchSchemaMigrationStatus: (ref, status, resourceVersion) => {
      const body = resourceVersion === undefined ? { status } : { metadata: { resourceVersion }, status };
      return call(
        `patching the status of ${named('SchemaMigration', ref)}`,
        async () =>
          (await custom.patchNamespacedCustomObjectStatus(
            { ...crd, ...ref, body },
            mergePatch,
          )) as StoredSchemaMigration,
      );
    },

    setSchemaMigrationFinalizers: (ref, finalizers, resourceVersion) =>
      call(
        `setting the finalizers of ${named('SchemaMigration', ref)}`,
        async () =>
          (await custom.patchNamespacedCustomObject(
            { ...crd, ...ref, body: { metadata: { finalizers, resourceVersion } } },
            mergePatch,
          )) as StoredSchemaMigration,
      ),

    getSecretValue: async (ref, key): Promise<SecretValue> => {
      const secret = await readOrUndefined(
        `reading ${named('Secret', ref)}`,
        () => core.readNamespacedSecret(ref),
        true,
      );
      if (secret === undefined) return { found: false };
      const encoded = secret.data?.[key];
      return {
        found: true,
        value: encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8'),
      };
    },

    getConfigMapData: async (ref) => {
      const configMap = await readOrUndefined(`reading ${named('ConfigMap', ref)}`, () =>
        core.readNamespacedConfigMap(ref),
      );
      return configMap === undefined ? undefined : configMapData(configMap);
    },

    listConfigMapData: async (namespace, matchLabels) => {
      const selector = labelSelector(matchLabels);
      const list = await call(`listing ConfigMaps in ${namespace} matching ${selector}`, () =>
        core.listNamespacedConfigMap({ namespace, labelSelector: selector }),
      );
      return list.items
        .map((cm) => ({ name: cm.metadata?.name ?? '', data: configMapData(cm) }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    saveConfigMap: async (configMap) => {
      const namespace = configMap.metadata?.namespace ?? '';
      const name = configMap.metadata?.name ?? '';
      const what = named('ConfigMap', { namespace, name });
      try {
        await call(`creating ${what}`, () => core.createNamespacedConfigMap({ namespace, body: configMap }));
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        await call(`replacing ${what}`, () =>
          core.replaceNamespacedConfigMap({ namespace, name, body: configMap }),
        );
      }
    },

    pvcExists: async (ref) =>
      (await readOrUndefined(`reading ${named('PersistentVolumeClaim', ref)}`, () =>
        core.readNamespacedPersistentVolumeClaim(ref),
      )) !== undefined,

    getWorkload: async (kind: WorkloadKind, ref) => {
      const workload = await readOrUndefined(`reading ${named(kind, ref)}`, () =>
        kind === 'Deployment' ? apps.readNamespacedDeployment(ref) : apps.readNamespacedStatefulSet(ref),
      );
      if (workload === undefined) return undefined;
      // Pods by the workload's selector, terminating ones too: status.replicas leaves those out.
      const pods = await call(`listing pods of ${named(kind, ref)}`, () =>
        core.listNamespacedPod({
          namespace: ref.namespace,
          labelSelector: selectorString(workload.spec?.selector),
        }),
      );
      return toWorkloadState(workload, pods.items.length);
    },

    scaleWorkload: async (kind: WorkloadKind, ref, replicas) => {
      const request = { ...ref, body: { spec: { replicas } } };
      await call(`scaling ${named(kind, ref)} to ${replicas}`, () =>
        kind === 'Deployment'
          ? apps.patchNamespacedDeploymentScale(request, mergePatch)
          : apps.patchNamespacedStatefulSetScale(request, mergePatch),
      );
    },

    annotateWorkload: async (kind: WorkloadKind, ref, annotations) => {
      const request = { ...ref, body: { metadata: { annotations } } };
      await call(`annotating ${named(kind, ref)}`, () =>
        kind === 'Deployment'
          ? apps.patchNamespacedDeployment(request, mergePatch)
          : apps.patchNamespacedStatefulSet(request, mergePatch),
      );
    },

    getJob: (ref) => readOrUndefined(`reading ${named('Job', ref)}`, () => batch.readNamespacedJob(ref)),

    createJob: (job: V1Job) => {
      const namespace = job.metadata?.namespace;
      const name = job.metadata?.name ?? job.metadata?.generateName ?? '';
      if (namespace === undefined || namespace === '')
        return Promise.reject(new KubeApiError(400, 'BadRequest', `Job ${name} has no metadata.namespace`));
      return call(`creating ${named('Job', { namespace, name })}`, () =>
        batch.createNamespacedJob({ namespace, body: job }),
      );
    },

    getJobPodEnd: async (ref): Promise<JobPodEnd | undefined> => {
      const pod = newestTerminated(await listJobPods(ref));
      const terminated = pod && firstContainerStatus(pod)?.state?.terminated;
      return terminated ? { exitCode: terminated.exitCode, message: terminated.message } : undefined;
    },
  };
}
