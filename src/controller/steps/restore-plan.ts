import { createHash } from 'node:crypto';
import { kubeTimestamp } from '../../api/v1alpha1/set-condition.js';
import type {
  BackupRecord,
  Plan,
  RestoreRecord,
  RestoreSource,
  RunWorkload,
} from '../../api/v1alpha1/status.js';
import type { StoredSchemaMigration } from '../../kube/types.js';

/** A restore as a run: scale down, a safety backup, the restore Job, the workload back. */
export function restorePlan(
  object: StoredSchemaMigration,
  restore: {
    backup: BackupRecord;
    source: RestoreSource;
    from: string;
    workload?: RunWorkload;
    now: Date;
    /** What the failed plan created: a restore of only the tables it touched drops these first. */
    created?: readonly string[];
  },
): Plan {
  const startedAt = kubeTimestamp(restore.now);
  const hash = createHash('sha256')
    .update(JSON.stringify({ restore: restore.backup.file, startedAt, uid: object.metadata.uid }))
    .digest('hex');
  return {
    from: restore.from,
    to: restore.backup.revision,
    direction: 'Restore',
    migrations: [],
    destructive: true,
    hash: `sha256:${hash}`,
    startedAt,
    generation: object.metadata.generation ?? 0,
    ...(restore.workload ? { workload: restore.workload } : {}),
    restore: {
      file: restore.backup.file,
      source: restore.source,
      countsSha256: restore.backup.countsSha256,
      ...(restore.backup.scope === 'Tables' && restore.backup.relationsSha256
        ? { relationsSha256: restore.backup.relationsSha256, created: [...(restore.created ?? [])] }
        : {}),
    },
  };
}

/** The restore record of a run that starts restoring `backup`. */
export function restoringRecord(plan: Plan, backup: BackupRecord, request?: string): RestoreRecord {
  return {
    ...(request !== undefined ? { request } : {}),
    file: backup.file,
    source: plan.restore?.source ?? 'Annotation',
    outcome: 'Restoring',
    revision: backup.revision,
    ...(plan.startedAt ? { startedAt: plan.startedAt } : {}),
  };
}

/** `fresh` as a merge patch over `old`: every field `old` has and `fresh` lacks is removed (null). */
export function replacing<T extends object>(old: T | undefined, fresh: T): T {
  const removed = Object.keys(old ?? {})
    .filter((key) => !(key in fresh))
    .map((key) => [key, null]);
  return { ...Object.fromEntries(removed), ...fresh } as T;
}
