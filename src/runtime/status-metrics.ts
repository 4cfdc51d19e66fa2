import { ConditionType } from '../api/v1alpha1/conditions.js';
import type { HistoryEntry } from '../api/v1alpha1/status.js';
import type { KubeClient, ObjectRef, StoredSchemaMigration } from '../kube/types.js';
import type { OperatorMetrics } from './metrics.js';

const keyOf = (ref: ObjectRef) => `${ref.namespace}/${ref.name}`;
const identity = (entry: HistoryEntry | undefined) =>
  entry && [entry.startedAt, entry.finishedAt, entry.outcome, entry.from, entry.to].join('|');

/**
 * The operator's client, with the metrics that follow status read off every SchemaMigration it reads or
 * writes: the Stalled gauge and the held-workload gauge as status says, and a run counted as ended when this
 * process writes its history entry (status is the record: every way a run ends writes one entry, once).
 */
export function observingStatus(kube: KubeClient, metrics: OperatorMetrics): KubeClient {
  // The newest history entry last seen per object: a write that puts another in front ends a run.
  const newest = new Map<string, string | undefined>();
  const seen = (ref: ObjectRef, object: StoredSchemaMigration | undefined) => {
    if (!object) {
      newest.delete(keyOf(ref));
      metrics.forget(ref);
      return;
    }
    const stalled = object.status?.conditions?.find(
      (c) => c.type === ConditionType.Stalled && c.status === 'True',
    );
    metrics.stalled(ref, stalled?.reason);
    metrics.workloadScaledDown(ref, object.status?.workload !== undefined);
    newest.set(keyOf(ref), identity(object.status?.history?.[0]));
  };
  return {
    ...kube,
    getSchemaMigration: async (ref) => {
      const object = await kube.getSchemaMigration(ref);
      seen(ref, object);
      return object;
    },
    patchSchemaMigrationStatus: async (ref, status, resourceVersion) => {
      const object = await kube.patchSchemaMigrationStatus(ref, status, resourceVersion);
      const entry = (status.history as HistoryEntry[] | undefined)?.[0];
      if (entry && identity(entry) !== newest.get(keyOf(ref))) metrics.runEnded(entry.outcome);
      seen(ref, object);
      return object;
    },
  };
}
