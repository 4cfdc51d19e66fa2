import type { V1Job, V1JobCondition } from '@kubernetes/client-node';
import { jobCondition, jobSucceeded } from './jobs.js';
import { ConditionStatus, ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import { kubeTimestamp } from '../../api/v1alpha1/set-condition.js';
import type { BackupSpec } from '../../api/v1alpha1/spec.js';
import { isAlreadyExists } from '../../kube/types.js';
import { redact, secretsOf } from '../../redact.js';
import { createHash, randomBytes } from 'node:crypto';
import {
  backupFileName,
  backupJobName,
  buildBackupJob,
  parseBackupSummary,
  type BackupSummary,
} from '../../specs/backup-job.js';
import {
  CREATED_LIMIT,
  TABLE_ROWS_KEPT,
  TABLE_ROWS_LIMIT,
  type BackupRecord,
} from '../../api/v1alpha1/status.js';
import { planToTarget } from '../../migrations/engine.js';
import { archiveTableName } from '../../migrations/state.js';
import { parseTarget } from '../../migrations/target.js';
import { touchedRelations } from '../../sql/touched.js';
import { observerOf, poll } from '../context.js';
import { deferStatus, engineOptions, writeStatus, type Run, type StepResult } from '../run.js';
import { progressing, summarise } from '../summary.js';
import { failRun } from './fail.js';

/** One Job per run: the plan hash with a nonce, so a retried run never adopts the failed Job of an earlier one. */
function newJobName(run: Run): string {
  const runHash = createHash('sha256')
    .update(`${run.plan.hash}:${randomBytes(8).toString('hex')}`)
    .digest('hex');
  return backupJobName(run.object.metadata.name, runHash);
}

/** Which backup of a run: its only one, the full one before the scale-down, or the touched tables while down. */
export type BackupPart = 'whole' | 'beforeScaleDown' | 'touchedTables';

/** `"schema"."name"`, or `"name"` for a name the session's search_path resolves (as the migration did). */
function quotedName(name: { schema?: string; name: string }): string {
  const quote = (part: string) => `"${part.replace(/"/g, '""')}"`;
  return name.schema === undefined ? quote(name.name) : `${quote(name.schema)}.${quote(name.name)}`;
}

type Touched = { tables: string[]; created: string[] } | { fallback: string };

/** What each run's plan touches, by object uid and plan hash: read before the scale-down, used while down. */
const touchedOfRuns = new Map<string, Touched>();
const TOUCHED_KEPT = 256;

/**
 * The relations the plan touches and creates, read from its parse tree as the engine plans it now; a reason
 * instead when they cannot be told (then the backup while down is a full one, and says why). Planned once per
 * run and process: the backup before the scale-down asks first, so the one while down finds it here.
 */
async function touchedByPlan(run: Run): Promise<Touched> {
  const key = `${run.object.metadata.uid}:${run.plan.hash}`;
  const known = touchedOfRuns.get(key);
  if (known) return known;
  const touched = await planTouched(run);
  if (touchedOfRuns.size >= TOUCHED_KEPT) touchedOfRuns.delete(touchedOfRuns.keys().next().value!);
  touchedOfRuns.set(key, touched);
  return touched;
}

async function planTouched(run: Run): Promise<Touched> {
  const options = engineOptions(run.spec, run.inputs.databaseUrl, run.log);
  const plan = await planToTarget(options, run.inputs.source, parseTarget(run.plan.to ?? 'base'));
  if (plan.hash !== run.plan.hash) return { fallback: 'the plan is no longer the one recorded' };
  const touched = touchedRelations(plan.migrations.flatMap((m) => m.statements));
  if ('undeterminable' in touched)
    return {
      fallback: `the tables the plan touches cannot be told from its SQL (${touched.undeterminable})`,
    };
  if (touched.created.length > CREATED_LIMIT)
    return { fallback: `the plan creates more than ${CREATED_LIMIT} relations` };
  // The engine writes its migrations table and their archive beside whatever the SQL does: they are part of
  // every plan's touched set, and a restore drops them too when the run created them.
  const schema = run.spec.database.migrationsSchema;
  const table = run.spec.database.migrationsTable;
  const engine = [table, archiveTableName({ migrationsTable: table, schema })].map((name) =>
    quotedName({ schema, name }),
  );
  return {
    tables: [...engine, ...touched.relations.map(quotedName)],
    created: [...engine, ...touched.created.map(quotedName)],
  };
}

/**
 * The time that names the new dump: now, or the first later second whose name no listed backup has. Names have
 * a second's resolution, and the whole backup before a scale-down and a whole one while down (a plan whose
 * tables cannot be told) can start within the same second.
 */
function unusedSecond(run: Run, scope: 'full' | 'tables'): Date {
  const status = run.object.status;
  const taken = new Set([
    ...(status?.backups ?? []).map((b) => b.file),
    ...(status?.lastBackup ? [status.lastBackup.file] : []),
  ]);
  let at = run.ctx.now();
  while (taken.has(backupFileName(run.object.metadata.name, at, scope))) at = new Date(at.getTime() + 1000);
  return at;
}

async function startJob(
  run: Run,
  backup: BackupSpec,
  job: { name: string; part: BackupPart; scope: { tables?: string[]; fallback?: string } },
): Promise<StepResult> {
  const { metadata } = run.object;
  const { name, part, scope } = job;
  const built = buildBackupJob({
    migration: { name: metadata.name, namespace: metadata.namespace, uid: metadata.uid },
    planHash: run.plan.hash,
    jobName: name,
    backup,
    databaseSecret: run.spec.database.urlFrom.secretKeyRef,
    timeoutSeconds: run.timeouts.backup / 1000,
    now: unusedSecond(run, scope.tables ? 'tables' : 'full'),
    ...(run.plan.restore ? { protect: run.plan.restore.file } : {}),
    ...scope,
  });
  try {
    await run.ctx.kube.createJob(built);
    run.log.info({ job: name, part }, 'backup started');
    observerOf(run.ctx).event(run.object, 'Normal', 'BackupStarted', `backup Job ${name} started`);
  } catch (err) {
    // Created by an earlier attempt: adopt it and look again.
    if (!isAlreadyExists(err)) throw err;
  }
  return poll;
}

async function backupFailed(run: Run, name: string, failed: V1JobCondition): Promise<StepResult> {
  const namespace = run.object.metadata.namespace;
  const said = (await run.ctx.kube.getJobPodEnd({ namespace, name }))?.message;
  const detail = redact(said ?? '', secretsOf(run.inputs.databaseUrl)).trim();
  const reason = failed.reason === 'DeadlineExceeded' ? Reason.BackupTimedOut : Reason.BackupFailed;
  return failRun(
    run,
    reason,
    `backup Job ${name} failed: ${detail || failed.message || failed.reason || 'no message'}`,
  );
}

/** Whether the Job's dump is recorded already. */
function recorded(run: Run, name: string): boolean {
  const status = run.object.status;
  return status?.lastBackup?.job === name || status?.backups?.some((b) => b.job === name) === true;
}

const JOB_FIELD = {
  whole: 'backupJob',
  beforeScaleDown: 'backupJob',
  touchedTables: 'tablesBackupJob',
} as const;

const RUNNING: Record<BackupPart, string> = {
  whole: 'is running',
  beforeScaleDown: 'is dumping the whole database while the workload still runs',
  touchedTables: 'is dumping the tables the plan touches, with the workload down',
};

/**
 * Runs one backup Job of this run and records the dump: the whole database, the whole database before the
 * scale-down, or the tables the plan touches while down. The Job's name goes to status (with what a restore of
 * the touched tables would drop) in the same write as BackingUp, before the Job exists: a restart finds the
 * name and adopts the Job instead of making another.
 */
export async function backUp(run: Run, backup: BackupSpec, part: BackupPart = 'whole'): Promise<StepResult> {
  const { kube } = run.ctx;
  const namespace = run.object.metadata.namespace;
  const field = JOB_FIELD[part];
  // Planned while the workload still runs, so that the backup while down does not plan again.
  // A database that cannot be read now is the while-down backup's to report.
  if (part === 'beforeScaleDown') await touchedByPlan(run).catch(() => undefined);
  const known = run.object.status?.plan?.[field];
  if (known !== undefined && recorded(run, known)) return 'continue';
  const name = known ?? newJobName(run);
  const job = known === undefined ? undefined : await kube.getJob({ namespace, name });
  const failed = job && jobCondition(job, 'Failed');
  if (failed) return backupFailed(run, name, failed);
  const succeeded = job && (await jobSucceeded(kube, { namespace, name }, job));
  if (succeeded) return backupSucceeded(run, { name, part, said: succeeded.message }, job);
  return job ? running(run, { name, part }) : start(run, backup, { name, part });
}

/** BackingUp, for a Job that already runs. */
async function running(run: Run, job: { name: string; part: BackupPart }): Promise<StepResult> {
  const message = `backup Job ${job.name} ${RUNNING[job.part]}`;
  const now = run.ctx.now();
  await writeStatus(run, (o) => summarise(o, progressing(Phase.BackingUp, Reason.BackingUp, message), now));
  return poll;
}

/**
 * The Job's name (with what a restore of the touched tables would drop) and BackingUp in one write, then the Job.
 * The touched tables were planned before the scale-down (a reason instead when they cannot be told).
 */
async function start(
  run: Run,
  backup: BackupSpec,
  job: { name: string; part: BackupPart },
): Promise<StepResult> {
  const touched = job.part === 'touchedTables' ? await touchedByPlan(run) : undefined;
  const scope = touched === undefined ? {} : 'fallback' in touched ? touched : { tables: touched.tables };
  const created = touched && 'created' in touched ? { created: touched.created } : {};
  const message = `backup Job ${job.name} ${RUNNING[job.part]}`;
  const now = run.ctx.now();
  await writeStatus(run, (o) => ({
    ...summarise(o, progressing(Phase.BackingUp, Reason.BackingUp, message), now),
    ...(o.status?.plan ? { plan: { ...o.status.plan, [JOB_FIELD[job.part]]: job.name, ...created } } : {}),
  }));
  return startJob(run, backup, { ...job, scope });
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

function recordOf(
  run: Run,
  job: { name: string; part: BackupPart },
  summary: BackupSummary,
  now: Date,
): BackupRecord {
  const tableRows =
    summary.tableRows && summary.tableRows.length <= TABLE_ROWS_LIMIT ? summary.tableRows : undefined;
  const whileDown = job.part === 'touchedTables' || (job.part === 'whole' && run.object.status?.workload);
  return {
    file: summary.file,
    job: job.name,
    purpose: run.plan.restore ? 'Safety' : 'Run',
    scope: summary.scope === 'tables' ? 'Tables' : 'Full',
    ...(job.part === 'beforeScaleDown' ? { pointInTime: 'BeforeScaleDown' as const } : {}),
    ...(whileDown ? { pointInTime: 'WhileDown' as const } : {}),
    ...(summary.relationsSha256 ? { relationsSha256: summary.relationsSha256 } : {}),
    ...(summary.fallback ? { fallback: summary.fallback.slice(0, 512) } : {}),
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
function backupSucceeded(
  run: Run,
  done: { name: string; part: BackupPart; said: string | undefined },
  job: V1Job,
): StepResult | Promise<StepResult> {
  const { name } = done;
  const now = run.ctx.now();
  const summary = parseBackupSummary(done.said);
  if (!summary)
    return failRun(run, Reason.BackupFailed, `backup Job ${name} completed without reporting its file`);
  const record = recordOf(run, done, summary, now);
  const checked =
    summary.verified === 'Restore' ? 'read back and restored into a scratch database' : 'read back';
  const what = `${summary.file} (${summary.sizeBytes} bytes, ${summary.tables} tables, ${summary.rows} rows, ${checked})`;
  // The next step writes before it acts (the scale-down, SQL, a restore Job) and takes this along; a Job that is
  // Complete but not recorded is recorded again after a restart.
  deferStatus(run, (o) => ({
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
