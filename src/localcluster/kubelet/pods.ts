import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNotFound, type ApiConnection, type KubeObject } from './api.js';
import {
  ContainerConfigError,
  isRecord,
  localProcessSpec,
  runLocalProcess,
  text,
  type LocalProcessSpec,
  type PodSources,
  type ProcessOutcome,
  type RunningProcess,
} from './container.js';

/** A pod with this annotation set to "true" runs its first container's command here, like a Job's pod. */
export const RUN_COMMAND_ANNOTATION = 'localcluster.schemaops.dev/run-command';

export interface PodRunnerOptions {
  readonly nodeName: string;
  readonly dataDir: string;
  /** How long a pod that is not run takes to become Running and Ready. */
  readonly readyDelayMs: number;
}

/** The local file behind `kubectl logs` of a pod. */
export function podLogFile(dataDir: string, namespace: string, pod: string): string {
  return join(dataDir, 'logs', namespace, `${pod}.log`);
}

/** The directory that backs a claim's volume (the local StorageClass provisions it there). */
export function claimDirectory(dataDir: string, namespace: string, claim: string): string {
  return join(dataDir, 'pvcs', namespace, claim);
}

const rec = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {});
const list = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? value.map(rec) : []);
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Pods of a Job, and pods the tests mark, run their command; anything else only looks alive. */
export function runsCommand(pod: KubeObject): boolean {
  return (
    pod.metadata.annotations?.[RUN_COMMAND_ANNOTATION] === 'true' ||
    (pod.metadata.ownerReferences ?? []).some((o) => o.kind === 'Job')
  );
}

type ContainerState = Record<string, Record<string, unknown>>;

/** A pod's status in a phase; in this kubelet a pod is ready exactly while it is Running. */
function podStatus(pod: KubeObject, phase: string, state: ContainerState, startTime: string) {
  const ready = phase === 'Running';
  const condition = (type: string, status: boolean) => ({
    type,
    status: status ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: now(),
  });
  const running = 'running' in state;
  return {
    status: {
      phase,
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      startTime,
      conditions: [
        condition('PodReadyToStartContainers', running || ready),
        condition('Initialized', true),
        condition('Ready', ready),
        condition('ContainersReady', ready),
        condition('PodScheduled', true),
      ],
      containerStatuses: list(rec(pod.spec).containers).map((c) => ({
        name: text(c.name),
        image: text(c.image),
        imageID: '',
        containerID: `local://${pod.metadata.uid ?? ''}/${text(c.name)}`,
        ready,
        started: running,
        restartCount: 0,
        state,
      })),
    },
  };
}

function terminated(outcome: ProcessOutcome): ContainerState {
  return {
    terminated: {
      exitCode: outcome.exitCode,
      reason: outcome.exitCode === 0 ? 'Completed' : 'Error',
      message: outcome.message,
      startedAt: outcome.startedAt,
      finishedAt: outcome.finishedAt,
    },
  };
}

interface Tracked {
  process?: RunningProcess;
  timer?: NodeJS.Timeout;
  deleting?: boolean;
}

/**
 * Runs the pods the scheduler binds to this node: a Job's pod (or a marked one) as a local process with its
 * env, Secrets, ConfigMaps and claims resolved; any other pod becomes Running and Ready after a short delay.
 * A pod being deleted gets SIGTERM and is removed once its process is gone.
 */
export class PodRunner {
  private readonly pods = new Map<string, Tracked>();
  /** namespace/name of every pod whose process runs now. */
  private readonly running = new Set<string>();
  private stopped = false;

  private readonly api: ApiConnection;
  private readonly options: PodRunnerOptions;

  constructor(api: ApiConnection, options: PodRunnerOptions) {
    this.api = api;
    this.options = options;
  }

  /** Whether the pod's process is still running (the logs endpoint follows it while it is). */
  isRunning(namespace: string, name: string): boolean {
    return this.running.has(`${namespace}/${name}`);
  }

  handle(type: 'SYNC' | 'DELETED', pod: KubeObject): void {
    if (this.stopped) return;
    const uid = pod.metadata.uid ?? '';
    const tracked = this.pods.get(uid);
    if (type === 'DELETED') {
      if (tracked) this.forget(uid, tracked);
      return;
    }
    if (pod.metadata.deletionTimestamp) return this.terminate(pod, tracked ?? this.track(uid));
    const phase = text(rec(pod.status).phase);
    if (tracked || phase === 'Succeeded' || phase === 'Failed') return;
    if (runsCommand(pod)) void this.run(pod, this.track(uid));
    else this.pretend(pod, this.track(uid));
  }

  stop(): void {
    this.stopped = true;
    for (const [uid, tracked] of this.pods) this.forget(uid, tracked);
  }

  private track(uid: string): Tracked {
    const tracked: Tracked = {};
    this.pods.set(uid, tracked);
    return tracked;
  }

  private forget(uid: string, tracked: Tracked): void {
    clearTimeout(tracked.timer);
    tracked.process?.kill();
    this.pods.delete(uid);
  }

