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

/** Applies condition changes on top of the stored conditions. */
export function conditionsWith(
  object: StoredSchemaMigration,
  changes: readonly ConditionChange[],
  now: Date,
): Condition[] {
  const generation = object.metadata.generation ?? 0;
  return changes.reduce<Condition[]>(
    (list, change) => setCondition(list, change, generation, now),
    object.status?.conditions ?? [],
  );
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
    ...steps,
  ];
  return {
    phase: summary.phase,
    observedGeneration: object.metadata.generation ?? 0,
    conditions: conditionsWith(object, changes, now),
  };
}
