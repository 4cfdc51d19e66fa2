import type { V1JobCondition } from '@kubernetes/client-node';
import { ConditionStatus, ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { Annotation } from '../../api/v1alpha1/keys.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import { kubeTimestamp } from '../../api/v1alpha1/set-condition.js';
import type { SchemaMigrationSpec } from '../../api/v1alpha1/spec.js';
import type { BackupRecord, Plan, RestoreRecord } from '../../api/v1alpha1/status.js';
import type { StoredSchemaMigration } from '../../kube/types.js';
import { isAlreadyExists } from '../../kube/types.js';
import { currentRevision } from '../../migrations/engine.js';
import { redact, secretsOf } from '../../redact.js';
import { backupJobName } from '../../specs/backup-job.js';
import { buildRestoreJob, parseRestoreSummary } from '../../specs/restore-job.js';
import type { Logger } from 'pino';
import { MigrationError } from '../../migrations/errors.js';
import { observerOf, poll, TransientError, type ReconcileContext, type ReconcileResult } from '../context.js';
import { setFinalizer } from '../finalizer.js';
import type { Inputs } from '../inputs.js';
import { report, reportTransient } from '../start.js';
import { engineOptions, writeStatus, type Run, type StepResult } from '../run.js';
import { progressing, stalled, summarise, type Summary } from '../summary.js';
import { failRun } from './fail.js';
import { historyWith } from './history.js';
import { replacing, restorePlan, restoringRecord } from './restore-plan.js';
import { jobCondition, jobSucceeded } from './jobs.js';

/** The value of the schemaops.dev/restore annotation, if set. */
export function restoreRequest(object: StoredSchemaMigration): string | undefined {
  const value = object.metadata.annotations?.[Annotation.restore]?.trim();
  return value ? value : undefined;
}

/** A request not acted on yet: the annotation carries a value the last restore record does not. */
export function newRestoreRequest(object: StoredSchemaMigration): string | undefined {
  const request = restoreRequest(object);
  return request !== undefined && request !== object.status?.restore?.request ? request : undefined;
}

/** After a restore, nothing migrates until the generation or the retry annotation changes. */
export function restoreHolds(object: StoredSchemaMigration): boolean {
  const record = object.status?.restore;
  if (record?.outcome !== 'Restored') return false;
  return (
    record.generation === (object.metadata.generation ?? 0) &&
    record.retry === object.metadata.annotations?.[Annotation.retry]
  );
}

/** What a restored database waits for, in words. */
export function restoredMessage(record: RestoreRecord, spec: SchemaMigrationSpec): string {
  const at = record.revision ?? 'base';
  return `restored from ${record.file}: the database is at ${at} and every table has the rows recorded at backup time; nothing migrates by itself: set spec.targetRevision to ${at} to stay here, or change the ${Annotation.retry} annotation to migrate to ${spec.targetRevision} again`;
}

/** The summary a finished restore request keeps showing while its annotation stays (refused or failed). */
export function standingRestore(object: StoredSchemaMigration): Summary | undefined {
  const record = object.status?.restore;
  const request = restoreRequest(object);
  if (!record || request === undefined || record.request !== request) return undefined;
  if (record.outcome === 'Refused')
    return stalled(Reason.RestoreRefused, record.message ?? `the restore of ${record.file} was refused`);
  if (record.outcome === 'Failed')
    return stalled(
      Reason.RestoreFailed,
      record.message ?? `the restore of ${record.file} failed`,
      Phase.Failed,
    );
  return undefined;
}

function knownFiles(backups: readonly BackupRecord[]): string {
  if (backups.length === 0) return 'status.backups is empty';
  const names = backups.slice(0, 5).map((b) => `${b.file} (${b.revision})`);
  return `known backups, newest first: ${names.join(', ')}${backups.length > 5 ? ', …' : ''}`;
}

/** Why a restore request cannot start, touching nothing; undefined when it can. */
export function refuseRestore(
  object: StoredSchemaMigration,
  spec: SchemaMigrationSpec,
  request: string,
): { reason: string; message: string } | undefined {
  const backups = object.status?.backups ?? [];
  const how = `remove the ${Annotation.restore} annotation, or set it to one of status.backups`;
  if (!spec.backup)
    return {
      reason: Reason.RestoreRefused,
      message: `${Annotation.restore}: ${request}: spec.backup is not set, so there is no backup volume to restore from; nothing was touched`,
    };
  const record = backups.find((b) => b.file === request);
  if (!record)
    return {
      reason: Reason.UnknownBackup,
      message: `${Annotation.restore}: ${request} is not a completed, verified backup of this SchemaMigration (${knownFiles(backups)}); nothing was touched; ${how}`,
    };
  if (record.scope === 'Tables')
    return {
      reason: Reason.RestoreRefused,
      message: `${Annotation.restore}: ${request} holds only the tables a run touched, as they were at its scale-down; restored alone it would mix two points in time, so only that run's policy.onFailure: RestoreBackup uses it; nothing was touched; pick a whole backup (${knownFiles(backups.filter((b) => b.scope !== 'Tables'))})`,
    };
  return undefined;
}

/** `<migration>-restore-<10 hex>`: one Job per restore run. */
function restoreJobName(run: Run): string {
  return backupJobName(run.object.metadata.name, run.plan.hash).replace(
    /-backup-([0-9a-f]+)$/,
    '-restore-$1',
  );
}

async function startRestoreJob(run: Run, name: string): Promise<StepResult> {
  const { metadata } = run.object;
  const restore = run.plan.restore!;
  const job = buildRestoreJob({
    name,
    migration: { name: metadata.name, namespace: metadata.namespace, uid: metadata.uid },
    backup: run.spec.backup!,
    databaseSecret: run.spec.database.urlFrom.secretKeyRef,
    file: restore.file,
    countsSha256: restore.countsSha256,
    ...(restore.relationsSha256
      ? { tables: { relationsSha256: restore.relationsSha256, created: restore.created ?? [] } }
      : {}),
    timeoutSeconds: run.timeouts.backup / 1000,
    lockTimeoutMs: run.timeouts.lock,
  });
  try {
    await run.ctx.kube.createJob(job);
    run.log.info({ job: name, file: restore.file }, 'restore started');
    observerOf(run.ctx).event(
      run.object,
      'Normal',
      Reason.Restoring,
      `restore Job ${name} started: ${restore.file}`,
    );
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  return poll;
}

/** Reads the restore Job's outcome into status: restoredAt and the revision the database reports now. */
async function restoreSucceeded(run: Run, name: string, said: string | undefined): Promise<StepResult> {
  const summary = parseRestoreSummary(said);
  if (!summary)
    return failRun(run, Reason.RestoreFailed, `restore Job ${name} completed without its summary`);
  const options = engineOptions(run.spec, run.inputs.databaseUrl, run.log);
  const at = await currentRevision(options).catch(() => run.plan.to ?? 'base');
  const now = run.ctx.now();
  const message = `restored ${summary.restored}: ${summary.tables} tables, ${summary.rows} rows, as recorded; the database is at ${at}`;
  await writeStatus(run, (o) => ({
    ...summarise(o, progressing(Phase.Restoring, Reason.RestoredFromBackup, message), now, [
      {
        type: ConditionType.Migrated,
        status: ConditionStatus.False,
        reason: Reason.RestoredFromBackup,
        message: `at ${at}, restored from ${summary.restored}`,
      },
    ]),
    currentRevision: at,
    ...(o.status?.plan?.restore
      ? { plan: { ...o.status.plan, restore: { ...o.status.plan.restore, restoredAt: kubeTimestamp(now) } } }
      : {}),
  }));
  run.log.info({ job: name, file: summary.restored, revision: at }, 'restored from backup');
  observerOf(run.ctx).event(run.object, 'Normal', 'Restored', message);
  return 'continue';
}

async function restoreJobFailed(run: Run, name: string, failed: V1JobCondition): Promise<StepResult> {
  const { namespace } = run.object.metadata;
  const said = (await run.ctx.kube.getJobPodEnd({ namespace, name }))?.message;
  const detail = redact(said ?? '', secretsOf(run.inputs.databaseUrl)).trim();
  const why =
    failed.reason === 'DeadlineExceeded'
      ? `ran past timeouts.backup (${run.spec.timeouts.backup})`
      : 'failed';
  return failRun(
    run,
    Reason.RestoreFailed,
    `restore Job ${name} ${why}: ${detail || failed.message || 'no message'}`,
  );
}

/** Runs the restore Job for the run's backup (its name recorded first, so a restart adopts it). */
export async function restoreDatabase(run: Run): Promise<StepResult> {
  const restore = run.object.status?.plan?.restore ?? run.plan.restore;
  if (!restore || restore.restoredAt) return 'continue';
  const { namespace } = run.object.metadata;
  const name = restore.job ?? restoreJobName(run);
  if (!restore.job)
    await writeStatus(run, (o) =>
      o.status?.plan?.restore
        ? { plan: { ...o.status.plan, restore: { ...o.status.plan.restore, job: name } } }
        : {},
    );
  const job = await run.ctx.kube.getJob({ namespace, name });
  const failed = job && jobCondition(job, 'Failed');
  if (failed) return restoreJobFailed(run, name, failed);
  const succeeded = job && (await jobSucceeded(run.ctx.kube, { namespace, name }, job));
  if (succeeded) return restoreSucceeded(run, name, succeeded.message);
  const message = `restoring ${restore.file} with Job ${name}: the schemas it covers are replaced in one transaction, then every table's rows are checked`;
  await writeStatus(run, (o) =>
    summarise(o, progressing(Phase.Restoring, Reason.Restoring, message), run.ctx.now()),
  );
  return job ? poll : startRestoreJob(run, name);
}

/** The backup the restore run took before restoring, if it finished. */
function safetyBackupOf(o: StoredSchemaMigration): string | undefined {
  const backup = o.status?.lastBackup;
  return backup && backup.job === o.status?.plan?.backupJob ? backup.file : undefined;
}

/** The record of a restore that just finished: what it restored, where the database is, what holds it. */
function restoredRecord(o: StoredSchemaMigration, run: Run, at: string, now: Date): RestoreRecord {
  const { retry: _earlier, ...base } = o.status?.restore ?? {
    file: run.plan.restore?.file ?? '',
    source: run.plan.restore?.source ?? 'Annotation',
    outcome: 'Restoring',
  };
  const retry = o.metadata.annotations?.[Annotation.retry];
  const safety = safetyBackupOf(o);
  const record: RestoreRecord = {
    ...base,
    outcome: 'Restored',
    revision: at,
    finishedAt: kubeTimestamp(now),
    generation: o.metadata.generation ?? 0,
    ...(retry ? { retry } : {}),
    ...(safety ? { safetyBackup: safety } : {}),
  };
  return { ...record, message: restoredMessage(record, run.spec) };
}

/** A finished restore: the resource waits for a human (Stalled, RestoredFromBackup) and records it. */
export async function finishRestore(run: Run): Promise<void> {
  const now = run.ctx.now();
  const at = run.object.status?.currentRevision ?? run.plan.to ?? 'base';
  await writeStatus(run, (o) => {
    const record = restoredRecord(o, run, at, now);
    return {
      ...summarise(o, stalled(Reason.RestoredFromBackup, record.message ?? '', Phase.Restored), now),
      restore: replacing(o.status?.restore, record),
      history: historyWith(run, 'Succeeded', now),
      currentRevision: at,
      plan: null,
    };
  });
  const message = run.object.status?.restore?.message ?? '';
  const downtime = run.object.status?.history?.[0]?.downtimeSeconds;
  if (downtime !== undefined) observerOf(run.ctx).downtime(downtime);
  run.log.info({ revision: at, file: run.plan.restore?.file }, 'restore finished');
  observerOf(run.ctx).event(run.object, 'Normal', Reason.RestoredFromBackup, message);
}

/** A new restore request while a run is under way: refused and recorded; the run's conditions stay its own. */
export async function refuseDuringRun(target: {
  ctx: ReconcileContext;
  object: StoredSchemaMigration;
}): Promise<void> {
  const request = newRestoreRequest(target.object);
  if (request === undefined) return;
  const message = `${Annotation.restore}: ${request} was refused: a run was under way, and a restore never interrupts one; nothing was touched; remove the annotation and set it again once the run has ended`;
  await writeStatus(target, (o) => ({
    restore: replacing(o.status?.restore, {
      request,
      file: request,
      source: 'Annotation',
      outcome: 'Refused',
      message,
    }),
  }));
  observerOf(target.ctx).event(target.object, 'Warning', Reason.RestoreRefused, message);
}

/**
 * Where restores stand when no run is under way: a removed annotation frees its request (the same file can be
 * asked for again), a refused or failed request shows while its annotation stays, and a restored database waits.
 */
export async function restoreState(
  target: { ctx: ReconcileContext; object: StoredSchemaMigration },
  spec: SchemaMigrationSpec,
): Promise<ReconcileResult | undefined> {
  const { ctx } = target;
  const record = target.object.status?.restore;
  if (restoreRequest(target.object) === undefined && record?.request !== undefined)
    await writeStatus(target, (o) =>
      o.status?.restore ? { restore: replacing(o.status.restore, withoutRequest(o.status.restore)) } : {},
    );
  const standing = standingRestore(target.object);
  if (standing) return report(ctx, target.object, standing);
  const held = target.object.status?.restore;
  if (held && newRestoreRequest(target.object) === undefined && restoreHolds(target.object)) {
    const message = held.message ?? restoredMessage(held, spec);
    return report(ctx, target.object, stalled(Reason.RestoredFromBackup, message, Phase.Restored), {
      plan: null,
    });
  }
  return undefined;
}

function withoutRequest(record: RestoreRecord): RestoreRecord {
  const { request: _removed, ...rest } = record;
  return rest;
}

/** Starts the restore the annotation asks for (the plan in status before any action), or refuses it. */
export async function startRestore(
  target: { ctx: ReconcileContext; object: StoredSchemaMigration },
  spec: SchemaMigrationSpec,
  start: { inputs: Inputs; request: string; log: Logger },
): Promise<{ object: StoredSchemaMigration; plan: Plan } | ReconcileResult> {
  const { ctx } = target;
  const { request, inputs, log } = start;
  const refusal = refuseRestore(target.object, spec, request);
  if (refusal) {
    const { reason, message } = refusal;
    const record: RestoreRecord = {
      request,
      file: request,
      source: 'Annotation',
      outcome: 'Refused',
      message,
    };
    log.warn({ reason, file: request }, 'restore refused');
    return report(ctx, target.object, stalled(reason, message), {
      restore: replacing(target.object.status?.restore, record),
    });
  }
  const backup = target.object.status!.backups!.find((b) => b.file === request)!;
  let from: string;
  try {
    from = await currentRevision(engineOptions(spec, inputs.databaseUrl, log));
  } catch (err) {
    if (!(err instanceof MigrationError)) throw err;
    return reportTransient(ctx, target.object, new TransientError(err.code, err.message, { cause: err }));
  }
  const workload = spec.workload && !inputs.workloadMissing ? spec.workload : undefined;
  const now = ctx.now();
  const plan = restorePlan(target.object, {
    backup,
    source: 'Annotation',
    from,
    ...(workload ? { workload } : {}),
    now,
  });
  if (workload) target.object = await setFinalizer(ctx.kube, target.object, true);
  const message = `restoring ${backup.file} (revision ${backup.revision}, taken ${backup.completedAt}), as the ${Annotation.restore} annotation asks; the database is at ${from}`;
  await writeStatus(target, (o) => ({
    ...summarise(o, progressing(Phase.Restoring, Reason.Restoring, message), now, [
      {
        type: ConditionType.WorkloadScaledDown,
        status: ConditionStatus.False,
        reason: workload ? Reason.ScalingDown : Reason.NoWorkload,
        message: '',
      },
      {
        type: ConditionType.BackedUp,
        status: ConditionStatus.False,
        reason: Reason.BackingUp,
        message: 'a safety backup comes first',
      },
      { type: ConditionType.Migrated, status: ConditionStatus.False, reason: Reason.Restoring, message: '' },
    ]),
    plan,
    restore: replacing(o.status?.restore, restoringRecord(plan, backup, request)),
    currentRevision: from,
    failure: null,
  }));
  log.info({ file: backup.file, from, to: backup.revision }, 'restore started');
  observerOf(ctx).event(target.object, 'Normal', 'RestoreRequested', message);
  return { object: target.object, plan };
}
