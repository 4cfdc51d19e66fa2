import { ConditionStatus, ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import { kubeTimestamp } from '../../api/v1alpha1/set-condition.js';
import { currentRevision, executePlan, type PlanToExecute } from '../../migrations/engine.js';
import { MigrationError, MigrationErrorCode } from '../../migrations/errors.js';
import { parseTarget } from '../../migrations/target.js';
import { observerOf, poll, type ReconcileResult } from '../context.js';
import { setFinalizer } from '../finalizer.js';
import { lockHolders, type Waited } from '../lock-holders.js';
import { engineOptions, writeStatus, type Run, type StepResult } from '../run.js';
import { progressing, summarise } from '../summary.js';
import { failRun } from './fail.js';
import { describeWorkload, releaseWorkload, workloadRecord } from './workload.js';

/** Backoff between attempts of the migrate step: doubling from this, up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** PostgreSQL's lock_not_available: a statement gave up waiting for a lock after lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';

/** What the migrate step waits on, if the error is one it outlasts: a held lock or a lost connection. */
function waitingOn(err: MigrationError): { reason: string; waited?: Waited } | undefined {
  if (err.code === MigrationErrorCode.MigrationLocked)
    return { reason: Reason.WaitingForLock, waited: 'migration lock' };
  if (err.code === MigrationErrorCode.DatabaseUnreachable) return { reason: Reason.DatabaseUnreachable };
  const sqlState = (err.cause as { code?: unknown } | undefined)?.code;
  if (err.code === MigrationErrorCode.MigrationFailed && sqlState === LOCK_NOT_AVAILABLE)
    return { reason: Reason.WaitingForLock, waited: 'table lock' };
  return undefined;
}

/** The plan recorded in status, with the inputs the engine plans again from under its lock. */
function recordedPlan(run: Run): PlanToExecute {
  const { plan } = run;
  return {
    hash: plan.hash,
    destructive: plan.destructive,
    ...(plan.from === undefined ? {} : { from: plan.from }),
    direction: plan.direction === 'Up' ? 'up' : 'down',
    migrations: plan.migrations.map((revision) => ({ revision })),
    inputs: { source: run.inputs.source, target: parseTarget(plan.to ?? 'base'), stamp: false },
  };
}

/**
 * The plan in status is no longer what the engine would run (a file edited, the database moved): this run ends
 * without SQL, the workload gets its replicas back, and the next reconcile starts a new run from the beginning
 * (a new plan in status, a new approval where the policy asks, a new backup).
 */
async function endChangedPlan(run: Run, message: string): Promise<StepResult> {
  run.log.warn({ hash: run.plan.hash }, 'plan changed; the run ends without SQL');
  observerOf(run.ctx).event(run.object, 'Warning', Reason.PlanChanged, message);
  const record = workloadRecord(run.object, run.spec.workload);
  if (record) await releaseWorkload(run.ctx.kube, run.object.metadata.namespace, record);
  await writeStatus(run, (o) => ({
    ...summarise(
      o,
      progressing(Phase.Pending, Reason.PlanChanged, `${message}; planning again`),
      run.ctx.now(),
    ),
    plan: null,
    workload: null,
  }));
  run.object = await setFinalizer(run.ctx.kube, run.object, false);
  return poll;
}

/** Says what the step waits on: who holds the lock, or why the database cannot be reached. */
async function describeWait(run: Run, err: MigrationError, waited: Waited | undefined): Promise<string> {
  if (waited === undefined) return `the database is unreachable: ${err.message}`;
  const pids = await lockHolders(run.inputs.databaseUrl, waited);
  const holders = pids.length === 0 ? 'another session' : `pid ${pids.join(', pid ')}`;
  return waited === 'migration lock'
    ? `the migration lock is held by ${holders} (another migration of this database)`
    : `a table lock is held by ${holders}; ${err.message}`;
}

/**
 * A held lock or a lost connection: try again with backoff until timeouts.migration, counted from the start of
 * the migrate step; then the run fails and policy.onFailure applies. Status says what it waits on.
 */
export async function waitAndRetry(run: Run, err: MigrationError): Promise<StepResult> {
  const waiting = waitingOn(err);
  if (!waiting) return failRun(run, err.code, err.message, { cause: err });
  const now = run.ctx.now();
  const plan = run.object.status?.plan ?? run.plan;
  const started = Date.parse(plan.migrationStartedAt ?? kubeTimestamp(now));
  const attempt = (plan.migrationAttempts ?? 0) + 1;
  const what = await describeWait(run, err, waiting.waited);
  const left = started + run.timeouts.migration - now.getTime();
  if (left <= 0) {
    const message = `gave up after ${attempt} attempt(s) in ${run.spec.timeouts.migration} (timeouts.migration, from the start of the migrate step): ${what}`;
    return failRun(run, Reason.MigrationTimedOut, message, { cause: err });
  }
  const delay = Math.max(100, Math.min(FIRST_BACKOFF_MS * 2 ** (attempt - 1), MAX_BACKOFF_MS, left));
  const migrationRetryAt = new Date(now.getTime() + delay).toISOString();
  const message = `waiting: ${what} (attempt ${attempt}, next in ${Math.ceil(delay / 1000)}s; gives up ${run.spec.timeouts.migration} after the migrate step began)`;
  run.log.info({ attempt, delayMs: delay, reason: waiting.reason }, 'migrate step waits');
  await writeStatus(run, (o) => ({
    ...summarise(o, progressing(Phase.Migrating, waiting.reason, message), now),
    ...(o.status?.plan ? { plan: { ...o.status.plan, migrationAttempts: attempt, migrationRetryAt } } : {}),
  }));
  return { requeueAfterMs: delay };
}

/** While a retry of the migrate step is due later, nothing is done (a status write wakes the queue early). */
export function retryNotDue(run: Run): ReconcileResult | undefined {
  const at = run.object.status?.plan?.migrationRetryAt;
  const wait = at === undefined ? 0 : Date.parse(at) - run.ctx.now().getTime();
  return wait > 0 ? { requeueAfterMs: wait } : undefined;
}

/** Where the database is, for a run whose migrate step began; waits like the step when it cannot be reached. */
export async function databaseBehind(run: Run): Promise<boolean | StepResult> {
  const target = run.plan.to ?? 'base';
  const migrated = run.object.status?.conditions?.find((c) => c.type === ConditionType.Migrated);
  if (migrated?.status === ConditionStatus.True && run.object.status?.currentRevision === target)
    return false;
  if (!run.plan.migrationStartedAt) return true;
  try {
    run.databaseAt = await currentRevision(engineOptions(run.spec, run.inputs.databaseUrl, run.log));
    return run.databaseAt !== target;
  } catch (err) {
    if (err instanceof MigrationError) return waitAndRetry(run, err);
    throw err;
  }
}

/**
 * Migrated=True. With a workload to give back, the same write starts the restore (its time and
 * RestoringWorkload), so the step after it scales back up without a write of its own.
 */
async function migrated(run: Run, target: string): Promise<StepResult> {
  const now = run.ctx.now();
  const record = workloadRecord(run.object, run.spec.workload);
  const restoring = record !== undefined && !run.object.status?.plan?.restoreStartedAt;
  const summary = restoring
    ? progressing(
        Phase.RestoringWorkload,
        Reason.RestoringWorkload,
        `the database is at ${target}; restoring ${describeWorkload(record, run.object.metadata.namespace)} to ${record.originalReplicas} replicas`,
      )
    : progressing(Phase.Migrating, Reason.MigrationSucceeded, `the database is at ${target}`);
  await writeStatus(run, (o) => ({
    ...summarise(o, summary, now, [
      {
        type: ConditionType.Migrated,
        status: ConditionStatus.True,
        reason: Reason.MigrationSucceeded,
        message: `at ${target}`,
      },
    ]),
    currentRevision: target,
    ...(restoring && o.status?.plan
      ? { plan: { ...o.status.plan, restoreStartedAt: o.status.plan.restoreStartedAt ?? now.toISOString() } }
      : {}),
  }));
  return 'continue';
}

/**
 * Runs the plan on one database session. A retry (the step began before) first looks whether the database is
 * at the target already (a restart after the commit), unless this reconcile read it; a first attempt does not:
 * the engine reads the database under its lock and refuses a plan that no longer applies.
 */
async function execute(run: Run): Promise<void> {
  const options = engineOptions(run.spec, run.inputs.databaseUrl, run.log);
  const target = run.plan.to ?? 'base';
  const began = run.object.status?.plan?.migrationStartedAt !== undefined;
  const at = began ? (run.databaseAt ?? (await currentRevision(options))) : undefined;
  if (at === target) return;
  const rollingBack = run.plan.direction === 'Down';
  const message = migratingMessage(run);
  await recordStart(run, message);
  observerOf(run.ctx).event(run.object, 'Normal', 'Migrating', message);
  const started = Date.now();
  const result = await executePlan(options, recordedPlan(run));
  run.log.info({ revision: target }, rollingBack ? 'rolled back' : 'migrated');
  const count = result.plan.migrations.length;
  observerOf(run.ctx).migrated(rollingBack ? 'Down' : 'Up', count, (Date.now() - started) / 1000);
  const done = `${count} migration(s); the database is at ${target}`;
  observerOf(run.ctx).event(run.object, 'Normal', rollingBack ? 'RolledBack' : 'Migrated', done);
}

function migratingMessage(run: Run): string {
  const verb = run.plan.direction === 'Down' ? 'rolling back' : 'applying';
  return `${verb} ${run.plan.migrations.length} migration(s) to ${run.plan.to ?? 'base'}`;
}

/** Before any SQL: the step's start (timeouts.migration counts from the first) and Migrating, in one write. */
async function recordStart(run: Run, message: string): Promise<void> {
  const now = run.ctx.now();
  const reason = run.plan.direction === 'Down' ? Reason.RollingBack : Reason.Migrating;
  const migrationStartedAt = kubeTimestamp(now);
  await writeStatus(run, (o) => ({
    ...summarise(o, progressing(Phase.Migrating, reason, message), now),
    ...(o.status?.plan && !o.status.plan.migrationStartedAt
      ? { plan: { ...o.status.plan, migrationStartedAt } }
      : {}),
  }));
}

/** Whether the database is at the run's target now (false when it cannot be read). */
async function reachedTarget(run: Run): Promise<boolean> {
  const options = engineOptions(run.spec, run.inputs.databaseUrl, run.log);
  return (await currentRevision(options).catch(() => undefined)) === (run.plan.to ?? 'base');
}

/** A failed migrate step: waited out, or the run fails saying where the database is and whether it changed. */
function migrationFailed(run: Run, err: MigrationError): Promise<StepResult> {
  if (waitingOn(err)) return waitAndRetry(run, err);
  const at =
    err.revision === undefined || err.message.includes('the database is at')
      ? ''
      : `; the database is at ${err.revision}`;
  const from = run.plan.from ?? 'base';
  const databaseChanged = err.halfApplied.length > 0 || (err.revision !== undefined && err.revision !== from);
  return failRun(run, err.code, `${err.message}${at}`, {
    cause: err,
    databaseChanged,
    ...(err.revision !== undefined ? { revision: err.revision } : {}),
  });
}

/** Executes the plan recorded in status with the engine, which refuses (PlanChanged) if it is not what would run. */
export async function migrate(run: Run): Promise<StepResult> {
  try {
    await execute(run);
  } catch (err) {
    if (!(err instanceof MigrationError)) throw err;
    if (err.code === MigrationErrorCode.PlanChanged) {
      // The lock was held by a leader that lost its lease mid-migration: its commit of this plan is this run's.
      if (await reachedTarget(run)) return migrated(run, run.plan.to ?? 'base');
      return endChangedPlan(run, err.message);
    }
    return migrationFailed(run, err);
  }
  return migrated(run, run.plan.to ?? 'base');
}
