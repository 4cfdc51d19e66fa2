import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomSuffix } from '../apiserver/lifecycle.js';
import { isRecord, nowTimestamp, type KubeObject } from '../apiserver/types.js';
import { isConflict, isNotFound, type ClusterAccess } from './access.js';
import {
  ContainerConfigError,
  localProcessSpec,
  runLocalProcess,
  type ProcessOutcome,
  type RunningProcess,
} from './jobprocess.js';

export interface JobControllerOptions {
  /** The control plane's data directory: PVC directories, pod logs and scratch space live under it. */
  dataDir: string;
  /** Pause between a failed attempt and the next (a real controller backs off from 10 s). */
  retryDelayMs?: number;
}

/** The local directory that stands for a PersistentVolumeClaim. */
export function pvcDirectory(dataDir: string, namespace: string, name: string): string {
  return join(dataDir, 'pvcs', namespace, name);
}

/** Where the output of a pod's process goes, as `pods/log` serves it. */
export function podLogFile(dataDir: string, namespace: string, pod: string): string {
  return join(dataDir, 'logs', namespace, `${pod}.log`);
}

function rec(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

/** The Job's Complete or Failed condition when it has finished. */
function finishedCondition(job: KubeObject): Record<string, unknown> | undefined {
  const conditions = Array.isArray(rec(job.status).conditions)
    ? (rec(job.status).conditions as unknown[])
    : [];
  return conditions.find(
    (c): c is Record<string, unknown> =>
      isRecord(c) && (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
}

function condition(type: string, reason: string, message: string): Record<string, string> {
  const now = nowTimestamp();
  return { type, status: 'True', lastProbeTime: now, lastTransitionTime: now, reason, message };
}

interface Attempt {
  pod: KubeObject;
  process: RunningProcess | undefined;
}

interface RunState {
  cancelled: boolean;
  deadlineExceeded: boolean;
  current: Attempt | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Simulates the Job controller and a kubelet: each attempt is a Pod whose first container's command
 * runs as a local process (the image is ignored). PVC mounts map to directories under the data dir:
 * every occurrence of a mountPath in command, args, env values and workingDir is replaced by the
 * claim's directory (see `pvcDirectory`).
 */
export class JobController {
  private readonly access: ClusterAccess;
  private readonly options: JobControllerOptions;
  private readonly running = new Map<string, RunState>();
  /** Deletions of finished Jobs with ttlSecondsAfterFinished, by Job key (the TTL-after-finished controller). */
  private readonly expiries = new Map<string, NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;

  constructor(access: ClusterAccess, options: JobControllerOptions) {
    this.access = access;
    this.options = options;
  }

  start(): void {
    this.unsubscribe = this.access.onChange((event) => {
      if (event.key === 'batch/jobs') {
        if (event.type === 'DELETED') this.cancel(event.object);
        else this.consider(event.object);
      } else if (event.key === '/pods' && event.type === 'DELETED') {
        this.podDeleted(event.object);
      }
    });
    for (const job of this.access.list('batch', 'jobs')) this.consider(job);
  }

  /** Stops every running process. */
  stop(): void {
    this.unsubscribe?.();
    for (const state of this.running.values()) this.abort(state);
    this.running.clear();
    for (const timer of this.expiries.values()) clearTimeout(timer);
    this.expiries.clear();
  }

  private key(job: KubeObject): string {
    return `${job.metadata.namespace ?? ''}/${job.metadata.name ?? ''}/${job.metadata.uid ?? ''}`;
  }

  private consider(seen: KubeObject): void {
    if (this.running.has(this.key(seen))) return;
    // Events arrive late: decide on the Job as it is now.
    const job = this.access.get('batch', 'jobs', seen.metadata.namespace, seen.metadata.name ?? '');
    if (!job || job.metadata.uid !== seen.metadata.uid || job.metadata.deletionTimestamp) return;
    if (finishedCondition(job)) return this.expireLater(job);
    if (rec(job.spec).suspend === true) return;
    const state: RunState = {
      cancelled: false,
      deadlineExceeded: false,
      current: undefined,
      timer: undefined,
    };
    this.running.set(this.key(job), state);
    this.run(job, state)
      .catch(() => undefined)
      .finally(() => {
        if (state.timer) clearTimeout(state.timer);
        this.running.delete(this.key(job));
      });
  }

  /** Deletes a finished Job (and, through garbage collection, its pods) ttlSecondsAfterFinished later. */
  private expireLater(job: KubeObject): void {
    const ttl = rec(job.spec).ttlSecondsAfterFinished;
    const key = this.key(job);
    if (typeof ttl !== 'number' || this.expiries.has(key)) return;
    const finished = finishedCondition(job);
    const finishedAt = finished ? Date.parse(String(finished.lastTransitionTime)) : Date.now();
    const timer = setTimeout(
      () => {
        this.expiries.delete(key);
        const current = this.access.get('batch', 'jobs', job.metadata.namespace, job.metadata.name ?? '');
        if (current?.metadata.uid !== job.metadata.uid) return;
        const ref = { namespace: job.metadata.namespace, name: job.metadata.name ?? '' };
        this.access.delete('batch', 'jobs', ref, 'Background');
      },
      Math.max(0, (Number.isNaN(finishedAt) ? Date.now() : finishedAt) + ttl * 1000 - Date.now()),
    );
    timer.unref();
    this.expiries.set(key, timer);
  }

  private cancel(job: KubeObject): void {
    const state = this.running.get(this.key(job));
    if (state) this.abort(state);
  }

  private abort(state: RunState): void {
    state.cancelled = true;
    state.current?.process?.kill();
  }

  private podDeleted(pod: KubeObject): void {
    for (const state of this.running.values()) {
      const current = state.current;
      if (current && current.pod.metadata.uid === pod.metadata.uid) current.process?.kill();
    }
  }

  private async run(job: KubeObject, state: RunState): Promise<void> {
    const spec = rec(job.spec);
    const started = this.writeStatus(job, (status) => {
      status.startTime ??= nowTimestamp();
      status.active = 1;
      status.ready = 0;
    });
    if (!started) return;
    const deadline = spec.activeDeadlineSeconds;
    if (typeof deadline === 'number') {
      const elapsed = Date.now() - Date.parse(String(rec(started.status).startTime));
      state.timer = setTimeout(
        () => {
          state.deadlineExceeded = true;
          state.current?.process?.kill();
        },
        Math.max(0, deadline * 1000 - elapsed),
      );
    }
    const completions = num(spec.completions, 1);
    const backoffLimit = num(spec.backoffLimit, 6);
    let succeeded = num(rec(started.status).succeeded, 0);
    let failed = num(rec(started.status).failed, 0);
    while (!state.cancelled && !state.deadlineExceeded && succeeded < completions && failed <= backoffLimit) {
      const outcome = await this.attempt(job, state);
      if (outcome === undefined) return;
      if (outcome.exitCode === 0) succeeded += 1;
      else failed += 1;
      this.writeCounts(job, succeeded, failed);
      if (outcome.exitCode !== 0 && failed <= backoffLimit && !state.deadlineExceeded)
        await sleep(this.options.retryDelayMs ?? 500);
    }
    if (state.cancelled) return;
    const finished = this.finish(job, state, { success: succeeded >= completions, succeeded, failed });
    if (finished) this.expireLater(finished);
  }

  private async attempt(job: KubeObject, state: RunState): Promise<ProcessOutcome | undefined> {
    let pod: KubeObject;
    try {
      pod = this.createPod(job);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const namespace = pod.metadata.namespace ?? 'default';
    const podName = pod.metadata.name ?? '';
    const logFile = podLogFile(this.options.dataDir, namespace, podName);
    mkdirSync(join(this.options.dataDir, 'logs', namespace), { recursive: true });
    const attempt: Attempt = { pod, process: undefined };
    state.current = attempt;
    let outcome: ProcessOutcome;
    try {
      const spec = localProcessSpec(this.access, pod, {
        pvcDir: (ns, name) => pvcDirectory(this.options.dataDir, ns, name),
        podDir: join(this.options.dataDir, 'pods', namespace, podName),
      });
      this.setPodRunning(pod);
      attempt.process = runLocalProcess(spec, logFile);
      outcome = await attempt.process.done;
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      const now = nowTimestamp();
      outcome = { exitCode: 1, signal: undefined, message: err.message, startedAt: now, finishedAt: now };
    }
    state.current = undefined;
    if (state.deadlineExceeded)
      outcome.message ||= 'Pod was active on the node longer than the specified deadline';
    this.setPodTerminated(pod, outcome);
    return outcome;
  }

  private createPod(job: KubeObject): KubeObject {
    const template = rec(rec(job.spec).template);
    const meta = rec(template.metadata);
    const name = job.metadata.name ?? '';
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${name}-${randomSuffix()}`,
        namespace: job.metadata.namespace,
        labels: { ...(rec(meta.labels) as Record<string, string>) },
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name,
            uid: job.metadata.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: structuredClone(rec(template.spec)),
    };
    if (isRecord(meta.annotations)) pod.metadata.annotations = meta.annotations as Record<string, string>;
    return this.access.create('', 'pods', pod);
  }

  private patchPodStatus(pod: KubeObject, status: Record<string, unknown>): void {
    for (let tries = 0; tries < 5; tries++) {
      const current = this.access.get('', 'pods', pod.metadata.namespace, pod.metadata.name ?? '');
      if (!current) return;
      try {
        this.access.updateStatus('', 'pods', { ...current, status: { ...rec(current.status), ...status } });
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  private setPodRunning(pod: KubeObject): void {
    const container = rec((rec(pod.spec).containers as unknown[] | undefined)?.[0]);
    const now = nowTimestamp();
    this.patchPodStatus(pod, {
      phase: 'Running',
      startTime: now,
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
      containerStatuses: [
        {
          name: container.name,
          image: container.image,
          imageID: '',
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: now } },
        },
      ],
    });
  }

  private setPodTerminated(pod: KubeObject, outcome: ProcessOutcome): void {
    const container = rec((rec(pod.spec).containers as unknown[] | undefined)?.[0]);
    const terminated: Record<string, unknown> = {
      exitCode: outcome.exitCode,
      reason: outcome.exitCode === 0 ? 'Completed' : 'Error',
      startedAt: outcome.startedAt,
      finishedAt: outcome.finishedAt,
      containerID: `local://${pod.metadata.uid ?? ''}`,
    };
    if (outcome.signal) terminated.signal = outcome.signal;
    if (outcome.message !== '') terminated.message = outcome.message;
    this.patchPodStatus(pod, {
      phase: outcome.exitCode === 0 ? 'Succeeded' : 'Failed',
      conditions: [
        { type: 'Ready', status: 'False', lastTransitionTime: outcome.finishedAt, reason: 'PodCompleted' },
      ],
      containerStatuses: [
        {
          name: container.name,
          image: container.image,
          imageID: '',
          ready: false,
          restartCount: 0,
          started: false,
          state: { terminated },
        },
      ],
    });
  }

  /** Read-modify-write of a Job's status, retried on conflicts; undefined when the Job is gone. */
  private writeStatus(
    job: KubeObject,
    change: (status: Record<string, unknown>) => void,
  ): KubeObject | undefined {
    for (let tries = 0; tries < 10; tries++) {
      const current = this.access.get('batch', 'jobs', job.metadata.namespace, job.metadata.name ?? '');
      if (!current || current.metadata.uid !== job.metadata.uid) return undefined;
      const status = structuredClone(rec(current.status));
      change(status);
      try {
        return this.access.updateStatus('batch', 'jobs', { ...current, status });
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    return undefined;
  }

  private writeCounts(job: KubeObject, succeeded: number, failed: number): void {
    this.writeStatus(job, (status) => {
      if (succeeded > 0) status.succeeded = succeeded;
      if (failed > 0) status.failed = failed;
    });
  }

  private finish(
    job: KubeObject,
    state: RunState,
    result: { success: boolean; succeeded: number; failed: number },
  ): KubeObject | undefined {
    const { success, succeeded, failed } = result;
    return this.writeStatus(job, (status) => {
      delete status.active;
      status.ready = 0;
      status.terminating = 0;
      status.uncountedTerminatedPods = {};
      const conditions = Array.isArray(status.conditions) ? (status.conditions as unknown[]) : [];
      if (success) {
        const message = 'Reached expected number of succeeded pods';
        conditions.push(
          condition('SuccessCriteriaMet', 'CompletionsReached', message),
          condition('Complete', 'CompletionsReached', message),
        );
        status.completionTime = nowTimestamp();
      } else {
        const [reason, message] = state.deadlineExceeded
          ? ['DeadlineExceeded', 'Job was active longer than specified deadline']
          : ['BackoffLimitExceeded', 'Job has reached the specified backoff limit'];
        conditions.push(condition('FailureTarget', reason, message), condition('Failed', reason, message));
      }
      status.conditions = conditions;
      if (succeeded > 0) status.succeeded = succeeded;
      if (failed > 0) status.failed = failed;
    });
  }
}
