import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../api/v1alpha1/group.js';
import { reuseConnections } from '../kube/client.js';
import { call } from '../kube/errors.js';
import { KubeApiError, type StoredSchemaMigration } from '../kube/types.js';
import { PluginError } from './errors.js';

/** Where the plugin talks to, as kubectl decides it: --kubeconfig, else KUBECONFIG, else ~/.kube/config. */
export interface ConnectionOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
}

/** One change a watch delivers: ADDED, MODIFIED, DELETED (BOOKMARK and ERROR are handled inside). */
export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: StoredSchemaMigration;
}

/** A running watch; `done` settles when the server or the network ends it. */
export interface RunningWatch {
  readonly done: Promise<void>;
  stop(): void;
}

/** The few verbs the plugin needs, over the raw client library. */
export interface PluginClient {
  readonly namespace: string;
  /** The SchemaMigration, or a PluginError naming it when it does not exist. */
  get(name: string): Promise<StoredSchemaMigration>;
  /** A merge patch of the object (not its status); with resourceVersion, a stale object fails with 409. */
  patch(name: string, body: Record<string, unknown>): Promise<StoredSchemaMigration>;
  configMap(name: string): Promise<V1ConfigMap | undefined>;
  configMaps(labelSelector: string): Promise<V1ConfigMap[]>;
  /** Watches one SchemaMigration from a resourceVersion; events go to `onEvent` in order. */
  watch(name: string, resourceVersion: string, onEvent: (event: WatchEvent) => void): Promise<RunningWatch>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Loads the kubeconfig as kubectl does and picks the context and namespace. */
export function loadConfig(options: ConnectionOptions): { kc: KubeConfig; namespace: string } {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new PluginError(`cannot load the kubeconfig: ${detail}`);
  }
  if (options.context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === options.context))
      throw new PluginError(`context "${options.context}" does not exist in the kubeconfig`);
    kc.setCurrentContext(options.context);
  }
  if (kc.getCurrentCluster() === null)
    throw new PluginError('no cluster in the kubeconfig: set KUBECONFIG or pass --kubeconfig');
  const current = kc.getContextObject(kc.getCurrentContext());
  reuseConnections(kc);
  return { kc, namespace: options.namespace ?? current?.namespace ?? 'default' };
}

function notFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}

export function createPluginClient(options: ConnectionOptions): PluginClient {
  const { kc, namespace } = loadConfig(options);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const crd = { group: GROUP, version: VERSION, plural: PLURAL, namespace };
  const named = (name: string) => `schemamigration "${name}" in namespace "${namespace}"`;

  return {
    namespace,
    get: async (name) => {
      try {
        return (await call(`reading ${named(name)}`, () =>
          custom.getNamespacedCustomObject({ ...crd, name }),
        )) as StoredSchemaMigration;
      } catch (err) {
        if (notFound(err)) throw new PluginError(`${named(name)} not found`);
        throw err;
      }
    },
    patch: async (name, body) =>
      (await call(`patching ${named(name)}`, () =>
        custom.patchNamespacedCustomObject({ ...crd, name, body }, mergePatch),
      )) as StoredSchemaMigration,
    configMap: async (name) => {
      try {
        return await call(`reading ConfigMap "${name}"`, () =>
          core.readNamespacedConfigMap({ namespace, name }),
        );
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },
    configMaps: async (labelSelector) =>
      (
        await call(`listing ConfigMaps matching ${labelSelector}`, () =>
          core.listNamespacedConfigMap({ namespace, labelSelector }),
        )
      ).items,
    watch: async (name, resourceVersion, onEvent) => {
      let finish: (err?: unknown) => void = () => undefined;
      const done = new Promise<void>((resolve, reject) => {
        finish = (err) => (err ? reject(toWatchError(err)) : resolve());
      });
      const path = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
      const query = { fieldSelector: `metadata.name=${name}`, resourceVersion, allowWatchBookmarks: true };
      const controller = await new Watch(kc).watch(
        path,
        query,
        (type, object: StoredSchemaMigration) => {
          if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') onEvent({ type, object });
          else if (type === 'ERROR') finish(new WatchExpired(JSON.stringify(object)));
        },
        (err: unknown) => finish(err ?? undefined),
      );
      return { done, stop: () => controller.abort() };
    },
  };
}

/** The server ended the watch with an ERROR event (410 Gone, typically): list again and watch anew. */
export class WatchExpired extends Error {
  constructor(detail: string) {
    super(`the watch ended: ${detail}`);
    this.name = 'WatchExpired';
  }
}

function toWatchError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(String(err));
}
