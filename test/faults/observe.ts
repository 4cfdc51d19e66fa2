import { Watch, type KubeConfig, type V1Deployment, type V1Job } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/group.js';
import type { StoredSchemaMigration } from '../../src/kube/types.js';

/** What the admin sees of one run, past the fault proxy: every stored version of the SchemaMigration, its Jobs, the workload. */
export interface RunView {
  /** The latest stored SchemaMigration (undefined once deleted). */
  object: StoredSchemaMigration | undefined;
  /** Every stored version, in order. */
  versions: StoredSchemaMigration[];
  /** Jobs by name, as last seen. */
  jobs: Map<string, V1Job>;
  /** Every Job name ever seen in the namespace. */
  jobNames: Set<string>;
  deployment: V1Deployment | undefined;
}

export interface RunObserver {
  readonly view: RunView;
  /**
   * Resolves on the first change after which `predicate` holds (checked at once and on every watch event, so a
   * state that lasts one write is still caught). The callback runs synchronously inside the event.
   */
  until(predicate: (view: RunView) => boolean, what: string, timeoutMs?: number): Promise<void>;
  stop(): void;
}

/** Watches the namespace's SchemaMigration, Jobs and Deployments as the admin, straight at kube-apiserver. */
export async function observeRun(kc: KubeConfig, namespace: string): Promise<RunObserver> {
  const view: RunView = {
    object: undefined,
    versions: [],
    jobs: new Map(),
    jobNames: new Set(),
    deployment: undefined,
  };
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const check of [...waiters]) check();
  };
  const watch = new Watch(kc);
  const requests = await Promise.all([
    watch.watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
      {},
      (type, object: StoredSchemaMigration) => {
        view.object = type === 'DELETED' ? undefined : object;
        view.versions.push(object);
        changed();
      },
      () => undefined,
    ),
    watch.watch(
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      {},
      (type, job: V1Job) => {
        const name = job.metadata?.name ?? '';
        view.jobNames.add(name);
        if (type === 'DELETED') view.jobs.delete(name);
        else view.jobs.set(name, job);
        changed();
      },
      () => undefined,
    ),
    watch.watch(
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      {},
      (type, deployment: V1Deployment) => {
        view.deployment = type === 'DELETED' ? undefined : deployment;
        changed();
      },
      () => undefined,
    ),
  ]);
  return {
    view,
    until: (predicate, what, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; phase ${phaseOf(view)}`));
        }, timeoutMs);
        const check = () => {
          if (!predicate(view)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    stop: () => {
      for (const request of requests) request.abort();
    },
  };
}

export const conditionOf = (object: StoredSchemaMigration | undefined, type: string) =>
  object?.status?.conditions?.find((c) => c.type === type);

export const conditionIs = (object: StoredSchemaMigration | undefined, type: string, status: string) =>
  conditionOf(object, type)?.status === status;

export const jobFinished = (job: V1Job) =>
  job.status?.conditions?.some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  ) ?? false;

function phaseOf(view: RunView): string {
  const o = view.object;
  const ready = conditionOf(o, 'Ready');
  return `${o?.status?.phase ?? '-'} (Ready=${ready?.status ?? '-'} ${ready?.reason ?? ''})`;
}
