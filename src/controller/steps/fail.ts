import { Annotation } from '../../api/v1alpha1/keys.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import { kubeTimestamp } from '../../api/v1alpha1/set-condition.js';
import { DONE, observerOf, type ReconcileResult } from '../context.js';
import { setFinalizer } from '../finalizer.js';
import { writeStatus, type Run, type StepResult } from '../run.js';
import { stalled, summarise } from '../summary.js';
import { historyWith } from './history.js';
import { releaseWorkload, workloadRecord } from './workload.js';

/**
 * Ends a run that failed after it began acting: the failure is written first (so a restart finishes this
 * and never retries the run), then policy.onFailure is applied and the plan cleared.
 */
export async function failRun(run: Run, reason: string, message: string): Promise<StepResult> {
  const now = run.ctx.now();
  const keepDown =
    run.spec.policy.onFailure === 'KeepWorkloadDown' && run.object.status?.workload !== undefined;
  const detail = keepDown ? `${message}; the workload is kept at 0 replicas (policy.onFailure)` : message;
  run.log.warn({ reason }, 'run failed');
  observerOf(run.ctx).event(run.object, 'Warning', reason, detail);
  await writeStatus(run, (o) => ({
    ...summarise(o, stalled(reason, detail, Phase.Failed), now),
    failure: {
      // The run's generation: a spec changed mid-run gets a run of its own.
      generation: run.plan.generation ?? o.metadata.generation ?? 0,
      ...(o.metadata.annotations?.[Annotation.retry]
        ? { retry: o.metadata.annotations[Annotation.retry] }
        : {}),
      reason,
      failedAt: kubeTimestamp(now),
    },
    history: historyWith(run, 'Failed', now),
  }));
  return settleFailure(run);
}

/** Applies policy.onFailure to a failed run and clears its plan; safe to repeat after a restart. */
export async function settleFailure(run: Run): Promise<ReconcileResult> {
  const record = workloadRecord(run.object, run.spec.workload);
  const keepDown = run.spec.policy.onFailure === 'KeepWorkloadDown';
  if (record && !keepDown) {
    await releaseWorkload(run.ctx.kube, run.object.metadata.namespace, record);
    await writeStatus(run, () => ({ workload: null }));
  }
  await writeStatus(run, () => ({ plan: null }));
  if (!keepDown || !record) run.object = await setFinalizer(run.ctx.kube, run.object, false);
  return DONE;
}
