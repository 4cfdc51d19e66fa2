import { ConditionStatus, ConditionType } from '../api/v1alpha1/index.js';
import type { StoredSchemaMigration } from '../kube/types.js';
import { conditionOf, isCurrent } from './view.js';

/** Where a SchemaMigration stands for its current generation, as `wait` and `rollback` read it (kstatus). */
export type Readiness =
  | { readonly kind: 'ready' }
  | { readonly kind: 'stalled'; readonly reason: string; readonly message: string }
  | { readonly kind: 'progressing'; readonly reason: string; readonly message: string }
  /** The operator has not reported on this generation yet. */
  | { readonly kind: 'unobserved' };

export function readinessOf(object: StoredSchemaMigration): Readiness {
  const stalled = conditionOf(object, ConditionType.Stalled);
  if (stalled?.status === ConditionStatus.True && isCurrent(object, stalled))
    return { kind: 'stalled', reason: stalled.reason, message: stalled.message };
  const ready = conditionOf(object, ConditionType.Ready);
  if (ready?.status === ConditionStatus.True && isCurrent(object, ready)) return { kind: 'ready' };
  const reconciling = conditionOf(object, ConditionType.Reconciling);
  const latest = [reconciling, ready].find((c) => c !== undefined && isCurrent(object, c));
  if (latest === undefined) return { kind: 'unobserved' };
  return { kind: 'progressing', reason: latest.reason, message: latest.message };
}
