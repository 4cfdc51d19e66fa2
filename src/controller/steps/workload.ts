import { ConditionStatus, ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { Annotation } from '../../api/v1alpha1/keys.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import type { WorkloadKind, WorkloadRef } from '../../api/v1alpha1/spec.js';
import type { Plan, RunWorkload } from '../../api/v1alpha1/status.js';
import type { KubeClient, StoredSchemaMigration, WorkloadState } from '../../kube/types.js';
import { observerOf, pollWorkload } from '../context.js';
import { deferStatus, elapsedMs, writeStatus, type Run, type StepResult } from '../run.js';
import { secondsSince } from './history.js';
import { progressing, stalled, summarise } from '../summary.js';
import { failRun } from './fail.js';

/** The workload a scale-down recorded in status: what is restored, whatever the spec names now. */
export interface WorkloadRecord {
  readonly kind: WorkloadKind;
  readonly name: string;
  /** Absent only in records written before uids were recorded. */
  readonly uid?: string;
  readonly originalReplicas: number;
}

/** How often a workload that outlived timeouts.scaleUp is looked at again. */
const SLOW_POLL_MS = 5_000;

/**
 * The recorded workload, if a run scaled one down and has not given it back. Records from before kind and
 * name were recorded fall back to the spec's workload (`legacy`), the only thing they can mean.
 */
export function workloadRecord(
  object: StoredSchemaMigration,
  legacy?: WorkloadRef,
): WorkloadRecord | undefined {
  const recorded = object.status?.workload;
  if (!recorded) return undefined;
  const kind = recorded.kind ?? legacy?.kind;
  const name = recorded.name ?? legacy?.name;
  if (kind === undefined || name === undefined) return undefined;
  return {
    kind,
    name,
    ...(recorded.uid ? { uid: recorded.uid } : {}),
    originalReplicas: recorded.originalReplicas,
  };
}

/** The workload a run acts on: named in its plan when it started (older plans: the spec's). */
export function runWorkload(
  plan: Plan,
  spec: { workload?: WorkloadRef | undefined },
): RunWorkload | undefined {
  if (plan.generation === undefined) return spec.workload;
  return plan.workload;
}

export function describeWorkload(workload: { kind: string; name: string }, namespace: string): string {
  return `${workload.kind} ${namespace}/${workload.name}`;
}

/** What a release found: the recorded workload scaled back, gone, or replaced by another of the same name. */
export type Release = 'released' | 'gone' | 'replaced';

/** Scales the recorded workload back to its recorded replicas and drops the annotation; does not wait. */
export async function releaseWorkload(
  kube: KubeClient,
  namespace: string,
  record: WorkloadRecord,
): Promise<Release> {
  return (await giveBack(kube, namespace, record)).release;
}

/**
 * Gives the recorded workload its replicas back (as releaseWorkload) and says, from the same read, what is
 * missing before it serves again (undefined when it does, or when it is gone or replaced).
 */
export async function giveBack(
  kube: KubeClient,
  namespace: string,
  record: WorkloadRecord,
): Promise<{ release: Release; missing?: string }> {
  const ref = { namespace, name: record.name };
  const state = await kube.getWorkload(record.kind, ref);
  if (!state) return { release: 'gone' };
  // Another object under the same name was never scaled by us: leave it as its owner set it.
  if (record.uid !== undefined && state.uid !== record.uid) return { release: 'replaced' };
  const scaling = state.replicas !== record.originalReplicas;
  if (scaling) await kube.scaleWorkload(record.kind, ref, record.originalReplicas);
  if (Annotation.originalReplicas in state.annotations) {
    await kube.annotateWorkload(record.kind, ref, { [Annotation.originalReplicas]: null });
  }
  const missing = scaling
    ? `${state.availableReplicas}/${record.originalReplicas} replicas available`
    : missingOf(state, record);
  return missing === undefined ? { release: 'released' } : { release: 'released', missing };
}

function missingOf(state: WorkloadState, record: WorkloadRecord): string | undefined {
  const { originalReplicas: wanted } = record;
  if (state.currentReplicas === wanted && state.availableReplicas >= wanted) return undefined;
  return `${state.availableReplicas}/${wanted} replicas available`;
}

/** What is missing before the recorded workload serves again (its recorded replicas, available), or undefined when it does. */
export async function notBackYet(
  kube: KubeClient,
  namespace: string,
  record: WorkloadRecord,
): Promise<string | undefined> {
  const state = await kube.getWorkload(record.kind, { namespace, name: record.name });
  if (!state || (record.uid !== undefined && state.uid !== record.uid)) return undefined;
  return missingOf(state, record);
}

/**
 * Records the workload (kind, name, uid, original replicas) and the scale-down request time in one status write,
 * then annotates it, scales it to 0 and waits until no pod of it is left, terminating ones included.
 */
export async function scaleDown(run: Run, workload: RunWorkload): Promise<StepResult> {
  const { kube } = run.ctx;
  const namespace = run.object.metadata.namespace;
  const ref = { namespace, name: workload.name };
  const what = describeWorkload(workload, namespace);
  const read = run.inputs.workload;
  const state =
    read?.kind === workload.kind && read.name === workload.name
      ? read.state
      : await kube.getWorkload(workload.kind, ref);
  if (!state) return failRun(run, Reason.WorkloadNotFound, `${what} disappeared during the run`);
  const original = await recordIntent(run, workload, state);
  if (state.annotations[Annotation.originalReplicas] !== String(original)) {
    await kube.annotateWorkload(workload.kind, ref, { [Annotation.originalReplicas]: String(original) });
  }
  if (state.replicas !== 0) await requestScaleDown(run, workload, original);
  if (state.replicas !== 0 || state.currentReplicas > 0) {
    if (elapsedMs(run) > run.timeouts.scaleDown) {
      const message = `${what} still has pods after ${run.spec.timeouts.scaleDown}`;
      return failRun(run, Reason.ScaleDownTimedOut, message);
    }
    return pollWorkload;
  }
  return recordScaledDown(run, what, original, run.ctx.now());
}

/**
 * Before the workload is touched: its record, the scale-down request time (the downtime counts from the
 * request; a restart keeps the first) and ScalingDown, in one write. Returns the original replicas.
 */
async function recordIntent(
  run: Run,
  workload: RunWorkload,
  state: { uid: string; replicas: number; annotations: Record<string, string> },
): Promise<number> {
  const recorded = workloadRecord(run.object)?.originalReplicas;
  const annotated = Number(state.annotations[Annotation.originalReplicas]);
  const original = recorded ?? (Number.isInteger(annotated) && annotated >= 0 ? annotated : state.replicas);
  const planned = run.object.status?.plan;
  const requesting = state.replicas !== 0 && planned?.scaleDownAt === undefined;
  if (recorded !== undefined && !requesting) return original;
  const now = run.ctx.now();
  const message = `scaling ${describeWorkload(workload, run.object.metadata.namespace)} from ${original} to 0 replicas`;
  const record = { kind: workload.kind, name: workload.name, uid: state.uid, originalReplicas: original };
  await writeStatus(run, (o) => ({
    ...summarise(o, progressing(Phase.ScalingDown, Reason.ScalingDown, message), now),
    ...(recorded === undefined ? { workload: record } : {}),
    ...(requesting && o.status?.plan
      ? { plan: { ...o.status.plan, scaleDownAt: o.status.plan.scaleDownAt ?? now.toISOString() } }
      : {}),
  }));
  return original;
}

/** Asks for 0 replicas; its time is in status already (recordIntent). */
async function requestScaleDown(run: Run, workload: RunWorkload, original: number): Promise<void> {
  const namespace = run.object.metadata.namespace;
  await run.ctx.kube.scaleWorkload(workload.kind, { namespace, name: workload.name }, 0);
  const note = `scaling ${describeWorkload(workload, namespace)} from ${original} to 0 replicas`;
  observerOf(run.ctx).event(run.object, 'Normal', 'ScalingDown', note);
}

/** No pod left: WorkloadScaledDown=True and the step's time, once. */
function recordScaledDown(run: Run, what: string, original: number, now: Date): StepResult {
  // Recorded once: later reconciles of this run pass through without writing (the phase moves on).
  const recorded = run.object.status?.conditions?.some(
    (c) => c.type === ConditionType.WorkloadScaledDown && c.status === ConditionStatus.True,
  );
  if (recorded) return 'continue';
  const scaleDownAt = run.object.status?.plan?.scaleDownAt;
  if (scaleDownAt) observerOf(run.ctx).stepFinished('scaleDown', secondsSince(scaleDownAt, now));
  // The next step's write takes this along (pods at 0 show again after a restart): one write less while down.
  deferStatus(run, (o) =>
    summarise(o, progressing(Phase.ScalingDown, Reason.ScaledDown, `${what} is at 0 replicas`), now, [
      {
        type: ConditionType.WorkloadScaledDown,
        status: ConditionStatus.True,
        reason: Reason.ScaledDown,
        message: `was ${original} replicas`,
      },
    ]),
  );
  return 'continue';
}

/** The recorded workload is gone or replaced: nothing to bring back, and status says so. */
async function nothingToRestore(run: Run, record: WorkloadRecord, release: Release): Promise<StepResult> {
  const what = describeWorkload(record, run.object.metadata.namespace);
  const why = release === 'gone' ? 'was deleted' : 'was replaced by another object of the same name';
  const note = `${what} ${why} during the run; nothing to scale back`;
  observerOf(run.ctx).event(run.object, 'Warning', Reason.WorkloadRestoreFailed, note);
  run.log.warn({ workload: what }, note);
  await writeStatus(run, (o) => ({
    ...summarise(o, progressing(Phase.RestoringWorkload, Reason.WorkloadRestoreFailed, note), run.ctx.now(), [
      {
        type: ConditionType.WorkloadScaledDown,
        status: ConditionStatus.False,
        reason: Reason.WorkloadRestoreFailed,
        message: note,
      },
    ]),
    workload: null,
  }));
  return 'continue';
}

/**
 * Still coming back: status says so since the step began (no write per pod), until timeouts.scaleUp has passed;
 * then a Stalled report (and it is looked at again).
 */
async function awaitAvailable(run: Run, record: WorkloadRecord, progress: string): Promise<StepResult> {
  const now = run.ctx.now();
  const since = run.object.status?.plan?.restoreStartedAt;
  const waited = since ? now.getTime() - Date.parse(since) : 0;
  if (waited <= run.timeouts.scaleUp) return pollWorkload;
  const what = describeWorkload(record, run.object.metadata.namespace);
  const message = `${what} has ${progress} after ${run.spec.timeouts.scaleUp} (timeouts.scaleUp); the database is at ${run.plan.to ?? 'base'}; still checking`;
  await writeStatus(run, (o) => summarise(o, stalled(Reason.ScaleUpTimedOut, message), now));
  return { requeueAfterMs: SLOW_POLL_MS };
}

/** Before the workload is scaled back: the time (timeouts.scaleUp counts from it) and RestoringWorkload, in one write. */
async function recordRestoreStart(run: Run, record: WorkloadRecord): Promise<void> {
  if (run.object.status?.plan?.restoreStartedAt) return;
  const now = run.ctx.now();
  const restoreStartedAt = now.toISOString();
  const what = describeWorkload(record, run.object.metadata.namespace);
  const message = `restoring ${what} to ${record.originalReplicas} replicas`;
  await writeStatus(run, (o) => ({
    ...summarise(o, progressing(Phase.RestoringWorkload, Reason.RestoringWorkload, message), now),
    ...(o.status?.plan ? { plan: { ...o.status.plan, restoreStartedAt } } : {}),
  }));
}

/**
 * Scales the recorded workload back to its recorded replicas and waits until they are available: back means
 * serving, not merely created.
 */
export async function restoreWorkload(run: Run): Promise<StepResult> {
  const record = workloadRecord(run.object, run.spec.workload);
  if (!record) return 'continue';
  const namespace = run.object.metadata.namespace;
  await recordRestoreStart(run, record);
  const { release, missing } = await giveBack(run.ctx.kube, namespace, record);
  if (release !== 'released') return nothingToRestore(run, record, release);
  // The watches of the workload and its pods wake the run when they come.
  if (missing !== undefined) return awaitAvailable(run, record, missing);
  const what = describeWorkload(record, namespace);
  // Seen ready: the downtime ends here, and the run's history entry is written from this.
  const readyAt = run.ctx.now();
  const restoreStartedAt = run.object.status?.plan?.restoreStartedAt;
  if (restoreStartedAt)
    observerOf(run.ctx).stepFinished('restoreWorkload', secondsSince(restoreStartedAt, readyAt));
  const workloadReadyAt = readyAt.toISOString();
  await writeStatus(run, (o) => ({
    ...(o.status?.plan ? { plan: { ...o.status.plan, workloadReadyAt } } : {}),
    ...summarise(
      o,
      progressing(Phase.RestoringWorkload, Reason.WorkloadRestored, `${what} is back`),
      readyAt,
      [
        {
          type: ConditionType.WorkloadScaledDown,
          status: ConditionStatus.False,
          reason: Reason.WorkloadRestored,
          message: `back to ${record.originalReplicas} replicas`,
        },
      ],
    ),
    workload: null,
  }));
  const note = `${what} is back to ${record.originalReplicas} replicas`;
  observerOf(run.ctx).event(run.object, 'Normal', 'WorkloadRestored', note);
  return 'continue';
}
