import { ConditionStatus, ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import { currentRevision, executePlan, type PlanToExecute } from '../../migrations/engine.js';
import { MigrationError, MigrationErrorCode } from '../../migrations/errors.js';
import { parseTarget } from '../../migrations/target.js';
import { observerOf, poll, TransientError } from '../context.js';
import { setFinalizer } from '../finalizer.js';
import { engineOptions, elapsedMs, writeStatus, type Run, type StepResult } from '../run.js';
import { progressing, summarise } from '../summary.js';
import { failRun } from './fail.js';
import { releaseWorkload } from './workload.js';

/** A lock held elsewhere or a lost connection is retried, until timeouts.migration runs out. */
function isRetryable(err: MigrationError): boolean {
  return (
    err.code === MigrationErrorCode.MigrationLocked || err.code === MigrationErrorCode.DatabaseUnreachable
  );
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
  const original = run.object.status?.workload?.originalReplicas;
  if (run.spec.workload && original !== undefined)
    await releaseWorkload(run.ctx.kube, run.object.metadata.namespace, run.spec.workload, original);
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

/** Executes the plan recorded in status with the engine, which refuses (PlanChanged) if it is not what would run. */
export async function migrate(run: Run): Promise<StepResult> {
  const options = engineOptions(run.spec, run.inputs.databaseUrl, run.log);
  const target = run.plan.to ?? 'base';
  const now = run.ctx.now();
  const rollingBack = run.plan.direction === 'Down';
  try {
    if ((await currentRevision(options)) !== target) {
      const verb = rollingBack ? 'rolling back' : 'applying';
      const message = `${verb} ${run.plan.migrations.length} migration(s) to ${target}`;
      await writeStatus(run, (o) =>
        summarise(
          o,
          progressing(Phase.Migrating, rollingBack ? Reason.RollingBack : Reason.Migrating, message),
          now,
        ),
      );
      observerOf(run.ctx).event(run.object, 'Normal', 'Migrating', message);
      const started = Date.now();
      const result = await executePlan(options, recordedPlan(run));
      run.log.info({ revision: target }, rollingBack ? 'rolled back' : 'migrated');
      observerOf(run.ctx).migrated(
        run.plan.direction,
        result.plan.migrations.length,
        (Date.now() - started) / 1000,
      );
      const done = `${result.plan.migrations.length} migration(s); the database is at ${target}`;
      observerOf(run.ctx).event(run.object, 'Normal', rollingBack ? 'RolledBack' : 'Migrated', done);
    }
  } catch (err) {
    if (!(err instanceof MigrationError)) throw err;
    if (err.code === MigrationErrorCode.PlanChanged) return endChangedPlan(run, err.message);
    if (isRetryable(err) && elapsedMs(run) < run.timeouts.migration) {
      throw new TransientError(err.code, err.message, { cause: err });
    }
    const at =
      err.revision === undefined || err.message.includes('the database is at')
        ? ''
        : `; the database is at ${err.revision}`;
    return failRun(run, err.code, `${err.message}${at}`);
  }
  await writeStatus(run, (o) => ({
    ...summarise(
      o,
      progressing(Phase.Migrating, Reason.MigrationSucceeded, `the database is at ${target}`),
      now,
      [
        {
          type: ConditionType.Migrated,
          status: ConditionStatus.True,
          reason: Reason.MigrationSucceeded,
          message: `at ${target}`,
        },
      ],
    ),
    currentRevision: target,
  }));
  return 'continue';
}
