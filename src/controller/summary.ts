import { ConditionStatus, ConditionType, Reason } from '../api/v1alpha1/conditions.js';
import { Phase } from '../api/v1alpha1/phases.js';
import { setCondition, type ConditionChange } from '../api/v1alpha1/set-condition.js';
import type { Condition } from '../api/v1alpha1/status.js';
import type { StatusChanges } from '../status/patch.js';
import type { StoredSchemaMigration } from '../kube/types.js';

/** The kstatus picture of a SchemaMigration: Ready, Reconciling and Stalled, and the phase for humans. */
export interface Summary {
  readonly phase: Phase;
  readonly ready: boolean;
  readonly reconciling: boolean;
  readonly stalled: boolean;
  readonly reason: string;
  readonly message: string;
}

export const progressing = (phase: Phase, reason: string, message: string): Summary => ({
  phase,
  ready: false,
  reconciling: true,
  stalled: false,
  reason,
  message,
});

export const atTarget = (message: string): Summary => ({
  phase: Phase.Ready,
  ready: true,
  reconciling: false,
  stalled: false,
  reason: Reason.AtTargetRevision,
  message,
});

/** A human is needed: refused before acting (Stalled) or a failed run (Failed). */
export const stalled = (reason: string, message: string, phase: Phase = Phase.Stalled): Summary => ({
  phase,
  ready: false,
  reconciling: false,
  stalled: true,
  reason,
  message,
});

const status = (value: boolean) => (value ? ConditionStatus.True : ConditionStatus.False);

/**
 * The generation the conditions describe: while a run is under way, the one whose spec it carries out (a spec
 * changed mid-run is not observed until that run ends and the next one starts); otherwise the current one.
 */
export function describedGeneration(object: StoredSchemaMigration): number {
  const plan = object.status?.plan;
  if (plan?.startedAt && plan.generation !== undefined) return plan.generation;
  return object.metadata.generation ?? 0;
}

/** Applies condition changes on top of the stored conditions. */
export function conditionsWith(
  object: StoredSchemaMigration,
  changes: readonly ConditionChange[],
  now: Date,
): Condition[] {
  const generation = describedGeneration(object);
  return changes.reduce<Condition[]>(
    (list, change) => setCondition(list, change, generation, now),
    object.status?.conditions ?? [],
  );
}

/**
 * At the target, the step conditions agree with Ready whatever write was lost before: Migrated is True and a
 * workload once scaled down is back.
 */
function agreeingWithReady(object: StoredSchemaMigration, summary: Summary): ConditionChange[] {
  if (!summary.ready) return [];
  const scaled = object.status?.conditions?.find((c) => c.type === ConditionType.WorkloadScaledDown);
  return [
    {
      type: ConditionType.Migrated,
      status: ConditionStatus.True,
      reason: Reason.AtTargetRevision,
      message: summary.message,
    },
    ...(scaled?.status === ConditionStatus.True
      ? [
          {
            type: ConditionType.WorkloadScaledDown,
            status: ConditionStatus.False,
            reason: Reason.WorkloadRestored,
            message: 'the workload is back',
          },
        ]
      : []),
  ];
}

/** The status changes that show a summary, plus any step conditions. */
export function summarise(
  object: StoredSchemaMigration,
  summary: Summary,
  now: Date,
  steps: readonly ConditionChange[] = [],
): StatusChanges {
  const idle = summary.ready ? Reason.AtTargetRevision : summary.reason;
  const changes: ConditionChange[] = [
    {
      type: ConditionType.Ready,
      status: status(summary.ready),
      reason: summary.reason,
      message: summary.message,
    },
    {
      type: ConditionType.Reconciling,
      status: status(summary.reconciling),
      reason: summary.reconciling ? summary.reason : idle,
      message: summary.reconciling ? summary.message : '',
    },
    {
      type: ConditionType.Stalled,
      status: status(summary.stalled),
      reason: summary.stalled ? summary.reason : Reason.Progressing,
      message: summary.stalled ? summary.message : '',
    },
    ...agreeingWithReady(object, summary),
    ...steps,
  ];
  return {
    phase: summary.phase,
    observedGeneration: describedGeneration(object),
    conditions: conditionsWith(object, changes, now),
  };
}
