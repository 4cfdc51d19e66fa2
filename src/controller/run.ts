import type { Logger } from 'pino';
import type { SchemaMigrationSpec } from '../api/v1alpha1/spec.js';
import { timeoutsInMilliseconds } from '../api/v1alpha1/spec.js';
import type { Plan } from '../api/v1alpha1/status.js';
import type { StoredSchemaMigration } from '../kube/types.js';
import type { EngineOptions } from '../migrations/engine.js';
import { patchStatus, type StatusChanges } from '../status/patch.js';
import { NotLeadingError, refOf, type ReconcileContext, type ReconcileResult } from './context.js';
import type { Inputs } from './inputs.js';

/** One run under way: the object as last seen, its validated spec, the plan in status, and the inputs. */
export interface Run {
  readonly ctx: ReconcileContext;
  object: StoredSchemaMigration;
  readonly spec: SchemaMigrationSpec;
  readonly plan: Plan;
  readonly inputs: Inputs;
  readonly timeouts: Record<keyof SchemaMigrationSpec['timeouts'], number>;
  readonly log: Logger;
  /** The database's revision as this reconcile read it, so that a step does not read it again. */
  databaseAt?: string;
}

/** A step either stops the reconcile (wait, requeue) or lets the next step go on. */
export type StepResult = ReconcileResult | 'continue';

export function engineOptions(spec: SchemaMigrationSpec, databaseUrl: string, log: Logger): EngineOptions {
  const timeouts = timeoutsInMilliseconds(spec.timeouts);
  return {
    databaseUrl,
    migrationsTable: spec.database.migrationsTable,
    schema: spec.database.migrationsSchema,
    waitForLock: true,
    lockTimeoutMs: timeouts.lock,
    statementTimeoutMs: timeouts.statement,
    logger: log,
  };
}

/** Writes status changes computed from the freshest object and keeps the run's view of it current. */
export async function writeStatus(
  run: { ctx: ReconcileContext; object: StoredSchemaMigration },
  compute: (current: StoredSchemaMigration) => StatusChanges,
): Promise<void> {
  if (run.ctx.isLeading?.() === false) throw new NotLeadingError();
  const updated = await patchStatus(run.ctx.kube, refOf(run.object), compute, run.object);
  if (updated) run.object = updated;
}

/** Milliseconds since the run started acting. */
export function elapsedMs(run: Run): number {
  const started = run.plan.startedAt ? Date.parse(run.plan.startedAt) : run.ctx.now().getTime();
  return run.ctx.now().getTime() - started;
}
