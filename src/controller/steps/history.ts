import { kubeTimestamp } from '../../api/v1alpha1/set-condition.js';
import { HISTORY_LIMIT, type HistoryEntry, type Outcome } from '../../api/v1alpha1/status.js';
import type { Run } from '../run.js';

/** The run as one history line, put in front of the older ones (newest first, at most HISTORY_LIMIT). */
export function historyWith(run: Run, outcome: Outcome, now: Date): HistoryEntry[] {
  const { plan } = run;
  const startedAt = plan.startedAt ?? kubeTimestamp(now);
  const backup = run.object.status?.lastBackup;
  const entry: HistoryEntry = {
    from: plan.from ?? 'base',
    to: plan.to ?? 'base',
    direction: plan.direction,
    startedAt,
    finishedAt: kubeTimestamp(now),
    outcome,
    ...(run.spec.workload
      ? { downtimeSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(startedAt)) / 1000)) }
      : {}),
    ...(backup && backup.job === run.object.status?.plan?.backupJob ? { backupFile: backup.file } : {}),
    ...(plan.restore ? { restoredFrom: plan.restore.file } : { planHash: plan.hash }),
  };
  return [entry, ...(run.object.status?.history ?? [])].slice(0, HISTORY_LIMIT);
}
