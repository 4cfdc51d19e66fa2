import type { V1Job, V1JobCondition } from '@kubernetes/client-node';
import { ConditionStatus, ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import { kubeTimestamp } from '../../api/v1alpha1/set-condition.js';
import type { BackupSpec } from '../../api/v1alpha1/spec.js';
import { isAlreadyExists } from '../../kube/types.js';
import { redact, secretsOf } from '../../redact.js';
import { createHash, randomBytes } from 'node:crypto';
import {
  backupJobName,
  buildBackupJob,
  parseBackupSummary,
  type BackupSummary,
} from '../../specs/backup-job.js';
import { TABLE_ROWS_KEPT, TABLE_ROWS_LIMIT, type BackupRecord } from '../../api/v1alpha1/status.js';
import { observerOf, poll } from '../context.js';
import { writeStatus, type Run, type StepResult } from '../run.js';
import { progressing, summarise } from '../summary.js';
import { failRun } from './fail.js';

function finished(job: V1Job, type: 'Complete' | 'Failed') {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** One Job per run: the plan hash with a nonce, so a retried run never adopts the failed Job of an earlier one. */
function newJobName(run: Run): string {
  const runHash = createHash('sha256')
    .update(`${run.plan.hash}:${randomBytes(8).toString('hex')}`)
    .digest('hex');
  return backupJobName(run.object.metadata.name, runHash);
}

async function startJob(run: Run, backup: BackupSpec, name: string): Promise<StepResult> {
  const { metadata } = run.object;
  const job = buildBackupJob({
    migration: { name: metadata.name, namespace: metadata.namespace, uid: metadata.uid },
    planHash: run.plan.hash,
    jobName: name,
    backup,
    databaseSecret: run.spec.database.urlFrom.secretKeyRef,
    timeoutSeconds: run.timeouts.backup / 1000,
    now: run.ctx.now(),
    ...(run.plan.restore ? { protect: run.plan.restore.file } : {}),
  });
  try {
    await run.ctx.kube.createJob(job);
    run.log.info({ job: name }, 'backup started');
    observerOf(run.ctx).event(run.object, 'Normal', 'BackupStarted', `backup Job ${name} started`);
  } catch (err) {
    // Created by an earlier attempt: adopt it and look again.
    if (!isAlreadyExists(err)) throw err;
  }
  return poll;
}

async function backupFailed(run: Run, name: string, failed: V1JobCondition): Promise<StepResult> {
  const namespace = run.object.metadata.namespace;
  const said = await run.ctx.kube.getJobTerminationMessage({ namespace, name });
  const detail = redact(said ?? '', secretsOf(run.inputs.databaseUrl)).trim();
  const reason = failed.reason === 'DeadlineExceeded' ? Reason.BackupTimedOut : Reason.BackupFailed;
  return failRun(
    run,
    reason,
    `backup Job ${name} failed: ${detail || failed.message || failed.reason || 'no message'}`,
  );
}

/** Runs the backup Job for this plan (one per plan hash, adopted if it exists) and records the dump. */
export async function backUp(run: Run, backup: BackupSpec): Promise<StepResult> {
  const { kube } = run.ctx;
  const namespace = run.object.metadata.namespace;
  const name = run.object.status?.plan?.backupJob ?? newJobName(run);
  // Intent first: a restart finds the name in status and adopts the Job instead of making another.
  await writeStatus(run, (o) => (o.status?.plan ? { plan: { ...o.status.plan, backupJob: name } } : {}));
  if (run.object.status?.lastBackup?.job === name) return 'continue';
  const now = run.ctx.now();
  const job = await kube.getJob({ namespace, name });
  const failed = job && finished(job, 'Failed');
  if (failed) return backupFailed(run, name, failed);
  if (!job || !finished(job, 'Complete')) {
    await writeStatus(run, (o) =>
      summarise(o, progressing(Phase.BackingUp, Reason.BackingUp, `backup Job ${name} is running`), now),
    );
    return job ? poll : startJob(run, backup, name);
  }
  return backupSucceeded(run, job, name);
}

/** The backups list with a new one in front: pruned files out, per-table counts only on the newest few. */
function backupsWith(run: Run, record: BackupRecord, pruned: readonly string[]): BackupRecord[] {
  const older = (run.object.status?.backups ?? []).filter(
    (b) => b.file !== record.file && !pruned.includes(b.file),
  );
  const limit = (run.spec.backup?.retain ?? 1) + 1; // the newest `retain`, and one a restore protected
  return [record, ...older].slice(0, limit).map((b, i) => {
    if (i < TABLE_ROWS_KEPT || !b.tableRows) return b;
    const { tableRows: _dropped, ...rest } = b;
    return rest;
  });
}

function recordOf(run: Run, name: string, summary: BackupSummary, now: Date): BackupRecord {
  const tableRows =
    summary.tableRows && summary.tableRows.length <= TABLE_ROWS_LIMIT ? summary.tableRows : undefined;
  return {
    file: summary.file,
    job: name,
    purpose: run.plan.restore ? 'Safety' : 'Run',
    revision: run.plan.from ?? 'base',
    completedAt: kubeTimestamp(now),
    sizeBytes: summary.sizeBytes,
    ...(summary.compression ? { compression: summary.compression } : {}),
    verified: summary.verified,
    tables: summary.tables,
    rows: summary.rows,
    countsSha256: summary.countsSha256,
    ...(tableRows ? { tableRows: [...tableRows] } : {}),
  };
}

/** Records the finished dump in status (lastBackup, backups, BackedUp) from the Job's termination message. */
async function backupSucceeded(run: Run, job: V1Job, name: string): Promise<StepResult> {
  const namespace = run.object.metadata.namespace;
  const now = run.ctx.now();
  const summary = parseBackupSummary(await run.ctx.kube.getJobTerminationMessage({ namespace, name }));
  if (!summary)
    return failRun(run, Reason.BackupFailed, `backup Job ${name} completed without reporting its file`);
  const record = recordOf(run, name, summary, now);
  const checked =
    summary.verified === 'Restore' ? 'read back and restored into a scratch database' : 'read back';
  const what = `${summary.file} (${summary.sizeBytes} bytes, ${summary.tables} tables, ${summary.rows} rows, ${checked})`;
  await writeStatus(run, (o) => ({
    ...summarise(
      o,
      progressing(Phase.BackingUp, Reason.BackupSucceeded, `backed up to ${summary.file}`),
      now,
      [
        {
          type: ConditionType.BackedUp,
          status: ConditionStatus.True,
          reason: Reason.BackupSucceeded,
          message: what,
        },
      ],
    ),
    lastBackup: {
      file: summary.file,
      job: name,
      completedAt: kubeTimestamp(now),
      sizeBytes: summary.sizeBytes,
    },
    backups: backupsWith({ ...run, object: o }, record, summary.pruned),
  }));
  run.log.info(
    { job: name, file: summary.file, tables: summary.tables, rows: summary.rows },
    'backup succeeded',
  );
  const started = job.status?.startTime?.getTime();
  if (started !== undefined) observerOf(run.ctx).backedUp((now.getTime() - started) / 1000);
  observerOf(run.ctx).event(run.object, 'Normal', 'BackupSucceeded', `${what} by Job ${name}`);
  return 'continue';
}
