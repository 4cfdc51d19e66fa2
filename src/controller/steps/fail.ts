import { Annotation } from '../../api/v1alpha1/keys.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import { kubeTimestamp } from '../../api/v1alpha1/set-condition.js';
import type { BackupRecord, Plan, RestoreRecord } from '../../api/v1alpha1/status.js';
import type { StoredSchemaMigration } from '../../kube/types.js';
import { failureLogFields } from '../../migrations/errors.js';
import { redact, secretsOf } from '../../redact.js';
import { DONE, observerOf, poll, type ReconcileResult } from '../context.js';
import { setFinalizer } from '../finalizer.js';
import { flushStatus, writeStatus, type Run, type StepResult } from '../run.js';
import { stalled, summarise } from '../summary.js';
import { historyWith, recordRelease } from './history.js';
import { replacing, restorePlan, restoringRecord } from './restore-plan.js';
import { releaseWorkload, workloadRecord } from './workload.js';

/** What a failure left in the database, as far as the step that failed knows. */
export interface FailureDetail {
  /** Part of the plan committed: the database is not exactly at the run's starting revision. */
  readonly databaseChanged?: boolean;
  /** The revision the database is at after the failure, when known. */
  readonly revision?: string;
  /** The error the step failed with: the log line carries its file, line and PostgreSQL's error. */
  readonly cause?: unknown;
}

/** The retry annotation's value, to record with an outcome that waits for it to change. */
function retryOf(o: StoredSchemaMigration): { retry?: string } {
  const retry = o.metadata.annotations?.[Annotation.retry];
  return retry ? { retry } : {};
}

function withoutRetry(record: RestoreRecord): Omit<RestoreRecord, 'retry'> {
  const { retry: _earlier, ...rest } = record;
  return rest;
}

/** The backup this run took, if it completed and is listed. */
function runBackup(run: Run): BackupRecord | undefined {
  const plan = run.object.status?.plan;
  // With a workload the run's whole backup was taken while the app still ran: writes after it are not in it.
  // What it took while down (the touched tables, or the whole database when those could not be told) is exact.
  const job = plan?.tablesBackupJob ?? (plan?.workload ? undefined : plan?.backupJob);
  return job === undefined ? undefined : run.object.status?.backups?.find((b) => b.job === job);
}

/**
 * Ends a run that failed after it began acting: the failure is written first (so a restart finishes this
 * and never retries the run), then policy.onFailure is applied and the plan cleared. With RestoreBackup and a
 * database the run changed, the same write turns the run into a restore of the run's own backup.
 */
export async function failRun(
  run: Run,
  reason: string,
  message: string,
  detail: FailureDetail = {},
): Promise<StepResult> {
  // What a step deferred (a backup recorded) is in status before the failure is decided from it.
  await flushStatus(run);
  if (run.plan.restore) return failRestore(run, reason, message);
  const now = run.ctx.now();
  const { onFailure } = run.spec.policy;
  const backup = onFailure === 'RestoreBackup' && detail.databaseChanged ? runBackup(run) : undefined;
  const keepDown = onFailure === 'KeepWorkloadDown' && run.object.status?.workload !== undefined;
  const said = backup
    ? `${message}; restoring the run's backup ${backup.file} (policy.onFailure: RestoreBackup)`
    : keepDown
      ? `${message}; the workload is kept at 0 replicas (policy.onFailure)`
      : message;
  const secrets = secretsOf(run.inputs.databaseUrl);
  const logged = { reason, message: redact(said, secrets), ...failureLogFields(detail.cause, secrets) };
  run.log.error(logged, 'run failed');
  observerOf(run.ctx).event(run.object, 'Warning', reason, said);
  const restore = backup ? restoreAfter(run, backup, { now, from: detail.revision }) : undefined;
  await writeStatus(run, (o) => ({
    ...summarise(o, stalled(reason, said, restore ? Phase.Restoring : Phase.Failed), now),
    failure: {
      // The run's generation: a spec changed mid-run gets a run of its own.
      generation: run.plan.generation ?? o.metadata.generation ?? 0,
      ...retryOf(o),
      reason,
      failedAt: kubeTimestamp(now),
    },
    history: historyWith(run, 'Failed', now),
    ...(restore ? { plan: restore.plan, restore: restore.record } : {}),
  }));
  return restore ? poll : settleFailure(run);
}

/** The restore run that follows a failed run under RestoreBackup: same workload, same generation. */
function restoreAfter(
  run: Run,
  backup: BackupRecord,
  at: { now: Date; from: string | undefined },
): { plan: Plan; record: RestoreRecord } {
  const { now } = at;
  const plan: Plan = {
    ...restorePlan(run.object, {
      backup,
      source: 'OnFailure',
      from: at.from ?? run.plan.from ?? 'base',
      ...(run.plan.workload ? { workload: run.plan.workload } : {}),
      now,
      created: run.object.status?.plan?.created ?? [],
    }),
    ...(run.plan.generation !== undefined ? { generation: run.plan.generation } : {}),
    // The app stays down through the restore: its downtime counts from the failed run's scale-down.
    ...(run.object.status?.plan?.scaleDownAt ? { scaleDownAt: run.object.status.plan.scaleDownAt } : {}),
  };
  const old = run.object.status?.restore;
  return { plan, record: replacing(old, restoringRecord(plan, backup, old?.request)) };
}

/**
 * A restore that failed: its Job commits only after every check passed, so the database is as it was. The
 * workload comes back whatever policy.onFailure says, and the record waits for the annotation to change.
 */
async function failRestore(run: Run, reason: string, message: string): Promise<StepResult> {
  const now = run.ctx.now();
  const said = `${message}; the database is as it was before the restore, and the workload is brought back`;
  run.log.warn({ reason, file: run.plan.restore?.file }, 'restore failed');
  observerOf(run.ctx).event(run.object, 'Warning', reason, said);
  await writeStatus(run, (o) => ({
    ...summarise(o, stalled(reason, said, Phase.Failed), now),
    restore: replacing(o.status?.restore, {
      ...withoutRetry(
        o.status?.restore ?? {
          file: run.plan.restore?.file ?? '',
          source: 'Annotation',
          outcome: 'Restoring',
        },
      ),
      outcome: 'Failed',
      message: said,
      finishedAt: kubeTimestamp(now),
      generation: o.metadata.generation ?? 0,
      ...retryOf(o),
    }),
    history: historyWith(run, 'Failed', now),
  }));
  return settleFailure(run);
}

/** Applies policy.onFailure to a failed run and clears its plan; safe to repeat after a restart. */
export async function settleFailure(run: Run): Promise<ReconcileResult> {
  const record = workloadRecord(run.object, run.spec.workload);
  // A failed restore left the database as it was: the app comes back whatever the policy.
  const keepDown = run.spec.policy.onFailure === 'KeepWorkloadDown' && !run.plan.restore;
  if (record && !keepDown) {
    await releaseWorkload(run.ctx.kube, run.object.metadata.namespace, record);
    await recordRelease(run);
  }
  await writeStatus(run, () => ({ plan: null }));
  if (!keepDown || !record) run.object = await setFinalizer(run.ctx.kube, run.object, false);
  return DONE;
}

/** Whether the run in status already ended in failure and only its settling is left (after a restart). */
export function failedAlready(run: Run): boolean {
  if (run.plan.restore) return run.object.status?.restore?.outcome === 'Failed';
  return run.object.status?.failure !== undefined;
}
