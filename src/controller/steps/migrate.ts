import { ConditionStatus, ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import { Phase } from '../../api/v1alpha1/phases.js';
import { currentRevision, migrateToTarget } from '../../migrations/engine.js';
import { MigrationError, MigrationErrorCode } from '../../migrations/errors.js';
import { parseTarget } from '../../migrations/target.js';
import { observerOf, TransientError } from '../context.js';
import { engineOptions, elapsedMs, writeStatus, type Run, type StepResult } from '../run.js';
import { progressing, summarise } from '../summary.js';
import { failRun } from './fail.js';

/** A lock held elsewhere or a lost connection is retried, until timeouts.migration runs out. */
function isRetryable(err: MigrationError): boolean {
  return (
    err.code === MigrationErrorCode.MigrationLocked || err.code === MigrationErrorCode.DatabaseUnreachable
  );
}

/** Applies or rolls back the plan with the engine: one transaction, the database left whole on failure. */
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
      const result = await migrateToTarget(options, run.inputs.source, parseTarget(target));
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
    if (isRetryable(err) && elapsedMs(run) < run.timeouts.migration) {
      throw new TransientError(err.code, err.message, { cause: err });
    }
    const at = err.revision === undefined ? '' : `; the database is at ${err.revision}`;
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