  private async writeStatus(pod: KubeObject, body: unknown): Promise<void> {
    const { namespace = 'default', name } = pod.metadata;
    await this.api
      .call(
        'PATCH',
        `/api/v1/namespaces/${namespace}/pods/${name}/status`,
        body,
        'application/merge-patch+json',
      )
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
  }

  private pretend(pod: KubeObject, tracked: Tracked): void {
    const started = now();
    tracked.timer = setTimeout(() => {
      const state = { running: { startedAt: started } };
      this.writeStatus(pod, podStatus(pod, 'Running', state, started)).catch(() => this.retry(pod));
    }, this.options.readyDelayMs);
  }

  /** A status write that failed (the API server restarting) is tried again from the start. */
  private retry(pod: KubeObject): void {
    const uid = pod.metadata.uid ?? '';
    const tracked = this.pods.get(uid);
    if (!tracked || this.stopped) return;
    this.pods.delete(uid);
    setTimeout(() => this.handle('SYNC', pod), 500).unref();
  }

  private async sources(pod: KubeObject): Promise<PodSources> {
    const namespace = pod.metadata.namespace ?? 'default';
    const spec = rec(pod.spec);
    const wanted: { resource: 'secrets' | 'configmaps' | 'persistentvolumeclaims'; name: string }[] = [];
    for (const container of list(spec.containers)) {
      for (const env of list(container.env)) {
        const from = rec(env.valueFrom);
        if (isRecord(from.secretKeyRef))
          wanted.push({ resource: 'secrets', name: text(from.secretKeyRef.name) });
        if (isRecord(from.configMapKeyRef))
          wanted.push({ resource: 'configmaps', name: text(from.configMapKeyRef.name) });
      }
    }
    for (const volume of list(spec.volumes)) {
      if (isRecord(volume.secret)) wanted.push({ resource: 'secrets', name: text(volume.secret.secretName) });
      if (isRecord(volume.configMap))
        wanted.push({ resource: 'configmaps', name: text(volume.configMap.name) });
      if (isRecord(volume.persistentVolumeClaim))
        wanted.push({
          resource: 'persistentvolumeclaims',
          name: text(volume.persistentVolumeClaim.claimName),
        });
    }
    const found = new Map<string, KubeObject>();
    for (const { resource, name } of wanted) {
      const object = await this.api
        .call('GET', `/api/v1/namespaces/${namespace}/${resource}/${name}`)
        .catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
      if (object) found.set(`${resource}/${name}`, object);
    }
    const dataDir = this.options.dataDir;
    return {
      get: (resource, _namespace, name) => found.get(`${resource}/${name}`),
      claimDir: (ns, claim) => claimDirectory(dataDir, ns, claim),
    };
  }

  private async run(pod: KubeObject, tracked: Tracked): Promise<void> {
    const { namespace = 'default', name, uid = '' } = pod.metadata;
    const logFile = podLogFile(this.options.dataDir, namespace, name);
    mkdirSync(dirname(logFile), { recursive: true });
    const started = now();
    let spec: LocalProcessSpec;
    try {
      spec = localProcessSpec(await this.sources(pod), pod, {
        podDir: join(this.options.dataDir, 'pods', uid),
      });
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) return this.retry(pod); // the API server did not answer
      const waiting = { waiting: { reason: 'CreateContainerConfigError', message: err.message } };
      await this.writeStatus(pod, podStatus(pod, 'Pending', waiting, started)).catch(() => undefined);
      return;
    }
    if (tracked.deleting || this.stopped) return;
    // Started once: from here on a failed status write is written again, never a second process started.
    const child = runLocalProcess(spec, logFile);
    tracked.process = child;
    this.running.add(`${namespace}/${name}`);
    void child.done.finally(() => this.running.delete(`${namespace}/${name}`));
    await this.persistStatus(pod, podStatus(pod, 'Running', { running: { startedAt: started } }, started));
    const outcome = await child.done;
    if (tracked.deleting) return this.remove(pod);
    const phase = outcome.exitCode === 0 ? 'Succeeded' : 'Failed';
    await this.persistStatus(pod, podStatus(pod, phase, terminated(outcome), started));
  }

  /** Writes a status until it is stored (kube-apiserver may be restarting), for at most a minute. */
  private async persistStatus(pod: KubeObject, body: unknown): Promise<void> {
    for (let attempt = 0; attempt < 120 && !this.stopped; attempt++) {
      try {
        return await this.writeStatus(pod, body);
      } catch {
        await sleep(500);
      }
    }
  }

  private terminate(pod: KubeObject, tracked: Tracked): void {
    if (tracked.deleting) return;
    tracked.deleting = true;
    clearTimeout(tracked.timer);
    if (tracked.process)
      tracked.process.kill(); // SIGTERM; run() removes the pod once the process is gone
    else void this.remove(pod);
  }

  /** Graceful deletion done: the pod goes with grace period 0, as a kubelet confirms a stopped pod. */
  private async remove(pod: KubeObject): Promise<void> {
    const { namespace = 'default', name, uid } = pod.metadata;
    await this.api
      .call('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, {
        gracePeriodSeconds: 0,
        preconditions: { uid },
      })
      .catch(() => undefined);
  }
}
