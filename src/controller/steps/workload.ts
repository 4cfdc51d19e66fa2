import { ConditionStatus, ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { Annotation } from '../../api/v1alpha1/keys.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import type { WorkloadRef } from '../../api/v1alpha1/spec.js';
import type { KubeClient } from '../../kube/types.js';
import { observerOf, pollWorkload } from '../context.js';
import { elapsedMs, writeStatus, type Run, type StepResult } from '../run.js';
import { progressing, summarise } from '../summary.js';
import { failRun } from './fail.js';

/** Scales the workload back to the recorded replicas and drops the annotation; does not wait. */
export async function releaseWorkload(
  kube: KubeClient,
  namespace: string,
  workload: WorkloadRef,
  originalReplicas: number,
): Promise<void> {
  const ref = { namespace, name: workload.name };
  const state = await kube.getWorkload(workload.kind, ref);
  if (!state) return;
  if (state.replicas !== originalReplicas) await kube.scaleWorkload(workload.kind, ref, originalReplicas);
  if (Annotation.originalReplicas in state.annotations) {
    await kube.annotateWorkload(workload.kind, ref, { [Annotation.originalReplicas]: null });
  }
}

function describe(workload: WorkloadRef, namespace: string): string {
  return `${workload.kind} ${namespace}/${workload.name}`;
}

/** Records the original replicas (status, then an annotation), scales to 0 and waits until no pods are left. */
export async function scaleDown(run: Run, workload: WorkloadRef): Promise<StepResult> {
  const { kube } = run.ctx;
  const namespace = run.object.metadata.namespace;
  const ref = { namespace, name: workload.name };
  const state = await kube.getWorkload(workload.kind, ref);
  if (!state)
    return failRun(
      run,
      Reason.WorkloadNotFound,
      `${describe(workload, namespace)} disappeared during the run`,
    );
  let original = run.object.status?.workload?.originalReplicas;
  if (original === undefined) {
    const annotated = Number(state.annotations[Annotation.originalReplicas]);
    original = Number.isInteger(annotated) && annotated >= 0 ? annotated : state.replicas;
    const recorded = original;
    await writeStatus(run, () => ({ workload: { originalReplicas: recorded } }));
  }
  if (state.annotations[Annotation.originalReplicas] !== String(original)) {
    await kube.annotateWorkload(workload.kind, ref, { [Annotation.originalReplicas]: String(original) });
  }
  if (state.replicas !== 0) {
    await kube.scaleWorkload(workload.kind, ref, 0);
    observerOf(run.ctx).event(
      run.object,
      'Normal',
      'ScalingDown',
      `scaling ${describe(workload, namespace)} from ${original} to 0 replicas`,
    );
  }
  const now = run.ctx.now();
  if (state.replicas !== 0 || state.currentReplicas > 0) {
    if (elapsedMs(run) > run.timeouts.scaleDown) {
      return failRun(
        run,
        Reason.ScaleDownTimedOut,
        `${describe(workload, namespace)} still has pods after ${run.spec.timeouts.scaleDown}`,
      );
    }
    const message = `scaling ${describe(workload, namespace)} from ${original} to 0 replicas`;
    await writeStatus(run, (o) =>
      summarise(o, progressing(Phase.ScalingDown, Reason.ScalingDown, message), now),
    );
    return pollWorkload;
  }
  // Recorded once: later reconciles of this run pass through without writing (the phase moves on).
  const recorded = run.object.status?.conditions?.some(
    (c) => c.type === ConditionType.WorkloadScaledDown && c.status === ConditionStatus.True,
  );
  if (recorded) return 'continue';
  await writeStatus(run, (o) =>
    summarise(
      o,
      progressing(Phase.ScalingDown, Reason.ScaledDown, `${describe(workload, namespace)} is at 0 replicas`),
      now,
      [
        {
          type: ConditionType.WorkloadScaledDown,
          status: ConditionStatus.True,
          reason: Reason.ScaledDown,
          message: `was ${original} replicas`,
        },
      ],
    ),
  );
  return 'continue';
}

/** Scales the workload back to the recorded replicas and waits until they are all there. */
export async function restoreWorkload(run: Run, workload: WorkloadRef): Promise<StepResult> {
  const original = run.object.status?.workload?.originalReplicas;
  if (original === undefined) return 'continue';
  const { kube } = run.ctx;
  const namespace = run.object.metadata.namespace;
  const ref = { namespace, name: workload.name };
  const now = run.ctx.now();
  await releaseWorkload(kube, namespace, workload, original);
  const state = await kube.getWorkload(workload.kind, ref);
  // Back means serving: the recorded replicas exist and are available, not merely created.
  if (state && (state.currentReplicas !== original || state.availableReplicas < original)) {
    const message = `restoring ${describe(workload, namespace)} to ${original} replicas`;
    await writeStatus(run, (o) =>
      summarise(o, progressing(Phase.RestoringWorkload, Reason.RestoringWorkload, message), now),
    );
    return pollWorkload;
  }
  await writeStatus(run, (o) => ({
    ...summarise(
      o,
      progressing(
        Phase.RestoringWorkload,
        Reason.WorkloadRestored,
        `${describe(workload, namespace)} is back`,
      ),
      now,
      [
        {
          type: ConditionType.WorkloadScaledDown,
          status: ConditionStatus.False,
          reason: Reason.WorkloadRestored,
          message: `back to ${original} replicas`,
        },
      ],
    ),
    workload: null,
  }));
  observerOf(run.ctx).event(
    run.object,
    'Normal',
    'WorkloadRestored',
    `${describe(workload, namespace)} is back to ${original} replicas`,
  );
  return 'continue';
}
