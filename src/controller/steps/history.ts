import { kubeTimestamp } from '../../api/v1alpha1/set-condition.js';
import {
  HISTORY_LIMIT,
  type HistoryEntry,
  type Outcome,
  type Plan,
  type SchemaMigrationStatus,
} from '../../api/v1alpha1/status.js';
import { observerOf } from '../context.js';
import { writeStatus, type Run } from '../run.js';

/** Seconds from an RFC 3339 time to a moment, never negative. */
export function secondsSince(from: string, to: Date): number {
  return Math.max(0, (to.getTime() - Date.parse(from)) / 1000);
}

/** Downtime as status records it: to 0.1 s. */
const tenths = (seconds: number) => Math.round(seconds * 10) / 10;

/**
 * How long the run kept its workload down: from the scale-down request to the workload seen ready again. A
 * workload still held (a failed run, before its release) has no downtime yet; a run that never asked for a
 * scale-down has none at all.
 */
function downtimeOf(plan: Plan, status: SchemaMigrationStatus | undefined, now: Date): number | undefined {
  if (!plan.scaleDownAt) return undefined;
  if (plan.workloadReadyAt) return tenths(secondsSince(plan.scaleDownAt, new Date(plan.workloadReadyAt)));
  if (status?.workload) return undefined;
  return tenths(secondsSince(plan.scaleDownAt, now));
}

/** The run's whole backup (before the scale-down, or its only one), if it finished. */
function runBackupFile(run: Run): string | undefined {
  const status = run.object.status;
  const job = status?.plan?.backupJob;
  if (job === undefined) return undefined;
  return (
    status?.backups?.find((b) => b.job === job)?.file ??
    (status?.lastBackup?.job === job ? status.lastBackup.file : undefined)
  );
}

/** The run as one history line, put in front of the older ones (newest first, at most HISTORY_LIMIT). */
export function historyWith(run: Run, outcome: Outcome, now: Date): HistoryEntry[] {
  // The plan as last written: the steps of this reconcile may have added the downtime's ends.
  const plan = run.object.status?.plan ?? run.plan;
  const startedAt = plan.startedAt ?? kubeTimestamp(now);
  const backup = runBackupFile(run);
  const downtimeSeconds = downtimeOf(plan, run.object.status, now);
  const entry: HistoryEntry = {
    from: plan.from ?? 'base',
    to: plan.to ?? 'base',
    direction: plan.direction,
    startedAt,
    finishedAt: kubeTimestamp(now),
    outcome,
    ...(downtimeSeconds === undefined ? {} : { downtimeSeconds }),
    ...(backup ? { backupFile: backup } : {}),
    ...(plan.restore ? { restoredFrom: plan.restore.file } : { planHash: plan.hash }),
  };
  return [entry, ...(run.object.status?.history ?? [])].slice(0, HISTORY_LIMIT);
}

/**
 * A failed run gave its workload back: the record goes, and the run's history entry gets its downtime, from the
 * scale-down request to the release (the histogram sees it once, when it is written).
 */
export async function recordRelease(run: Run): Promise<void> {
  const releasedAt = run.ctx.now();
  let downtime: number | undefined;
  await writeStatus(run, (o) => {
    const [entry, ...older] = o.status?.history ?? [];
    const plan = o.status?.plan;
    downtime = undefined;
    const ours = entry?.outcome === 'Failed' && entry.startedAt === plan?.startedAt;
    if (!entry || !ours || !plan.scaleDownAt || entry.downtimeSeconds !== undefined)
      return { workload: null };
    downtime = tenths(secondsSince(plan.scaleDownAt, releasedAt));
    return { workload: null, history: [{ ...entry, downtimeSeconds: downtime }, ...older] };
  });
  if (downtime !== undefined) observerOf(run.ctx).downtime(downtime);
}
